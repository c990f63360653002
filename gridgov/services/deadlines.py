"""Deadlines from category time limits on the working-day calendar, and the derived deadline status."""
from __future__ import annotations

from datetime import datetime

from flask import current_app

from gridgov.extensions import db
from gridgov.services.reference_rows import keep_loaded
from gridgov.models import Category, Event
from gridgov.timeutil import as_aware_utc, utcnow
from workflows.calendar import WorkCalendar
from workflows.deadlines import deadline_status as _status


def time_limit(category: Category, urgency: int) -> tuple[float, str]:
    """The category's limit; urgent and critical events use the shorter urgent limit when one is set."""
    if urgency >= 2 and category.urgent_time_limit:
        return category.urgent_time_limit, category.time_unit
    return category.time_limit or 1, category.time_unit


def default_deadline(event: Event, start: datetime, calendar: WorkCalendar) -> datetime:
    """Aware UTC deadline for a dispatch of `event` starting at `start` (aware)."""
    category = keep_loaded(event.category or db.session.get(Category, event.category_code))
    amount, unit = time_limit(category, event.urgency or 1)
    return calendar.add_time(start, amount, unit).astimezone(as_aware_utc(start).tzinfo)


def deadline_status(event: Event, now: datetime | None = None) -> str | None:
    """normal / warning / overdue for an event with a running deadline; None when there is none."""
    if event.deadline is None or event.dispatched_at is None or not event.is_open:
        return None
    share = current_app.config["DEADLINE_WARNING_SHARE"]
    return _status(as_aware_utc(event.dispatched_at), as_aware_utc(event.deadline), as_aware_utc(now or utcnow()),
                   share)
