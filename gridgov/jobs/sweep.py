"""The deadline sweep: set-based marking of warning / overdue / escalation, plus verification reminders.

One pass is a handful of SQL statements whatever the number of events, never a Python loop over them:

* target level per running event (state dispatched or in_progress, deadline set), computed in SQL:
  3 when overdue by more than ESCALATE_AFTER_OVERDUE_HOURS, 2 when overdue, 1 when the elapsed share
  of (deadline − dispatched_at) reaches DEADLINE_WARNING_SHARE, else 0;
* events whose stored deadline_level is below their target are raised to it, and for each one an
  outbox row 'deadline' (plus 'escalate' at level 3) is inserted with a dedupe key
  event + level + deadline, so every level of every deadline is announced once. A level skipped
  because the sweep did not run (0 → 3) announces only the level reached.
  PostgreSQL does both in one statement (UPDATE … RETURNING inside a CTE feeding INSERT … SELECT);
  SQLite, which has no data-modifying CTEs, runs INSERT … SELECT then the same UPDATE in one
  transaction — SQLite's single writer lock makes the pair atomic;
* handled-but-unverified events older than VERIFY_REMINDER_HOURS get one 'verify_reminder' outbox row
  per handling (INSERT … SELECT … ON CONFLICT DO NOTHING).

A second pass at the same instant changes nothing. The marking UPDATE leaves updated_at and version
alone: a system mark must not make a dispatcher's open form stale (409).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import DateTime, String, case, cast, func, literal, literal_column, select, union_all, update

from gridgov.extensions import db
from gridgov.jobs import dialect, outbox
from gridgov.models import Event, OutboxMessage
from gridgov.models.events import DEADLINE_STATES
from gridgov.timeutil import utcnow

# SQLAlchemy drops an INSERT's rowcount unless asked to keep it; the pass reports how many rows it wrote.
KEEP_ROWCOUNT = {"preserve_rowcount": True}
OUTBOX_COLUMNS = ["kind", "payload", "dedupe_key", "created_at", "attempts", "last_error"]


@dataclass
class SweepResult:
    now: datetime
    deadline_rows: int  # outbox rows for raised levels ('deadline' + 'escalate')
    reminder_rows: int

    def as_dict(self) -> dict:
        return {"now": self.now.isoformat(), "deadline_rows": self.deadline_rows, "reminder_rows": self.reminder_rows}


@dataclass(frozen=True)
class Thresholds:
    now: datetime
    warning_share: float
    escalate_before: datetime  # deadline at or before this: overdue beyond the margin
    remind_before: datetime  # handled at or before this: remind the grid worker

    @classmethod
    def from_config(cls, now: datetime, config) -> "Thresholds":
        return cls(
            now=now,
            warning_share=float(config["DEADLINE_WARNING_SHARE"]),
            escalate_before=now - timedelta(hours=float(config["ESCALATE_AFTER_OVERDUE_HOURS"])),
            remind_before=now - timedelta(hours=float(config["VERIFY_REMINDER_HOURS"])),
        )


def _text(value: str):
    # Constant strings are inlined, not bound: json_build_object(VARIADIC "any") cannot type a parameter.
    return literal_column("'" + value.replace("'", "''") + "'")


def target_level(d: str, t: Thresholds):
    now = literal(t.now, DateTime)
    start = func.coalesce(Event.dispatched_at, Event.registered_at, Event.reported_at)
    warned = dialect.seconds_between(d, start, now) >= t.warning_share * dialect.seconds_between(d, start, Event.deadline)
    return case(
        (Event.deadline <= literal(t.escalate_before, DateTime), 3),
        (Event.deadline <= now, 2),
        (warned, 1),
        else_=0,
    )


def needs_marking(level):
    return (Event.state.in_(DEADLINE_STATES)) & (Event.deadline.is_not(None)) & (Event.deadline_level < level)


def _outbox_rows(d: str, t: Thresholds, event_id, level, deadline, where_level3=None):
    """SELECTs producing ('deadline' row) and, for level 3, ('escalate' row) outbox values."""
    now = literal(t.now, DateTime)
    stamp = dialect.compact_stamp(d, deadline)
    level_text = cast(level, String)
    notice = select(
        _text("deadline"),
        dialect.json_object(d, _text("event_id"), event_id, _text("level"), level),
        _text("deadline:").concat(cast(event_id, String)).concat(_text(":")).concat(level_text)
        .concat(_text(":")).concat(stamp),
        now, literal_column("0"), _text(""),
    )
    escalation = select(
        _text("escalate"),
        dialect.json_object(d, _text("event_id"), event_id),
        _text("escalate:").concat(cast(event_id, String)).concat(_text(":")).concat(stamp),
        now, literal_column("0"), _text(""),
    )
    return notice, escalation


def _mark_postgresql(t: Thresholds) -> int:
    level = target_level("postgresql", t)
    marked = (
        update(Event).where(needs_marking(level))
        .values(deadline_level=level, updated_at=Event.updated_at)
        .returning(Event.id, Event.deadline_level, Event.deadline)
        .cte("marked")
    )
    notice, escalation = _outbox_rows("postgresql", t, marked.c.id, marked.c.deadline_level, marked.c.deadline)
    rows = union_all(notice.select_from(marked),
                     escalation.select_from(marked).where(marked.c.deadline_level == 3))
    statement = (dialect.insert_ignoring_duplicates("postgresql", OutboxMessage.__table__)
                 .from_select(OUTBOX_COLUMNS, rows).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    return db.session.execute(statement, execution_options=KEEP_ROWCOUNT).rowcount


def _mark_sqlite(t: Thresholds) -> int:
    level = target_level("sqlite", t)
    notice, escalation = _outbox_rows("sqlite", t, Event.id, level, Event.deadline)
    rows = union_all(notice.where(needs_marking(level)),
                     escalation.where(needs_marking(level) & (level == 3)))
    statement = (dialect.insert_ignoring_duplicates("sqlite", OutboxMessage.__table__)
                 .from_select(OUTBOX_COLUMNS, rows).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    inserted = db.session.execute(statement, execution_options=KEEP_ROWCOUNT).rowcount
    db.session.execute(update(Event).where(needs_marking(level))
                       .values(deadline_level=level, updated_at=Event.updated_at))
    return inserted


def _remind(d: str, t: Thresholds) -> int:
    rows = select(
        _text("verify_reminder"),
        dialect.json_object(d, _text("event_id"), Event.id),
        _text("verify:").concat(cast(Event.id, String)).concat(_text(":"))
        .concat(dialect.compact_stamp(d, Event.handled_at)),
        literal(t.now, DateTime), literal_column("0"), _text(""),
    ).where(Event.state == "handled", Event.verified.is_(False), Event.handled_at.is_not(None),
            Event.handled_at <= literal(t.remind_before, DateTime))
    statement = (dialect.insert_ignoring_duplicates(d, OutboxMessage.__table__)
                 .from_select(OUTBOX_COLUMNS, rows).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    return db.session.execute(statement, execution_options=KEEP_ROWCOUNT).rowcount


def run_sweep(now: datetime | None = None, *, relay: bool = True) -> SweepResult:
    """One deadline pass in one transaction. With relay=True the commit hands the new rows to the relay."""
    t = Thresholds.from_config(now or utcnow(), current_app.config)
    d = dialect.name(db.session)
    deadline_rows = _mark_postgresql(t) if d == "postgresql" else _mark_sqlite(t)
    reminder_rows = _remind(d, t)
    if relay and (deadline_rows or reminder_rows):
        outbox.note_pending()
    db.session.commit()
    return SweepResult(now=t.now, deadline_rows=max(deadline_rows, 0), reminder_rows=max(reminder_rows, 0))
