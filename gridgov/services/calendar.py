"""The working-day calendar the app uses: workflows.calendar plus the admin's overrides table."""
from __future__ import annotations

import threading

from flask import current_app

from gridgov.extensions import db
from gridgov.models import CalendarDay
from workflows.calendar import WorkCalendar

_lock = threading.Lock()
_cache: dict[tuple, WorkCalendar] = {}


def _overrides_key() -> tuple:
    count, latest = db.session.execute(
        db.select(db.func.count(), db.func.max(CalendarDay.day))
    ).one()
    return count, latest


def work_calendar() -> WorkCalendar:
    """One calendar per process and override set; an admin's edit shows up at the next call."""
    key = (current_app.config["GRIDGOV_TIMEZONE"], _overrides_key())
    calendar = _cache.get(key)
    if calendar is not None:
        return calendar
    with _lock:
        overrides = {row.day: row.is_workday for row in db.session.scalars(db.select(CalendarDay))}
        calendar = WorkCalendar(current_app.config["GRIDGOV_TIMEZONE"], overrides=overrides)
        _cache.clear()
        _cache[key] = calendar
        return calendar
