"""Fire workflow actions on events: the one service every page, API route and job goes through.

One call writes atomically: check the version the caller saw, let the engine decide whether the action
is allowed, apply its effects, append the hash-chained log row, queue notifications in the outbox. The
event's UPDATE is a compare-and-set (`… WHERE id = ? AND version = ?`), so of two concurrent actions
exactly one writes.

Two ways to get there, with the same engine, effects and log:
  on plain rows   the common action on PostgreSQL: one read, one data-modifying statement
                  (`_fire_on_rows`, event_rows.py, one_statement.write_rows);
  through the ORM photos, extensions and supervisions, SQLite, a caller's open unit of work
                  (`_fire_on_orm`; SQLAlchemy's version counter makes the UPDATE the compare-and-set).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.orm import joinedload, lazyload
from sqlalchemy.orm.exc import StaleDataError

from gridgov.access import actor_facts, can_see
from gridgov.errors import NotFound
from gridgov.extensions import db
from gridgov.jobs import outbox
from gridgov.models import Event, Task, User
from gridgov.services import driver_sql, effects, event_rows, one_statement
from gridgov.services.audit import append_log
from gridgov.services.event_rows import EventRow
from gridgov.services.reference_rows import commit_keeping_loaded, forget_loaded
from gridgov.services.photos import attach_photos, discard_unreferenced
from gridgov.services.calendar import work_calendar
from gridgov.services.deadlines import default_deadline
from gridgov.timeutil import as_aware_utc, utcnow
from workflows import Actor, ActionDef, StaleVersion, get_engine

# The sweep and other jobs act as the system: full jurisdiction, logged with actor_role "system".
SYSTEM_ACTOR = Actor(role="dispatcher", in_area=True, holds_task=False, in_grid=False, is_reporter=False)

PHOTO_KIND_BY_ACTION = {
    "submit_result": "result", "verify_pass": "verify", "verify_fail": "verify", "self_resolve": "result",
}


def flags_of(event: Event) -> set[str]:
    flags = set()
    if event.verified:
        flags.add("verified")
    if event.extension_pending:
        flags.add("extension_pending")
    return flags


def actor_for(user: User | None, event: Event) -> Actor:
    if user is None:
        return SYSTEM_ACTOR
    facts = actor_facts(user, event)
    return Actor(role=facts.role, in_area=facts.in_area, holds_task=facts.holds_task, in_grid=facts.in_grid,
                 is_reporter=facts.is_reporter)


# Built once: an immutable statement also keeps its compiled-cache key, so loading costs no construction.
# The category is not joined: it is a reference row, found in the session once it was read (pinned).
_LOAD_EVENT = (db.select(Event).where(Event.id == bindparam("event_id"))
               .options(joinedload(Event.open_task), lazyload(Event.category))
               .execution_options(populate_existing=True))


def load_visible_event(event_id: int, user: User | None) -> Event:
    """The event as the database has it now, with its category and open task, in one query."""
    event = db.session.scalar(_LOAD_EVENT, {"event_id": event_id})
    _check_visible(event, user)
    return event


def allowed_actions(user: User, event: Event) -> list[ActionDef]:
    return get_engine(event.workflow).allowed_actions(event, actor_for(user, event), flags=flags_of(event))


def _prepare_inputs(event: Event, action: str, inputs: dict, now: datetime, calendar) -> dict:
    """Fill what the service knows better than the caller: the default deadline of a dispatch."""
    inputs = {k: v for k, v in inputs.items() if v not in (None, "")}
    if action in ("dispatch", "redispatch") and "deadline" not in inputs:
        inputs["deadline"] = default_deadline(event, as_aware_utc(now), calendar)
    if action in ("dispatch", "redispatch") and "department" not in inputs and event.category is not None:
        if event.category.default_department_code:
            inputs["department"] = event.category.default_department_code
    return inputs


def fire_action(event_id: int, action: str, *, user: User | None, inputs: dict | None = None,
                expected_version: int | None = None, photos=(), commit: bool = True,
                at: datetime | None = None) -> Event | EventRow:
    """Fire `action` on the event as `user` (None: the system). Raises the workflow's domain errors
    (WrongState 409, NotAllowed 403, MissingInput/InvalidInput 422), NotFound, or StaleVersion (409).
    `at` (naive UTC) backdates the action, for importing history and the demo; None means now.

    Returns the event as written, with its columns. On PostgreSQL most actions are fired on plain rows
    (`_fire_on_rows`) and return an `EventRow`; load the event again for its relations."""
    now = (at or utcnow()).replace(microsecond=0)
    session = db.session()
    if commit and not photos and session.get_bind().dialect.name == "postgresql" and _nothing_pending(session):
        fired = _fire_on_rows(event_id, action, user, inputs, expected_version, now)
        if fired is not None:
            return fired
    return _fire_on_orm(event_id, action, user, inputs, expected_version, photos, commit, now)


def _nothing_pending(session) -> bool:
    return not (session.new or session.dirty or session.deleted)


def _fire_on_rows(event_id, action, user, inputs, expected_version, now) -> EventRow | None:
    """The common action on PostgreSQL: the event, its open task and its log head read as plain rows
    in one query, the engine and the effects run on them, and everything written in one statement
    hanging on the event's compare-and-set (one_statement.write_rows). Both statements run on pooled
    connections in autocommit, outside the session: the write is atomic by itself, and the read may be
    its own transaction because the compare-and-set refuses the write if the event moved on in between
    (under READ COMMITTED every statement of a transaction took a fresh snapshot anyway). So an action
    is two round trips, with no BEGIN or COMMIT and no ORM unit of work. None (nothing written) when an
    effect of the action needs the ORM."""
    session = db.session()
    if session.in_transaction():
        commit_keeping_loaded()  # nothing is pending (checked by the caller): this ends the caller's reads
    statements = driver_sql.AutocommitStatements(session.get_bind())
    try:
        event = event_rows.load(statements, event_id)
        _check_visible(event, user)
        if effects.SESSION_EFFECTS.intersection(get_engine(event.workflow).definition.action(action).effects):
            return None
        _check_version(event, expected_version)
        new_rows = []
        outcome, ctx = _run_engine(event, action, user, inputs, now, add=new_rows.append)
        _log_and_queue(event, outcome, ctx, user, inputs, now)
        if session.in_transaction():
            # The effects read reference rows (a category, a department) through the session: its
            # connection goes back before the write takes one.
            commit_keeping_loaded()
        if not one_statement.write_rows(statements, event, new_rows):
            raise StaleVersion(expected_version, None)
    except Exception:
        session.rollback()
        raise
    forget_loaded(Event, event.id)
    if event.open_task is not None:
        forget_loaded(Task, event.open_task.id)
    if ctx.notify:
        # Imported here: gridgov.jobs.setup reaches this module through the outbox handlers.
        from gridgov.jobs.setup import relay_committed_rows

        relay_committed_rows()  # no session commit to hook
    return event


def _fire_on_orm(event_id, action, user, inputs, expected_version, photos, commit, now) -> Event:
    """Every other case (photos, extensions and supervisions, SQLite, a caller with pending changes, commit=False):
    through the ORM session, written in one statement where one_statement can, flushed otherwise."""
    event = load_visible_event(event_id, user)
    _check_version(event, expected_version)
    stored = []
    try:
        # No autoflush: the event must reach the database in exactly one UPDATE, so its version
        # rises by one per action and the compare-and-set happens once, at the flush below.
        with db.session.no_autoflush:
            extra = {"photos": list(photos)} if photos else {}
            outcome, ctx = _run_engine(event, action, user, inputs, now, add=db.session.add, extra=extra)
            if photos:
                stored = attach_photos(event, photos, kind=PHOTO_KIND_BY_ACTION.get(action, "other"), user=user,
                                       task=effects.current_task(event))
                ctx.log_data["photos"] = [p.sha256 for p in stored]
        _log_and_queue(event, outcome, ctx, user, inputs, now)
        if ctx.notify:
            outbox.note_pending()  # relayed after the commit (gridgov/jobs/setup.py)
        # On PostgreSQL the common action is one statement hanging on the event's compare-and-set
        # (one_statement.py). Otherwise the ORM flushes the event's one UPDATE … WHERE version = ?
        # first (it carries the new log head), so a concurrent loser stops there with StaleDataError
        # rather than on a unique key of the rows below; then the task, the log and the outbox rows.
        written = one_statement.write_action(db.session(), event) if commit else None
        if written is False:
            raise StaleDataError("the event's version moved on")
        if written is None:
            db.session.flush([event])
            db.session.flush()
        if commit:
            commit_keeping_loaded(event)
    except StaleDataError:
        db.session.rollback()
        _discard_files(stored)
        raise StaleVersion(expected_version, None) from None
    except Exception:
        db.session.rollback()
        _discard_files(stored)
        raise
    return event


def _check_visible(event, user: User | None) -> None:
    if event is None or (user is not None and not can_see(user, event)):
        # Outside the user's jurisdiction looks exactly like absent: no leak of what exists.
        raise NotFound("找不到该事件", "Event not found")


def _check_version(event, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != event.version:
        raise StaleVersion(int(expected_version), event.version)


def _run_engine(event, action: str, user: User | None, inputs: dict | None, now: datetime, *, add, extra=None):
    """Let the engine check and move the event, then apply the action's effects: (outcome, context).
    `add` takes the new rows: the session's `add`, or a list's `append` on the plain-rows path."""
    calendar = work_calendar()
    inputs = _prepare_inputs(event, action, dict(inputs or {}), now, calendar)
    inputs.update(extra or {})
    outcome = get_engine(event.workflow).fire(event, action, actor_for(user, event), inputs, flags=flags_of(event))
    ctx = effects.EffectContext(event=event, action=action, user=user, inputs=dict(outcome.inputs), now=now,
                                calendar=calendar, add=add)
    effects.apply(outcome.effects, ctx)
    return outcome, ctx


def _log_and_queue(event, outcome, ctx, user: User | None, inputs: dict | None, now: datetime) -> None:
    """The action's hash-chained log row, and an outbox row per notification it asks for, both to
    where the effects put their new rows (`ctx.add`)."""
    inputs = inputs or {}
    text = inputs.get("comment") or inputs.get("reason") or ""
    log = append_log(event, action=outcome.action, from_state=outcome.from_state, to_state=outcome.to_state,
                     actor=user, comment=text, data=ctx.log_data, at=now, add=ctx.add)
    for topic, audience in ctx.notify:
        ctx.add(outbox.message("notify", {"event_id": event.id, "topic": topic, "audience": audience},
                               dedupe_key=f"notify:{event.id}:{log.seq}:{topic}"))


def _discard_files(stored) -> None:
    if stored:
        discard_unreferenced(stored)
