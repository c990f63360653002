"""Event rows for statistics tests, and a brute-force oracle that recomputes every figure in Python.

The oracle reads DESIGN.md's definitions straight off the rows, one event at a time, with none of
the service's SQL: if the two agree on random data, the GROUP BYs mean what the bulletins mean.
"""
from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from gridgov.extensions import db
from gridgov.models import Event, Task

OPEN = {"reported", "registered", "dispatched", "in_progress", "handled", "returned", "escalated", "visited"}
TZ = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
_numbers = itertools.count(1)


@dataclass
class TaskRow:
    department_code: str
    status: str
    handled_at: datetime | None


@dataclass
class EventRow:
    grid_code: str
    category_code: str
    reporter_id: int | None
    reported_at: datetime
    state: str = "reported"
    department_code: str | None = None
    registered_at: datetime | None = None
    deadline: datetime | None = None
    closed_at: datetime | None = None
    closed_on_time: bool | None = None
    self_resolved: bool = False
    handling_working_seconds: int | None = None
    paused_seconds: int = 0
    satisfaction: int | None = None
    tasks: list[TaskRow] = field(default_factory=list)

    @property
    def township_code(self):
        return self.grid_code[:9]

    @property
    def village_code(self):
        return self.grid_code[:12]


def insert_rows(rows: list[EventRow]) -> list[int]:
    if not rows:
        return []
    payload = []
    for r in rows:
        payload.append(dict(
            number=f"T{next(_numbers):09d}", category_code=r.category_code, lon=120.0, lat=30.6,
            county_code=r.grid_code[:6], township_code=r.township_code, village_code=r.village_code,
            grid_code=r.grid_code, reporter_id=r.reporter_id, state=r.state, department_code=r.department_code,
            reported_at=r.reported_at, registered_at=r.registered_at, deadline=r.deadline, closed_at=r.closed_at,
            closed_on_time=r.closed_on_time, self_resolved=r.self_resolved, paused_seconds=r.paused_seconds,
            handling_working_seconds=r.handling_working_seconds, satisfaction=r.satisfaction,
            version=1, urgency=1, description="", source="grid_worker", updated_at=r.reported_at,
        ))
    ids = db.session.scalars(insert(Event).returning(Event.id, sort_by_parameter_order=True), payload).all()
    tasks = [dict(event_id=eid, seq=i + 1, department_code=t.department_code, status=t.status,
                  dispatched_at=r.registered_at or r.reported_at, handled_at=t.handled_at)
             for eid, r in zip(ids, rows) for i, t in enumerate(r.tasks)]
    if tasks:
        db.session.execute(insert(Task), tasks)
    db.session.commit()
    return list(ids)


def local_key(bucket: str, value: datetime) -> str:
    day = value.replace(tzinfo=UTC).astimezone(TZ).date()
    if bucket == "day":
        return day.isoformat()
    if bucket == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return day.strftime("%Y-%m")


def brute_force(rows: list[EventRow], grouping: str, start: datetime, end: datetime, now: datetime,
                area: str | None = None) -> dict:
    """{key: {figure: value}} for one grouping (key None for "total"), only non-empty groups."""
    def in_period(ts):
        return ts is not None and start <= ts < end

    def in_area(r):
        return area is None or area in (r.grid_code[:6], r.township_code, r.village_code, r.grid_code)

    def key(r, cohort, task=None):
        if grouping == "total":
            return None
        if grouping in ("township", "village", "grid"):
            return getattr(r, f"{grouping}_code")
        if grouping == "department":
            return task.department_code if task else r.department_code
        if grouping == "category":
            return r.category_code[:2]
        if grouping == "subcategory":
            return r.category_code
        if grouping == "reporter":
            return r.reporter_id
        ts = {"reported": r.reported_at, "registered": r.registered_at}.get(cohort) or task.handled_at
        return local_key(grouping, ts)

    out: dict = defaultdict(lambda: defaultdict(int))
    for r in rows:
        if not in_area(r):
            continue
        if in_period(r.reported_at):
            g = out[key(r, "reported")]
            g["reported"] += 1
            g["self_resolved"] += int(r.self_resolved)
        if in_period(r.registered_at) and r.state not in ("rejected", "merged"):
            g = out[key(r, "registered")]
            closed = r.state == "closed"
            overdue = r.state in OPEN and r.deadline is not None and r.deadline < now
            g["registered"] += 1
            g["closed"] += int(closed)
            g["overdue"] += int(overdue)
            g["due"] += int(closed or overdue)
            g["closed_on_time"] += int(closed and r.closed_on_time is True)
            if closed and r.handling_working_seconds is not None:
                g["handling_count"] += 1
                g["handling_seconds"] += r.handling_working_seconds
            if closed and r.satisfaction is not None:
                g["rated"] += 1
                g["satisfied"] += int(r.satisfaction >= 4)
        for t in r.tasks:
            if in_period(t.handled_at):
                g = out[key(r, "tasks", t)]
                g["tasks_handled"] += 1
                g["tasks_reworked"] += int(t.status == "reworked")
    return {k: dict(v) for k, v in out.items()}
