"""The transactional outbox: work that must follow a state change is written in the same transaction.

A service calls `add(kind, payload)` before its single commit; nothing is sent yet. When the commit
succeeds, the session's `after_commit` hook (installed by `gridgov.jobs.setup`) runs the relay: it
enqueues the committed rows on rq, or, with `REDIS_URL` unset, runs their handlers inline. A rolled
back transaction leaves no row, so nothing is ever sent for a change that did not happen; a row that
could not be sent (Redis down) simply waits for the next commit or the periodic relay.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from gridgov.extensions import db
from gridgov.models import OutboxMessage

# Every kind has exactly one handler in gridgov.jobs.handlers (checked there at import).
KINDS = frozenset({"notify", "deadline", "escalate", "verify_reminder"})

# session.info key: set when this transaction added outbox rows, so only those commits relay.
PENDING_FLAG = "gridgov_outbox_pending"


def add(kind: str, payload: dict, dedupe_key: str | None = None, *, session: Session | None = None) -> OutboxMessage:
    """Add an outbox row to the current session (no flush, no commit: the calling service commits once).

    `dedupe_key`, when given, is unique across the table: a second row with the same key would make
    the commit fail, so callers use it only for facts that must happen once (e.g. a deadline level).
    """
    session = session or db.session
    row = message(kind, payload, dedupe_key)
    session.add(row)
    note_pending(session)
    return row


def message(kind: str, payload: dict, dedupe_key: str | None = None) -> OutboxMessage:
    """An outbox row not yet in any session, for a caller that writes its rows itself (it then calls
    `note_pending` so its commit relays)."""
    if kind not in KINDS:
        raise ValueError(f"no outbox handler for kind {kind!r}")
    return OutboxMessage(kind=kind, payload=dict(payload), dedupe_key=dedupe_key, attempts=0, last_error="")


def note_pending(session: Session | None = None) -> None:
    """Ask for a relay after this session's next commit (for rows written with plain SQL)."""
    session = session or db.session
    session.info[PENDING_FLAG] = True
