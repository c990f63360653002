"""Admin use cases on background work: list stuck outbox rows, give one another chance."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from gridgov.errors import NotFound
from gridgov.extensions import db
from gridgov.jobs import outbox
from gridgov.models import OutboxMessage


def stuck_outbox_rows(limit: int = 100) -> list[OutboxMessage]:
    """Unsent rows that have failed at least once (inline errors, or Redis was down)."""
    return list(db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.sent_at.is_(None), OutboxMessage.last_error != "")
        .order_by(OutboxMessage.id).limit(limit)
    ))


def retry_outbox_row(outbox_id: int) -> OutboxMessage:
    """Reset the attempt count so the relay (run right after this commit) tries the row again."""
    message = db.session.get(OutboxMessage, outbox_id)
    if message is None or message.sent_at is not None:
        raise NotFound("找不到待发送的记录", "No unsent outbox row with this id")
    message.attempts = 0
    outbox.note_pending()
    db.session.commit()
    return message
