"""An event and its open task as plain rows: what a workflow action reads and changes, without the ORM.

Loading an event as an ORM object (identity map, instance state, attribute instrumentation, a result
object per query) costs several times the database's own work for one row; an action then needs the
unit of work to find out what changed. An `EventRow` is the same columns as plain attributes that
remember which ones were set, read in one query with the open task joined in. The engine, the
jurisdiction rules and the effects use attributes only, so they run on either form unchanged, and
`one_statement.write_rows` writes what changed.

New rows an action adds (a task, the log row, outbox rows) are still model objects, just never added
to a session: their constructors and defaults stay the single definition of those rows.
"""
from __future__ import annotations

from gridgov.extensions import db
from gridgov.models import Category, Event, Task
from gridgov.models.events import OPEN_STATES, OPEN_TASK_STATUSES
from gridgov.services.reference_rows import keep_loaded


class Row:
    """A row's columns as attributes; setting one records it as changed."""

    __slots__ = ("_values", "_changed")

    def __init__(self, values: dict):
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_changed", {})

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no column {name!r}") from None

    def __setattr__(self, name, value):
        if name not in self._values:
            raise AttributeError(f"{type(self).__name__} has no column {name!r}")
        self._values[name] = value
        self._changed[name] = value

    def changes(self) -> dict:
        """Columns set since loading (by attribute name, which is the column name in these models)."""
        return dict(self._changed)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self._values.get('id')}>"


class TaskRow(Row):
    __slots__ = ()


class EventRow(Row):
    __slots__ = ("open_task", "loaded_version")

    def __init__(self, values: dict, open_task: TaskRow | None):
        super().__init__(values)
        object.__setattr__(self, "open_task", open_task)
        object.__setattr__(self, "loaded_version", values["version"])

    @property
    def category(self) -> Category | None:
        # A reference row: found in the session's identity map once read, so no query after the first.
        return keep_loaded(db.session.get(Category, self.category_code))

    @property
    def tasks(self) -> list[Task]:
        """Every dispatch of the event (the jurisdiction rule for handlers asks; rarely needed)."""
        return list(db.session.scalars(db.select(Task).where(Task.event_id == self.id).order_by(Task.seq)))

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


_EVENT_COLUMNS = [c.name for c in Event.__table__.columns]
_TASK_COLUMNS = [c.name for c in Task.__table__.columns]
# Built once per process from the models, so a new column is read without touching this module. An
# event whose log head is not recorded yet (log_seq 0: only its report row exists, see
# audit.append_log) gets the head from the log in the same query.
_LOAD_SQL = (
    "SELECT " + ", ".join(f"e.{name}" for name in _EVENT_COLUMNS) + ", "
    + ", ".join(f"t.{name}" for name in _TASK_COLUMNS) + ", h.seq, h.hash"
    + " FROM events e LEFT JOIN tasks t ON t.event_id = e.id AND t.status IN ("
    + ", ".join(f"'{status}'" for status in OPEN_TASK_STATUSES) + ")"
    + " LEFT JOIN LATERAL (SELECT l.seq, l.hash FROM event_log l WHERE l.event_id = e.id AND e.log_seq = 0"
    + " ORDER BY l.seq DESC LIMIT 1) h ON true"
    + " WHERE e.id = %(event_id)s ORDER BY t.seq DESC LIMIT 1"
)


def load(connection, event_id: int) -> EventRow | None:
    """The event as the database has it now, with its open task and its log head, in one query.
    `connection` is a driver_sql.DriverStatements."""
    found = connection.fetch_one(_LOAD_SQL, {"event_id": event_id})
    if found is None:
        return None
    split, task_end = len(_EVENT_COLUMNS), len(_EVENT_COLUMNS) + len(_TASK_COLUMNS)
    values = dict(zip(_EVENT_COLUMNS, found[:split]))
    head_seq, head_hash = found[task_end:]
    if not values["log_seq"] and head_seq is not None:
        # Loaded, not changed: the action's append sets the new head, which is then written.
        values["log_seq"], values["log_hash"] = head_seq, head_hash
    task_values = found[split:task_end]
    task = TaskRow(dict(zip(_TASK_COLUMNS, task_values))) if task_values[0] is not None else None
    return EventRow(values, task)
