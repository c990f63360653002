"""The working-day calendar the app uses: workflows.calendar plus the admin's overrides table."""
from __future__ import annotations

import threading
import time

from flask import current_app

from gridgov.extensions import db
from gridgov.models import CalendarDay
from workflows.calendar import WorkCalendar

_lock = threading.Lock()
_cache: dict[tuple, WorkCalendar] = {}
# How often a process re-reads the overrides table: an admin's edit shows up within this many seconds,
# and the hundreds of actions in between cost no query.
RECHECK_SECONDS = 30.0
_checked: dict[str, tuple[float, tuple]] = {}


def _overrides_key() -> tuple:
    # Rows added, removed or flipped change one of these; notes do not matter to deadlines.
    count, latest, workdays = db.session.execute(
        db.select(db.func.count(), db.func.max(CalendarDay.day),
                  db.func.sum(db.case((CalendarDay.is_workday, 1), else_=0)))
    ).one()
    return count, latest, workdays


def work_calendar() -> WorkCalendar:
    """One calendar per process and override set; an admin's edit shows up within RECHECK_SECONDS."""
    url = db.engine.url  # a hashable value; rendering it as text on every action would cost more than the rest
    seen = _checked.get(url)
    if seen is None or time.monotonic() - seen[0] > RECHECK_SECONDS:
        seen = (time.monotonic(), _overrides_key())
        _checked[url] = seen
    key = (current_app.config["GRIDGOV_TIMEZONE"], url, seen[1])
    calendar = _cache.get(key)
    if calendar is not None:
        return calendar
    with _lock:
        overrides = {row.day: row.is_workday for row in db.session.scalars(db.select(CalendarDay))}
        calendar = WorkCalendar(current_app.config["GRIDGOV_TIMEZONE"], overrides=overrides)
        _cache[key] = calendar
        return calendar


def forget_cached_calendar() -> None:
    """Call after editing overrides so this process sees them at once (others within RECHECK_SECONDS)."""
    _checked.clear()
