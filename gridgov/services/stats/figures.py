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
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from gridgov.access import EVENT_COLUMN_BY_LEVEL, area_level
from gridgov.extensions import db
from gridgov.models import Area, Category, Department, Event, Task, User
from gridgov.models.events import OPEN_STATES
from gridgov.services.stats.periods import BUCKETS, Period, bucket_expr, utc_offset_minutes
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
        from gridgov.services.stats.periods import bucket_bounds

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


def _reported_measures():
    return [func.count().label("reported"), _count_if(Event.self_resolved.is_(True)).label("self_resolved")]


def _registered_measures(now: datetime):
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


def _task_measures():
    return [func.count().label("tasks_handled"), _count_if(Task.status == "reworked").label("tasks_reworked")]


def _key(grouping: str, cohort: str, dialect: str, offset: int) -> ColumnElement | None:
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


# --- execution ----------------------------------------------------------------------------------

def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _run_cohort(cohort: str, q: StatsQuery, groupings: list[str], dialect: str, offset: int
                ) -> dict[str, dict[object, dict]]:
    """One cohort, every grouping: {grouping: {key: {measure: value}}}.

    PostgreSQL computes all groupings in one pass with GROUPING SETS (one scan of the period's
    rows instead of one per table on the dashboard); other databases run one GROUP BY each."""
    if cohort == "reported":
        measures, where, source = _reported_measures(), reported_cohort(q), None
    elif cohort == "registered":
        measures, where, source = _registered_measures(q.now), registered_cohort(q), None
    else:
        measures, where, source = _task_measures(), task_cohort(q), Task.__table__.join(
            Event.__table__, Task.event_id == Event.id)
    names = [m.name for m in measures]
    keys = {g: _key(g, cohort, dialect, offset) for g in groupings}
    out: dict[str, dict[object, dict]] = {g: {} for g in groupings}

    def base(columns):
        stmt = select(*columns, *measures)
        if source is not None:
            stmt = stmt.select_from(source)
        return stmt.where(*where)

    keyed = [g for g in groupings if keys[g] is not None]
    if dialect == "postgresql" and len(groupings) > 1:
        key_cols = [keys[g].label(f"k{i}") for i, g in enumerate(keyed)]
        flags = [func.grouping(keys[g]).label(f"g{i}") for i, g in enumerate(keyed)]
        sets = [tuple_(keys[g]) for g in keyed]
        if "total" in groupings:
            sets.append(tuple_())
        stmt = base([*key_cols, *flags]).group_by(func.grouping_sets(*sets))
        for row in db.session.execute(stmt).mappings():
            values = {n: int(row[n] or 0) for n in names}
            grouped = [g for i, g in enumerate(keyed) if row[f"g{i}"] == 0]
            if not grouped:
                out["total"][None] = values
            else:
                i = keyed.index(grouped[0])
                out[grouped[0]][row[f"k{i}"]] = values
        return out
    for g in groupings:
        if keys[g] is None:
            row = db.session.execute(base([])).mappings().one()
            out[g][None] = {n: int(row[n] or 0) for n in names}
        else:
            stmt = base([keys[g].label("k")]).group_by(keys[g])
            for row in db.session.execute(stmt).mappings():
                out[g][row["k"]] = {n: int(row[n] or 0) for n in names}
    return out


def compute_many(q: StatsQuery, groupings: Iterable[str]) -> dict[str, list[Figures]]:
    """All figures for each grouping: {grouping: [Figures…]} ("total" gives one row, key None).
    Time groupings list every bucket of the period, empty ones as zeros, in order."""
    groupings = list(dict.fromkeys(groupings))
    for g in groupings:
        if g not in GROUPINGS:
            raise ValueError(f"unknown grouping {g!r}")
    dialect = _dialect()
    offset = utc_offset_minutes(q.period.tz, q.period.start)
    merged: dict[str, dict[object, Figures]] = {g: {} for g in groupings}
    for cohort in ("reported", "registered", "tasks"):
        for g, rows in _run_cohort(cohort, q, groupings, dialect, offset).items():
            for key, values in rows.items():
                key = str(key) if g in BUCKETS and key is not None else key
                fig = merged[g].setdefault(key, Figures(key=key))
                for name, value in values.items():
                    setattr(fig, name, value)
    result = {}
    for g in groupings:
        rows = merged[g]
        if g == "total":
            result[g] = [rows.get(None, Figures(key=None, label="合计"))]
            continue
        if g in BUCKETS:
            for key in bucket_keys(g, q.period):
                rows.setdefault(key, Figures(key=key))
            ordered = [rows[k] for k in sorted(rows, key=str)]
        else:
            ordered = sorted(rows.values(), key=lambda f: (f.key is None, str(f.key)))
        _attach_labels(g, ordered)
        result[g] = ordered
    return result


def compute(q: StatsQuery, grouping: str = "total") -> list[Figures]:
    return compute_many(q, [grouping])[grouping]


def totals(q: StatsQuery) -> Figures:
    return compute(q, "total")[0]


def bucket_keys(bucket: str, period: Period) -> list[str]:
    keys, day = [], period.first
    while day <= period.last:
        if bucket == "day":
            key = day.isoformat()
        elif bucket == "week":
            key = (day - timedelta(days=day.weekday())).isoformat()
        else:
            key = f"{day.year:04d}-{day.month:02d}"
        if not keys or keys[-1] != key:
            keys.append(key)
        day += timedelta(days=1)
    return keys


UNKNOWN_LABELS = {"department": "（未派遣）", "reporter": "（非网格员上报）", "category": "（未分类）",
                  "subcategory": "（未分类）"}
UNKNOWN_AREA = "（未定位）"


def _attach_labels(grouping: str, rows: list[Figures]) -> None:
    keys = [r.key for r in rows if r.key is not None]
    names: dict = {}
    if keys and grouping in AREA_GROUPINGS:
        names = dict(db.session.execute(select(Area.code, Area.name).where(Area.code.in_(keys))).all())
    elif keys and grouping == "department":
        names = dict(db.session.execute(
            select(Department.code, Department.name).where(Department.code.in_(keys))).all())
    elif keys and grouping in ("category", "subcategory"):
        names = dict(db.session.execute(
            select(Category.code, Category.name_zh).where(Category.code.in_(keys))).all())
    elif keys and grouping == "reporter":
        names = {uid: (display or username) for uid, display, username in db.session.execute(
            select(User.id, User.display_name, User.username).where(User.id.in_(keys))).all()}
    for row in rows:
        if grouping == "total":
            row.label = "合计"
        elif row.key is None:
            row.label = UNKNOWN_LABELS.get(grouping, UNKNOWN_AREA)
        elif grouping in BUCKETS:
            row.label = str(row.key)
        else:
            row.label = names.get(row.key, str(row.key))


def list_events_stmt(figure: str, q: StatsQuery):
    """SELECT of the events behind one figure, newest first (for the drill-down list and exports)."""
    if figure not in EVENT_FIGURES:
        raise ValueError(figure)
    order = Event.reported_at if figure in ("reported", "self_resolved") else Event.registered_at
    return select(Event).where(event_figure_clause(figure, q)).order_by(order.desc(), Event.id.desc())


__all__ = [
    "GROUPINGS", "EVENT_FIGURES", "StatsQuery", "Figures", "compute", "compute_many", "totals",
    "event_figure_clause", "list_events_stmt", "bucket_keys",
]
