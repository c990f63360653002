"""The supervisor's figures (DESIGN.md "Statistics"), computed set-based with one GROUP BY per cohort.

Which timestamp puts a row in a period [start, end) — three cohorts, each on its own indexed column:

* **reported cohort** — events whose ``reported_at`` falls in the period:
  上报数 ``reported``, 自行处置数 ``self_resolved`` (自行处置率 = self_resolved / reported).
* **registered cohort** — events whose ``registered_at`` falls in the period, excluding ``rejected``
  and ``merged`` ones (a duplicate or a refused report is not a case to close). Every outcome of a
  case is charged to the period it was registered in, *as known at ``now``*: an event registered in
  January and closed in February counts as closed for January (and January's figures improve as
  late cases are closed). Bulletins use this cohort so that closed ⊆ due and rates stay ≤ 100 %:
  立案数 ``registered``; 结案数 ``closed`` (state ``closed``); 按期结案数 ``closed_on_time``
  (``closed_on_time`` is true); 超期数 ``overdue`` (still open and ``deadline < now``; the deadline
  column is the current one, so an approved extension moves it); 应结案数 ``due`` = closed or overdue,
  i.e. registered events that are closed or whose deadline has passed; 平均处置时长 = mean of
  ``handling_working_seconds`` over the closed ones (working seconds fixed at closing, with returned
  time already excluded), shown in hours; 满意率 = satisfied / rated over closed events that carry a
  satisfaction score (1–5, satisfied ≥ 4).
* **task cohort** — dispatches (tasks) whose ``handled_at`` falls in the period: 返工率 =
  tasks with status ``reworked`` / tasks handled. A task belongs to the event's area, category and
  reporter, but to *its own* department (the unit that did the work that failed verification).

Grouping keys: township / village / grid (the event's stored codes), department, category (major,
2 digits) or subcategory (4 digits), reporter, and local day / week (Monday) / month.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from gridgov.access import EVENT_COLUMN_BY_LEVEL, area_level
from gridgov.models import Event, Task
from gridgov.models.events import OPEN_STATES
from gridgov.services.stats.periods import BUCKETS, Period, bucket_bounds, bucket_expr
from gridgov.timeutil import utcnow

AREA_GROUPINGS = ("township", "village", "grid")
GROUPINGS = ("total", *AREA_GROUPINGS, "department", "category", "subcategory", "reporter", *BUCKETS)
EXCLUDED_FROM_CASES = ("rejected", "merged")
SATISFIED_MIN = 4

# Figures a drill-down can list the events of.
EVENT_FIGURES = ("reported", "self_resolved", "registered", "due", "closed", "closed_on_time", "overdue",
                 "tasks_handled", "tasks_reworked")


@dataclass(frozen=True)
class StatsQuery:
    """What to count: a period, optionally narrowed to an area (any level), a category (major or
    sub), a department or a reporter. ``now`` fixes "overdue" so one answer is self-consistent."""

    period: Period
    area: str | None = None
    category: str | None = None
    department: str | None = None
    reporter: int | None = None
    now: datetime = field(default_factory=utcnow)

    def narrowed(self, grouping: str, key) -> "StatsQuery":
        """The query behind one row of a grouping: the drill-down is just a narrower query."""
        if grouping in AREA_GROUPINGS:
            return replace(self, area=str(key))
        if grouping == "department":
            return replace(self, department=str(key))
        if grouping in ("category", "subcategory"):
            return replace(self, category=str(key))
        if grouping == "reporter":
            return replace(self, reporter=int(key))
        if grouping in BUCKETS:
            sub = bucket_bounds(grouping, str(key), self.period.tz)
            first, last = max(sub.first, self.period.first), min(sub.last, self.period.last)
            return replace(self, period=Period(first, last, self.period.tz))
        return self


@dataclass
class Figures:
    key: object = None
    label: str = ""
    reported: int = 0
    self_resolved: int = 0
    registered: int = 0
    due: int = 0
    closed: int = 0
    closed_on_time: int = 0
    overdue: int = 0
    handling_count: int = 0
    handling_seconds: int = 0
    rated: int = 0
    satisfied: int = 0
    tasks_handled: int = 0
    tasks_reworked: int = 0

    COUNTS = ("reported", "self_resolved", "registered", "due", "closed", "closed_on_time", "overdue",
              "handling_count", "handling_seconds", "rated", "satisfied", "tasks_handled", "tasks_reworked")
    RATES = ("closure_rate", "on_time_rate", "rework_rate", "self_resolved_rate", "satisfaction_rate")

    @staticmethod
    def _ratio(num: int, den: int) -> float | None:
        # Rounded once here, so the page, the API and the exports show the very same number.
        return round(num / den, 4) if den else None

    @property
    def closure_rate(self) -> float | None:
        return self._ratio(self.closed, self.due)

    @property
    def on_time_rate(self) -> float | None:
        return self._ratio(self.closed_on_time, self.due)

    @property
    def rework_rate(self) -> float | None:
        return self._ratio(self.tasks_reworked, self.tasks_handled)

    @property
    def self_resolved_rate(self) -> float | None:
        return self._ratio(self.self_resolved, self.reported)

    @property
    def satisfaction_rate(self) -> float | None:
        return self._ratio(self.satisfied, self.rated)

    @property
    def avg_handling_hours(self) -> float | None:
        if not self.handling_count:
            return None
        return round(self.handling_seconds / self.handling_count / 3600, 2)

    def as_dict(self) -> dict:
        out = {"key": self.key, "label": self.label}
        out.update({name: getattr(self, name) for name in self.COUNTS})
        out.update({name: getattr(self, name) for name in self.RATES})
        out["avg_handling_hours"] = self.avg_handling_hours
        return out


# --- the cohorts: their rows, their figure conditions -------------------------------------------

def _in_period(column, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def scope_clauses(q: StatsQuery, *, department_column=None) -> list[ColumnElement[bool]]:
    clauses = []
    if q.area:
        clauses.append(getattr(Event, EVENT_COLUMN_BY_LEVEL[area_level(q.area)]) == q.area)
    if q.category:
        clauses.append(Event.category_code.startswith(q.category, autoescape=True))
    if q.department:
        clauses.append((department_column if department_column is not None else Event.department_code)
                       == q.department)
    if q.reporter is not None:
        clauses.append(Event.reporter_id == q.reporter)
    return clauses


def reported_cohort(q: StatsQuery) -> list[ColumnElement[bool]]:
    return [_in_period(Event.reported_at, q.period), *scope_clauses(q)]


def registered_cohort(q: StatsQuery) -> list[ColumnElement[bool]]:
    return [_in_period(Event.registered_at, q.period), Event.state.notin_(EXCLUDED_FROM_CASES), *scope_clauses(q)]


def task_cohort(q: StatsQuery) -> list[ColumnElement[bool]]:
    return [_in_period(Task.handled_at, q.period), *scope_clauses(q, department_column=Task.department_code)]


def is_closed() -> ColumnElement[bool]:
    return Event.state == "closed"


def is_overdue(now: datetime) -> ColumnElement[bool]:
    return and_(Event.state.in_(OPEN_STATES), Event.deadline < now)


def is_due(now: datetime) -> ColumnElement[bool]:
    return or_(is_closed(), is_overdue(now))


def event_figure_clause(figure: str, q: StatsQuery) -> ColumnElement[bool]:
    """WHERE clause over events listing the rows that make up one figure (the drill-down)."""
    if figure == "reported":
        return and_(*reported_cohort(q))
    if figure == "self_resolved":
        return and_(*reported_cohort(q), Event.self_resolved.is_(True))
    base = registered_cohort(q)
    conditions = {
        "registered": None,
        "due": is_due(q.now),
        "closed": is_closed(),
        "closed_on_time": and_(is_closed(), Event.closed_on_time.is_(True)),
        "overdue": is_overdue(q.now),
    }
    if figure in conditions:
        extra = conditions[figure]
        return and_(*base, extra) if extra is not None else and_(*base)
    if figure in ("tasks_handled", "tasks_reworked"):
        tasks = select(Task.id).where(Task.event_id == Event.id, *task_cohort(q))
        if figure == "tasks_reworked":
            tasks = tasks.where(Task.status == "reworked")
        return tasks.exists()
    raise ValueError(figure)


def _count_if(condition) -> ColumnElement[int]:
    return func.count().filter(condition)


def reported_measures():
    return [func.count().label("reported"), _count_if(Event.self_resolved.is_(True)).label("self_resolved")]


def registered_measures(now: datetime):
    closed = is_closed()
    return [
        func.count().label("registered"),
        _count_if(is_due(now)).label("due"),
        _count_if(closed).label("closed"),
        _count_if(and_(closed, Event.closed_on_time.is_(True))).label("closed_on_time"),
        _count_if(is_overdue(now)).label("overdue"),
        func.count(Event.handling_working_seconds).filter(closed).label("handling_count"),
        func.coalesce(func.sum(Event.handling_working_seconds).filter(closed), 0).label("handling_seconds"),
        func.count(Event.satisfaction).filter(closed).label("rated"),
        _count_if(and_(closed, Event.satisfaction >= SATISFIED_MIN)).label("satisfied"),
    ]


def task_measures():
    return [func.count().label("tasks_handled"), _count_if(Task.status == "reworked").label("tasks_reworked")]


def group_key(grouping: str, cohort: str, dialect: str, offset: int) -> ColumnElement | None:
    if grouping == "total":
        return None
    if grouping in AREA_GROUPINGS:
        return getattr(Event, f"{grouping}_code")
    if grouping == "department":
        return Task.department_code if cohort == "tasks" else Event.department_code
    if grouping == "category":
        return func.substr(Event.category_code, 1, 2)
    if grouping == "subcategory":
        return Event.category_code
    if grouping == "reporter":
        return Event.reporter_id
    timestamp = {"reported": Event.reported_at, "registered": Event.registered_at,
                 "tasks": Task.handled_at}[cohort]
    return bucket_expr(dialect, grouping, timestamp, offset)


FINAL_STATES = ("closed", "rejected", "merged")
COHORTS = ("reported", "registered", "tasks")


def list_events_stmt(figure: str, q: StatsQuery):
    """SELECT of the events behind one figure, newest first (for the drill-down list and exports)."""
    if figure not in EVENT_FIGURES:
        raise ValueError(figure)
    order = Event.reported_at if figure in ("reported", "self_resolved") else Event.registered_at
    return select(Event).where(event_figure_clause(figure, q)).order_by(order.desc(), Event.id.desc())


__all__ = [
    "AREA_GROUPINGS", "COHORTS", "EVENT_FIGURES", "FINAL_STATES", "GROUPINGS", "Figures", "StatsQuery",
    "event_figure_clause", "list_events_stmt", "scope_clauses",
]
