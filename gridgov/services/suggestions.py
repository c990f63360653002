"""Where and by when to dispatch an event: the category's default department, the grid's responsible
departments (GridDepartment) and the deadline the working-day calendar gives for the category's time limit."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_

from gridgov.extensions import db
from gridgov.models import Department, Event, GridDepartment
from gridgov.services.calendar import work_calendar
from gridgov.services.deadlines import default_deadline
from gridgov.timeutil import as_aware_utc, utcnow


@dataclass(frozen=True)
class DispatchSuggestion:
    default_department: str | None  # the category's default
    grid_departments: tuple[str, ...]  # responsible for the event's grid
    deadline: datetime  # aware UTC, if dispatched now

    @property
    def department_codes(self) -> tuple[str, ...]:
        first = (self.default_department,) if self.default_department else ()
        return first + tuple(c for c in self.grid_departments if c != self.default_department)

    @property
    def department(self) -> str | None:
        codes = self.department_codes
        return codes[0] if codes else None


def dispatch_suggestion(event: Event, now: datetime | None = None) -> DispatchSuggestion:
    grid_departments = ()
    if event.grid_code:
        grid_departments = tuple(db.session.scalars(
            db.select(GridDepartment.department_code).where(GridDepartment.area_code == event.grid_code)
            .order_by(GridDepartment.department_code)))
    default = event.category.default_department_code if event.category else None
    start = as_aware_utc(now or utcnow()).replace(microsecond=0, second=0)
    return DispatchSuggestion(default, grid_departments, default_deadline(event, start, work_calendar()))


def department_serves(department: Department, event: Event) -> bool:
    """A county department works anywhere in the county; a township's only in its township."""
    return department.level == "county" or (bool(event.township_code) and department.area_code == event.township_code)


def department_choices(event: Event | None = None) -> list[Department]:
    """Active departments a dispatch may go to (the SQL twin of department_serves)."""
    query = db.select(Department).where(Department.active.is_(True))
    if event is not None:
        query = query.where(or_(Department.level == "county", Department.area_code == (event.township_code or "")))
    return list(db.session.scalars(query.order_by(Department.level, Department.code)))
