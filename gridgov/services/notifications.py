"""The user's side of notifications: count unread, mark read, set channel preferences."""
from __future__ import annotations

from sqlalchemy import func, select, update

from gridgov.errors import AppError
from gridgov.extensions import db
from gridgov.models import Notification, NotificationPreference, User
from gridgov.models.prefs import CHANNELS
from gridgov.notify.quiet import parse_hhmm
from gridgov.timeutil import utcnow


def inbox(user: User, *, limit: int = 100) -> list[Notification]:
    return list(db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.channel == "inapp")
        .order_by(Notification.id.desc()).limit(limit)
    ))


def unread_count(user: User) -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.channel == "inapp", Notification.read_at.is_(None))) or 0


def mark_read(user: User, ids: list[int] | None = None) -> int:
    """Mark the given (or all) of the user's in-app notifications read; someone else's ids are ignored."""
    statement = update(Notification).where(Notification.user_id == user.id, Notification.channel == "inapp",
                                           Notification.read_at.is_(None))
    if ids is not None:
        statement = statement.where(Notification.id.in_(ids))
    count = db.session.execute(statement.values(read_at=utcnow())).rowcount
    db.session.commit()
    return count


def set_preferences(user: User, *, channels: list[str], quiet_start: str | None = None,
                    quiet_end: str | None = None) -> NotificationPreference:
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise AppError(f"未知通知渠道：{', '.join(unknown)}", f"Unknown channel: {', '.join(unknown)}")
    try:
        parse_hhmm(quiet_start), parse_hhmm(quiet_end)
    except ValueError as exc:
        raise AppError("免打扰时间格式应为 HH:MM", "Quiet hours must look like HH:MM") from exc
    pref = db.session.get(NotificationPreference, user.id) or NotificationPreference(user_id=user.id)
    pref.channels = sorted(set(channels) | {"inapp"}, key=CHANNELS.index)  # in-app cannot be switched off
    pref.quiet_start, pref.quiet_end = quiet_start or None, quiet_end or None
    db.session.add(pref)
    db.session.commit()
    return pref
