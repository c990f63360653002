"""The tamper-evident event log: append a hash-chained row, and verify every chain."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func

from gridgov.extensions import db
from gridgov.models import Event, EventLog
from gridgov.timeutil import as_aware_utc, utcnow
from workflows.audit import GENESIS, chain_hash


def log_record(row: EventLog) -> dict:
    """The fields the hash covers: everything but the hashes themselves and the surrogate id."""
    return {
        "event_id": row.event_id,
        "seq": row.seq,
        "action": row.action,
        "from_state": row.from_state,
        "to_state": row.to_state,
        "actor_id": row.actor_id,
        "actor_role": row.actor_role,
        "at": as_aware_utc(row.at),  # stored naive UTC; the hash covers the instant, not the encoding
        "comment": row.comment or "",
        "data": row.data or {},
    }


def append_log(event: Event, *, action: str, from_state: str | None, to_state: str, actor=None,
               comment: str = "", data: dict | None = None, at=None, first: bool = False) -> EventLog:
    """Add the event's next log row to the session, chained to the previous one.

    `first=True` is for the row of an event inserted in this same transaction: it has no log yet,
    so the read of the previous row is skipped (one statement less on every report).

    Two writers on one event cannot both append: the (event_id, seq) unique constraint and the
    event's version check make the loser's transaction fail as a whole.
    """
    last = None if first else db.session.execute(
        db.select(EventLog.seq, EventLog.hash).where(EventLog.event_id == event.id)
        .order_by(EventLog.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS)
    row = EventLog(
        event_id=event.id, seq=seq, action=action, from_state=from_state, to_state=to_state,
        actor_id=getattr(actor, "id", None), actor_role=getattr(actor, "role", None) or "system",
        at=(at or utcnow()).replace(microsecond=0), comment=comment or "", data=data or {},
        prev_hash=prev_hash,
    )
    row.hash = chain_hash(prev_hash, log_record(row))
    db.session.add(row)
    return row


@dataclass
class ChainBreak:
    event_id: int
    seq: int
    log_id: int
    reason: str


def verify_all(batch_size: int = 5000) -> tuple[int, ChainBreak | None]:
    """Walk every chain in (event, seq) order; return rows checked and the first break, if any."""
    checked = 0
    current_event, expected_prev, expected_seq = None, GENESIS, 1
    query = db.select(EventLog).order_by(EventLog.event_id, EventLog.seq).execution_options(yield_per=batch_size)
    for row in db.session.scalars(query):
        if row.event_id != current_event:
            current_event, expected_prev, expected_seq = row.event_id, GENESIS, 1
        checked += 1
        if row.seq != expected_seq:
            return checked, ChainBreak(row.event_id, row.seq, row.id, f"sequence gap: expected {expected_seq}")
        if row.prev_hash != expected_prev:
            return checked, ChainBreak(row.event_id, row.seq, row.id, "prev_hash does not match the previous row")
        if chain_hash(row.prev_hash, log_record(row)) != row.hash:
            return checked, ChainBreak(row.event_id, row.seq, row.id, "hash does not match the row's content")
        expected_prev, expected_seq = row.hash, expected_seq + 1
    return checked, None


def log_count() -> int:
    return db.session.scalar(db.select(func.count()).select_from(EventLog)) or 0
