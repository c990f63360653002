"""The deadline sweep: set-based marking of warning / overdue / escalation, plus verification reminders.

One pass is a handful of SQL statements whatever the number of events, never a Python loop over them:

* target level per running event (state dispatched or in_progress, deadline set), computed in SQL:
  3 when overdue by more than ESCALATE_AFTER_OVERDUE_HOURS, 2 when overdue, 1 when the elapsed share
  of (deadline − dispatched_at) reaches DEADLINE_WARNING_SHARE, else 0;
* events whose stored deadline_level is below their target are raised to it, and the raised events
  are written to the outbox in batches: one 'deadline' row per (level, department, township) and one
  'escalate' row per (department, township) for level 3, each listing its event ids. The marking
  itself is the "once": an event at level n is never selected again for n; the handlers' notification
  dedupe keys (event + level + deadline + user + channel) make a re-run job harmless. A level skipped
  because the sweep did not run (0 → 3) announces only the level reached.
  PostgreSQL does both in one statement (UPDATE … RETURNING inside a CTE feeding INSERT … SELECT …
  GROUP BY);
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
from sqlalchemy import DateTime, String, case, cast, func, insert, literal, literal_column, select, union_all, update

from gridgov.extensions import db
from gridgov.jobs import dialect, outbox
from gridgov.models import Event, OutboxMessage
from gridgov.models.events import DEADLINE_STATES
from gridgov.timeutil import utcnow

# SQLAlchemy drops an INSERT's rowcount unless asked to keep it; the pass reports how many rows it wrote.
KEEP_ROWCOUNT = {"preserve_rowcount": True}
BATCH_COLUMNS = ["kind", "payload", "created_at", "attempts", "last_error"]
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


def _batch_rows(d: str, t: Thresholds, source, level):
    """SELECTs of outbox values from the newly marked events: one 'deadline' row per (level,
    department, township) listing its events, and one 'escalate' row per (department, township) for
    level 3. Batches keep a bad minute (thousands of events crossing a line) to a few hundred jobs."""
    now = literal(t.now, DateTime)
    ids = dialect.json_array_agg(d, source.c.id)
    groups = (source.c.department_code, source.c.township_code)
    notice = (select(_text("deadline"), dialect.json_object(d, _text("level"), level, _text("event_ids"), ids),
                     now, literal_column("0"), _text(""))
              .group_by(level, *groups))
    escalation = (select(_text("escalate"), dialect.json_object(d, _text("event_ids"), ids),
                         now, literal_column("0"), _text(""))
                  .where(level == 3).group_by(*groups))
    return notice, escalation


def _mark_postgresql(t: Thresholds) -> int:
    level = target_level("postgresql", t)
    marked = (
        update(Event).where(needs_marking(level))
        .values(deadline_level=level, updated_at=Event.updated_at)
        .returning(Event.id, Event.deadline_level, Event.department_code, Event.township_code)
        .cte("marked")
    )
    notice, escalation = _batch_rows("postgresql", t, marked, marked.c.deadline_level)
    rows = union_all(notice.select_from(marked), escalation.select_from(marked))
    statement = insert(OutboxMessage).from_select(BATCH_COLUMNS, rows)
    return db.session.execute(statement, execution_options=KEEP_ROWCOUNT).rowcount


def _mark_sqlite(t: Thresholds) -> int:
    level = target_level("sqlite", t)
    candidates = (select(Event.id, Event.department_code, Event.township_code, level.label("level"))
                  .where(needs_marking(level)).subquery("marked"))
    notice, escalation = _batch_rows("sqlite", t, candidates, candidates.c.level)
    rows = union_all(notice.select_from(candidates), escalation.select_from(candidates))
    inserted = db.session.execute(insert(OutboxMessage).from_select(BATCH_COLUMNS, rows),
                                  execution_options=KEEP_ROWCOUNT).rowcount
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
