"""The relay: committed outbox rows → rq jobs (REDIS_URL set) or inline handler runs (unset).

Redis mode claims a batch with `UPDATE … SET sent_at WHERE id IN (SELECT … SKIP LOCKED) RETURNING id` in a
short transaction, enqueues one rq job per row (job id from the outbox id) in one pipeline, then commits;
if Redis fails the transaction rolls back and the rows wait. Two relays never enqueue the same row:
the second UPDATE finds sent_at already set. Inline mode runs each row's handler in its own app
context (its own session), then marks it sent, or counts the attempt and keeps the error.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import redis
from flask import Flask
from sqlalchemy import select, update

from gridgov.extensions import db
from gridgov.jobs import queueing, tasks
from gridgov.models import OutboxMessage
from gridgov.timeutil import utcnow

log = logging.getLogger(__name__)
BATCH = 500
MAX_ROUNDS = 100  # a bound, so a handler that keeps adding rows cannot keep one commit busy forever

_inline_lock = threading.Lock()
_local = threading.local()


@dataclass
class RelayResult:
    mode: str
    sent: int = 0
    failed: int = 0
    waiting: bool = False
    error: str = ""


def relay_pending(app: Flask) -> RelayResult:
    """Send every committed, unsent outbox row. Safe to call from anywhere, any number of times."""
    if getattr(_local, "active", False):
        return RelayResult(mode="nested")  # a handler's own commit: the outer loop picks its rows up
    _local.active = True
    try:
        if app.config.get("REDIS_URL"):
            return _enqueue_pending(app)
        return _run_inline(app)
    finally:
        _local.active = False


def _enqueue_pending(app: Flask) -> RelayResult:
    url = app.config["REDIS_URL"]
    result = RelayResult(mode="rq")
    if queueing.is_backing_off(url):
        result.waiting = True
        return result
    queue = queueing.queue_for(app)
    retry = queueing.retry_policy(app)
    for _ in range(MAX_ROUNDS):
        with app.app_context():
            session = db.session
            # One statement claims the batch; SKIP LOCKED (PostgreSQL) lets two relays claim
            # different rows instead of queueing behind each other's lock — it runs after every report.
            pending = (select(OutboxMessage.id).where(OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id)
                       .limit(BATCH).with_for_update(skip_locked=True))
            claimed = list(session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(pending.scalar_subquery()), OutboxMessage.sent_at.is_(None))
                .values(sent_at=utcnow(), attempts=OutboxMessage.attempts + 1, last_error="")
                .returning(OutboxMessage.id)
            ))
            if not claimed:
                session.rollback()
                break
            try:
                enqueue_rows(queue, claimed, retry)
            except redis.RedisError as exc:
                session.rollback()
                queueing.note_down(url)
                result.waiting, result.error = True, f"{type(exc).__name__}: {exc}"
                log.warning("outbox: Redis unavailable, %d rows wait (%s)", len(claimed), exc)
                _record_error(claimed, result.error)
                break
            session.commit()
            queueing.note_up(url)
            result.sent += len(claimed)
            if len(claimed) < BATCH:
                break  # rows committed meanwhile are relayed by their own commit's hook
    return result


def enqueue_rows(queue, outbox_ids: list[int], retry) -> None:
    """One rq job per outbox row (job id from the row), in one Redis pipeline; raises RedisError."""
    with queue.connection.pipeline() as pipe:
        queue.enqueue_many([
            queue.prepare_data(tasks.run_outbox_message, args=(outbox_id,),
                               job_id=queueing.job_id_for(outbox_id, queue.name), retry=retry,
                               description=f"outbox {outbox_id}")
            for outbox_id in outbox_ids
        ], pipeline=pipe)
        pipe.execute()


def _record_error(ids: list[int], error: str) -> None:
    try:
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                           .values(last_error=error[:1000]))
        db.session.commit()
    except Exception:  # the error note is best effort; the rows wait either way
        db.session.rollback()


def _run_inline(app: Flask) -> RelayResult:
    result = RelayResult(mode="inline")
    max_attempts = app.config["OUTBOX_MAX_INLINE_ATTEMPTS"]
    after_id = 0  # each row is tried once per relay call; rows its handlers add have higher ids
    with _inline_lock:
        for _ in range(MAX_ROUNDS):
            with app.app_context():
                ids = list(db.session.scalars(
                    select(OutboxMessage.id)
                    .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < max_attempts,
                           OutboxMessage.id > after_id)
                    .order_by(OutboxMessage.id).limit(BATCH)
                ))
            if not ids:
                break
            after_id = ids[-1]
            for outbox_id in ids:
                error = ""
                with app.app_context():
                    try:
                        tasks.execute(outbox_id)
                    except Exception as exc:  # a failing handler must not fail the request that committed
                        db.session.rollback()
                        error = f"{type(exc).__name__}: {exc}"
                        log.exception("outbox %s failed inline", outbox_id)
                with app.app_context():
                    values = {"attempts": OutboxMessage.attempts + 1}
                    values.update({"last_error": error[:1000]} if error else {"sent_at": utcnow()})
                    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id,
                                                                   OutboxMessage.sent_at.is_(None)).values(**values))
                    db.session.commit()
                if error:
                    result.failed += 1
                else:
                    result.sent += 1
    return result
