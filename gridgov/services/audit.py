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
               comment: str = "", data: dict | None = None, at=None, first: bool = False,
               add=None) -> EventLog:
    """Add the event's next log row to the session (or pass it to `add`), chained to the head the
    event row carries.

    The new head is set on the event, so it reaches the database in the same UPDATE as the action's
    state change and appending costs no read. The exception is the report row (`first=True`): it is
    written in the transaction that INSERTs the event and needs its id, so recording the head would
    cost a second UPDATE of a row just inserted; the head stays 0 and the next append reads the log
    once instead.

    Two writers on one event cannot both append: the event's version check and the (event_id, seq)
    unique constraint make the loser's transaction fail as a whole.
    """
    if first:
        seq, prev_hash = 1, GENESIS
    else:
        seq, prev_hash = (event.log_seq + 1, event.log_hash) if event.log_seq else _head_from_log(event)
    row = EventLog(
        event_id=event.id, seq=seq, action=action, from_state=from_state, to_state=to_state,
        actor_id=getattr(actor, "id", None), actor_role=getattr(actor, "role", None) or "system",
        at=(at or utcnow()).replace(microsecond=0), comment=comment or "", data=data or {},
        prev_hash=prev_hash,
    )
    row.hash = chain_hash(prev_hash, log_record(row))
    if not first:
        event.log_seq, event.log_hash = seq, row.hash
    (add or db.session.add)(row)
    return row


def _head_from_log(event: Event) -> tuple[int, str]:
    """(next seq, previous hash) read from the chain itself, for an event whose head is not recorded."""
    with db.session.no_autoflush:  # the event's pending changes go out in one UPDATE, later
        last = db.session.execute(
            db.select(EventLog.seq, EventLog.hash).where(EventLog.event_id == event.id)
            .order_by(EventLog.seq.desc()).limit(1)
        ).first()
    return (last.seq + 1, last.hash) if last else (1, GENESIS)


@dataclass
class ChainBreak:
    event_id: int
    seq: int
    log_id: int
    reason: str


def verify_all(batch_size: int = 5000) -> tuple[int, ChainBreak | None]:
    """Walk every chain in (event, seq) order, then check each event's head against its chain's end;
    return rows checked and the first break, if any."""
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
    return checked, _first_head_mismatch()


def _first_head_mismatch() -> ChainBreak | None:
    """An event whose stored head is not its chain's last row: rows were cut from (or added to) the
    end of the chain behind the app's back."""
    last = (db.select(EventLog.event_id, func.max(EventLog.seq).label("seq"))
            .group_by(EventLog.event_id).subquery())
    tail = db.aliased(EventLog)
    row = db.session.execute(
        db.select(Event.id, Event.log_seq, last.c.seq, tail.id, tail.hash, Event.log_hash)
        .outerjoin(last, last.c.event_id == Event.id)
        .outerjoin(tail, (tail.event_id == Event.id) & (tail.seq == last.c.seq))
        # log_seq 0: only the report row may exist (see append_log); otherwise head == last row.
        .where(((Event.log_seq == 0) & (func.coalesce(last.c.seq, 0) > 1))
               | ((Event.log_seq > 0) & ((Event.log_seq != func.coalesce(last.c.seq, 0))
                                         | (tail.hash != Event.log_hash) | tail.hash.is_(None))))
        .order_by(Event.id).limit(1)
    ).first()
    if row is None:
        return None
    return ChainBreak(row[0], row[2] or 0, row[3] or 0,
                      f"the event's log head (seq {row[1]}) does not match the last row of its chain "
                      f"(seq {row[2] or 0}): rows were removed or added behind the app's back")


def log_count() -> int:
    return db.session.scalar(db.select(func.count()).select_from(EventLog)) or 0
