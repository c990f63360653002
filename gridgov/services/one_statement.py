"""Write a workflow action's rows in one statement on PostgreSQL.

An action changes the event, usually a task, and appends a log row and outbox rows. Flushed by the ORM
that is four or five round trips, each with the unit of work's bookkeeping around it; PostgreSQL can
take them as one data-modifying CTE instead:

    WITH ev AS (UPDATE events SET … , version = :v + 1 WHERE id = :id AND version = :v RETURNING id),
         t1 AS (UPDATE tasks SET … WHERE id = :task AND EXISTS (SELECT FROM ev)),
         i1 AS (INSERT INTO event_log (…) SELECT … FROM ev), …
    SELECT count(*) FROM ev

Every part hangs on `ev`, the event's compare-and-set: if another transaction won, `ev` is empty and
nothing at all is written (the caller raises StaleVersion). Effects are written once, for every path:
this module only reads what they changed — the pending state of ORM objects (`write_action`), or the
changed columns of plain rows and the new model objects (`write_rows`, for workflow._fire_on_rows).

Only the common shape is taken: the event updated, tasks updated, and new tasks, log and outbox rows.
Anything else (photos, extensions, supervisions, other dialects) returns None and the caller flushes
through the ORM as usual.
"""
from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.orm import Session, make_transient
from sqlalchemy.orm.attributes import instance_state

from gridgov.models import Event, EventLog, OutboxMessage, Task
from gridgov.services.driver_sql import DriverStatements
from gridgov.services.event_rows import EventRow

NEW_TYPES = (Task, EventLog, OutboxMessage)
_EVENT_MAPPER, _TASK_MAPPER = inspect(Event), inspect(Task)

# The SQL text and parameter binders per shape of action (which columns change, which rows are added):
# a handful of shapes, each built once per process, so an action costs no statement construction or
# compilation.
_plans: dict[tuple, tuple[str, list]] = {}


def write_action(session: Session, event: Event) -> bool | None:
    """Write the session's pending changes for `event` as one statement.

    Returns None when the change is not of the common shape (nothing was written; flush instead),
    True when written, False when the event's version had moved on (nothing was written).
    """
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        return None
    new = list(session.new)
    dirty = list(session.dirty)
    if session.deleted or any(not isinstance(obj, NEW_TYPES) for obj in new):
        return None
    if event not in dirty or any(obj is not event and not isinstance(obj, Task) for obj in dirty):
        return None
    event_state = inspect(event)
    if event_state.key is None:
        return None

    version = event_state.committed_state.get("version", event.version)
    changes = _changed_columns(event)
    changes["version"] = version + 1
    parts = [("u", Event.__table__, changes, event.id)]
    parts += [("u", Task.__table__, _changed_columns(obj), obj.id) for obj in dirty if obj is not event]
    parts += [("i", type(obj).__table__, _new_row(obj), None)
              for obj in sorted(new, key=lambda o: NEW_TYPES.index(type(o)))]
    if not _write(DriverStatements(session.connection()), parts, version):
        return False
    # The rows are in the database: the objects must not be flushed again. New ones leave the
    # session; changed ones drop their pending changes and read the written values back when next
    # used (expiring is the ORM's cheap way to say "clean"; a flush with nothing to write is not).
    for obj in new:
        make_transient(obj)
    for obj in dirty:
        session.expire(obj)
    return True


def write_rows(connection, event: EventRow, new_rows) -> bool:
    """Write an action fired on plain rows (event_rows.py): the event's changed columns, its open
    task's, and the new model objects (never added to a session), through a driver_sql holder
    (`connection`). False when the event's version had moved on (nothing was written). PostgreSQL only."""
    changes = _with_onupdates(_EVENT_MAPPER, event.changes())
    changes["version"] = event.loaded_version + 1
    parts = [("u", Event.__table__, changes, event.id)]
    task = event.open_task
    if task is not None and task.changes():
        parts.append(("u", Task.__table__, _with_onupdates(_TASK_MAPPER, task.changes()), task.id))
    parts += [("i", type(obj).__table__, _new_row(obj), None)
              for obj in sorted(new_rows, key=lambda o: NEW_TYPES.index(type(o)))]
    return _write(connection, parts, event.loaded_version)


def _write(connection, parts, version: int) -> bool:
    shape = tuple((kind, table.name, tuple(values)) for kind, table, values, _ in parts)
    plan = _plans.get(shape)
    if plan is None:
        plan = _plans[shape] = (_build_sql(parts, connection.dialect), _binders(parts, connection.dialect))
    sql, binders = plan
    params = {"v": version}
    for (_, _, values, row_id), (id_key, binds) in zip(parts, binders):
        if row_id is not None:
            params[id_key] = row_id
        for (key, processor), value in zip(binds, values.values()):
            params[key] = processor(value) if processor is not None and value is not None else value
    return bool(connection.fetch_one(sql, params)[0])


def _binders(parts, dialect) -> list:
    """Per part: its id parameter's name, and (parameter name, bind processor) per value in order —
    the processors turn values into what the ORM would send (e.g. JSON serialised the same way)."""
    return [(f"id{n}", [(f"p{n}_{name}", table.c[name].type.bind_processor(dialect)) for name in values])
            for n, (_, table, values, _) in enumerate(parts)]


def _build_sql(parts, dialect) -> str:
    quote = dialect.identifier_preparer.quote
    ctes = []
    for n, (kind, table, values, _) in enumerate(parts):
        def placeholder(name):
            return f"%(p{n}_{name})s::{table.c[name].type.compile(dialect=dialect)}"
        if n == 0:  # the event's compare-and-set; everything else hangs on it
            sets = ", ".join(f"{quote(name)} = {placeholder(name)}" for name in values)
            ctes.append(f"ev AS (UPDATE {table.name} SET {sets} WHERE id = %(id0)s AND version = %(v)s RETURNING id)")
        elif kind == "u":
            sets = ", ".join(f"{quote(name)} = {placeholder(name)}" for name in values)
            ctes.append(f"w{n} AS (UPDATE {table.name} SET {sets} WHERE id = %(id{n})s AND EXISTS (SELECT FROM ev))")
        else:
            columns = ", ".join(quote(name) for name in values)
            selected = ", ".join(placeholder(name) for name in values)
            ctes.append(f"w{n} AS (INSERT INTO {table.name} ({columns}) SELECT {selected} FROM ev)")
    return "WITH " + ",\n     ".join(ctes) + "\nSELECT count(*) FROM ev"


def _changed_columns(obj) -> dict:
    """Column values changed on a persistent object, plus `onupdate` columns it did not set.
    `committed_state` holds exactly the attributes set since the object was loaded."""
    state = inspect(obj)
    columns = _columns_of(state.mapper)
    return _with_onupdates(state.mapper, {columns[key].name: state.dict[key] for key in state.committed_state
                                          if key in columns})


def _with_onupdates(mapper, values: dict) -> dict:
    """`values` plus the mapper's `onupdate` columns they do not set, as a flush would add them."""
    for _, column in _onupdate_columns_of(mapper):
        if column.name not in values:
            values[column.name] = _python_default(column.onupdate)
    return values


_mapper_columns: dict = {}


def _columns_of(mapper) -> dict:
    if mapper not in _mapper_columns:
        _mapper_columns[mapper] = {attr.key: attr.columns[0] for attr in mapper.column_attrs}
    return _mapper_columns[mapper]


_mapper_onupdates: dict = {}


def _onupdate_columns_of(mapper) -> list:
    if mapper not in _mapper_onupdates:
        _mapper_onupdates[mapper] = [(key, column) for key, column in _columns_of(mapper).items()
                                     if column.onupdate is not None]
    return _mapper_onupdates[mapper]


def _new_row(obj) -> dict:
    """Column values of a pending object, the columns' Python defaults filled in as a flush would
    (SQLAlchemy evaluates defaults only for the outermost statement, not for DML inside a CTE)."""
    state = instance_state(obj)
    given = state.dict
    values = {}
    for key, name, default in _insert_columns_of(state.mapper):
        value = given.get(key)
        if value is not None:
            values[name] = value
        elif default is not None:
            values[name] = _python_default(default)
    return values


_mapper_inserts: dict = {}


def _insert_columns_of(mapper) -> list:
    if mapper not in _mapper_inserts:
        _mapper_inserts[mapper] = [(key, column.name, column.default) for key, column in _columns_of(mapper).items()
                                   if not column.primary_key]
    return _mapper_inserts[mapper]


def _python_default(default):
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps zero-argument callables to take a context
    if default.is_scalar:
        return default.arg
    raise LookupError("SQL-expression defaults are not handled here")
