"""Create notifications once and deliver them per channel, honouring preferences and quiet hours.

Idempotence: every Notification carries a dedupe key (the job's key + user + channel) that is unique
in the table; rows are inserted with INSERT … ON CONFLICT DO NOTHING, so a job that runs twice — or
two workers racing on PostgreSQL or SQLite — leaves one row per user and channel.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time

from flask import current_app
from sqlalchemy import select

from gridgov.extensions import db
from gridgov.jobs import dialect
from gridgov.models import Event, Notification, NotificationPreference, User
from gridgov.models.prefs import DEFAULT_CHANNELS
from gridgov.notify import messages
from gridgov.notify.channels import configured_channels
from gridgov.notify.quiet import in_quiet_hours
from gridgov.timeutil import to_local, utcnow

log = logging.getLogger(__name__)

# Test-only: seconds to sleep after the notifications are committed and before the job returns, so a
# test can kill the worker between the side effect and the acknowledgement. Unset in real use.
PAUSE_ENV = "GRIDGOV_TEST_PAUSE_AFTER_NOTIFY"


def notification_key(base: str, user_id: int, channel: str) -> str:
    key = f"{base}|u{user_id}|{channel}"
    return key if len(key) <= 200 else "h:" + hashlib.sha256(key.encode()).hexdigest()


def preferences(user_ids: list[int]) -> dict[int, NotificationPreference]:
    if not user_ids:
        return {}
    rows = db.session.scalars(select(NotificationPreference).where(NotificationPreference.user_id.in_(user_ids)))
    return {row.user_id: row for row in rows}


def notify_users(users: list[User], *, key: str, topic: str, event: Event | None,
                 title: str | None = None) -> int:
    """Record one notification per user and wanted channel, then deliver what may go out now.

    Returns how many rows this call created (0 on a re-run).
    """
    now = utcnow()
    channels = configured_channels(current_app.config)
    prefs = preferences([u.id for u in users])
    rows = []
    for user in users:
        wanted = prefs[user.id].channels if user.id in prefs else list(DEFAULT_CHANNELS)
        for name in wanted:
            channel = channels.get(name)
            if channel is None or not channel.reaches(user):
                continue
            text, body = messages.render(topic, event, user.locale, title=title)
            rows.append({
                "user_id": user.id, "event_id": event.id if event else None, "kind": topic,
                "channel": name, "title": text, "body": body,
                "dedupe_key": notification_key(key, user.id, name), "created_at": now,
                "delivered_at": now if name == "inapp" else None,
            })
    created = 0
    if rows:
        statement = dialect.insert_ignoring_duplicates(dialect.name(db.session), Notification.__table__)
        result = db.session.execute(statement.values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"]),
                                    execution_options={"preserve_rowcount": True})
        created = max(result.rowcount or 0, 0)
    db.session.commit()
    _test_pause()
    deliver_external([r["dedupe_key"] for r in rows if r["channel"] != "inapp"])
    return created


def deliver_external(keys: list[str] | None = None, *, limit: int = 500) -> int:
    """Send undelivered e-mail/SMS notifications (all of them when keys is None) unless quiet hours hold.

    Each row is claimed before it is sent: locked (FOR UPDATE SKIP LOCKED on PostgreSQL) and checked
    still undelivered, then sent and marked in that transaction. So the job that made the rows and
    the periodic pass sweeping up "all undelivered" never both send one message; a row another process
    is sending right now is skipped, and its lock goes with that process if it dies.
    A channel error propagates after the rows already sent are recorded, so the job fails, rq retries
    it, and only what is still undelivered goes out again.
    """
    query = (select(Notification).where(Notification.delivered_at.is_(None), Notification.channel != "inapp")
             .order_by(Notification.id).limit(limit))
    if keys is not None:
        if not keys:
            return 0
        query = query.where(Notification.dedupe_key.in_(keys))
    pending = list(db.session.scalars(query))
    if not pending:
        return 0
    channels = configured_channels(current_app.config)
    prefs = preferences(sorted({n.user_id for n in pending}))
    local_now = to_local(utcnow(), current_app.config["GRIDGOV_TIMEZONE"])
    candidates = [(n.id, n.user_id, n.channel) for n in pending]
    db.session.rollback()  # end the read: each row is claimed in its own short transaction below
    sent = 0
    for notification_id, user_id, channel_name in candidates:
        pref = prefs.get(user_id)
        if pref and in_quiet_hours(pref.quiet_start, pref.quiet_end, local_now):
            continue  # waits for the periodic pass after the quiet hours end
        channel = channels.get(channel_name)
        user = db.session.get(User, user_id)
        if channel is None or user is None or not channel.reaches(user):
            continue
        notification = _claim(notification_id)
        if notification is None:
            db.session.rollback()
            continue  # delivered meanwhile, or being delivered by another process right now
        channel.deliver(notification, user)
        notification.delivered_at = utcnow()
        db.session.commit()
        sent += 1
    return sent


def _claim(notification_id: int) -> Notification | None:
    return db.session.scalar(
        select(Notification)
        .where(Notification.id == notification_id, Notification.delivered_at.is_(None))
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True))


def _test_pause() -> None:
    seconds = os.environ.get(PAUSE_ENV)
    if seconds:
        time.sleep(float(seconds))
