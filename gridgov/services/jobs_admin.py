"""Admin use cases on background work: list stuck outbox rows, give one another chance, re-run a failed rq job.
Each re-run is an admin audit row (`job.rerun`)."""
from __future__ import annotations

from sqlalchemy import select

from gridgov.errors import NotFound
from gridgov.extensions import db
from gridgov.jobs import outbox
from gridgov.models import OutboxMessage
from gridgov.services import admin_audit


def stuck_outbox_rows(limit: int = 100) -> list[OutboxMessage]:
    """Unsent rows that have failed at least once (inline errors, or Redis was down)."""
    return list(db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.sent_at.is_(None), OutboxMessage.last_error != "")
        .order_by(OutboxMessage.id).limit(limit)
    ))


def retry_outbox_row(outbox_id: int, *, actor=None) -> OutboxMessage:
    """Reset the attempt count so the relay (run right after this commit) tries the row again."""
    message = db.session.get(OutboxMessage, outbox_id)
    if message is None or message.sent_at is not None:
        raise NotFound("找不到待发送的记录", "No unsent outbox row with this id")
    admin_audit.record("job.rerun", actor=actor, target_type="outbox", target_id=message.id,
                       data={"kind": message.kind, "attempts": message.attempts})
    message.attempts = 0
    outbox.note_pending()
    db.session.commit()
    return message


def requeue_failed_job(registry, job_id: str, *, actor=None) -> None:
    """Put a failed rq job back on its queue, then record it. The job lives in Redis, not in this
    database, so the two cannot share a transaction: the audit row follows a requeue that happened,
    and a requeue that fails (no such job) writes nothing."""
    registry.requeue(job_id)
    admin_audit.record("job.rerun", actor=actor, target_type="rq_job", target_id=job_id,
                       data={"queue": registry.name})
    db.session.commit()
