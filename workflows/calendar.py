"""Working-day calendar for mainland China: which days are worked, the working hours, and time arithmetic
in natural hours, working hours and working days, all in one configured timezone.

Which days are worked comes from the maintained `chinesecalendar` package (statutory holidays and the 调休
make-up workdays published each year by the State Council), then from `overrides`, a date → is-workday
mapping the app seeds from a table an admin edits (local arrangements, or a new year before the package
knows it).  Overrides win.  For a year the package does not cover and no override mentions, days fall back
to Monday–Friday, with a `CalendarFallbackWarning` once per year.

Conventions (数字城管 time limits):

* ``natural_hours`` / ``natural_days``: elapsed physical time, holidays included.
* ``working_hours``: only time inside the working periods of working days counts (default 08:30–12:00 and
  14:00–17:30, 7 h a day).  The deadline is the earliest instant at which that much working time has
  elapsed, so 2 working hours from 11:00 ends at 15:00, and a limit that runs out at 17:30 ends at 17:30, not
  at 08:30 the next working day.
* ``working_days``: N working days = N × the working-day length in working time (the 数字城管 convention: one
  工作日 counted from the moment of dispatch, so Tuesday 10:00 + 1 working day = Wednesday 10:00; dispatched
  after hours, the clock starts at the next working period).  Fractions are allowed (0.5 = 3.5 h).
* ``working_days_end``: the administrative convention of 12345 hotlines and 行政期间 ("N个工作日内办结"):
  the start day is not counted; the deadline is the end of the Nth working day after it.

Speed: whether a day is worked is cached per year as a prefix count, so `working_seconds_between` costs
O(1) per pair within a year (plus one step per year crossed), whatever the span; `add_time` walks days, O(days).
"""

from __future__ import annotations

import datetime as dt
import threading
import warnings
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar import constants as _cc_data

UNITS = ("natural_hours", "natural_days", "working_hours", "working_days", "working_days_end")
DEFAULT_HOURS = (("08:30", "12:00"), ("14:00", "17:30"))
DEFAULT_TIMEZONE = "Asia/Shanghai"

_UTC = dt.timezone.utc
_DAY = 86400

# The years the package holds data for (it raises NotImplementedError outside them).
PACKAGE_YEARS = range(min(_cc_data.holidays).year, max(_cc_data.holidays).year + 1)


class CalendarFallbackWarning(UserWarning):
    """A year the holiday data does not cover: Monday–Friday is assumed until an admin enters overrides."""


def _seconds(t: dt.time | str) -> int:
    if isinstance(t, str):
        t = dt.time.fromisoformat(t)
    return t.hour * 3600 + t.minute * 60 + t.second


def _sod(local: dt.datetime) -> float:
    """Seconds since local midnight."""
    return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6


def _require_aware(value: dt.datetime, name: str) -> None:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


class WorkCalendar:
    def __init__(self, tz: str | dt.tzinfo = DEFAULT_TIMEZONE,
                 hours: Iterable[tuple[dt.time | str, dt.time | str]] = DEFAULT_HOURS,
                 overrides: Mapping[dt.date, bool] | None = None):
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        periods = sorted((_seconds(a), _seconds(b)) for a, b in hours)
        if not periods:
            raise ValueError("at least one working period is needed")
        for (s, e), nxt in zip(periods, periods[1:] + [(None, None)]):
            if not 0 <= s < e <= _DAY:
                raise ValueError(f"bad working period {s}..{e}")
            if nxt[0] is not None and nxt[0] < e:
                raise ValueError("working periods overlap")
        self.periods: tuple[tuple[int, int], ...] = tuple(periods)
        self.day_seconds: int = sum(e - s for s, e in periods)
        self._lock = threading.Lock()
        self._overrides: dict[dt.date, bool] = {}
        self._years: dict[int, tuple[int, bytes, list[int]]] = {}
        self._warned: set[int] = set()
        if overrides:
            self.set_overrides(overrides)

    # -- which days are worked ---------------------------------------------------------------------------
    def set_overrides(self, overrides: Mapping[dt.date, bool]) -> None:
        """Replace the admin's overrides (date → is_workday) and drop the cached years."""
        clean = {}
        for day, worked in overrides.items():
            if isinstance(day, dt.datetime):
                day = day.date()
            if isinstance(day, str):
                day = dt.date.fromisoformat(day)
            clean[day] = bool(worked)
        with self._lock:
            self._overrides = clean
            self._years = {}

    @property
    def overrides(self) -> Mapping[dt.date, bool]:
        return dict(self._overrides)

    def _base_is_workday(self, day: dt.date) -> bool:
        if day.year in PACKAGE_YEARS:
            return chinese_calendar.is_workday(day)
        if day.year not in self._warned:
            self._warned.add(day.year)
            warnings.warn(f"no holiday data for {day.year}: assuming Monday–Friday working days; "
                          f"enter the year's holidays as calendar overrides", CalendarFallbackWarning,
                          stacklevel=4)
        return day.weekday() < 5

    def _year(self, year: int) -> tuple[int, bytes, list[int]]:
        """(ordinal of 1 January, worked flag per day of year, prefix counts: cum[i] = worked days among the
        first i days)."""
        table = self._years.get(year)
        if table is None:
            first = dt.date(year, 1, 1)
            n = (dt.date(year + 1, 1, 1) - first).days
            overrides = self._overrides
            flags = bytearray(n)
            cum = [0] * (n + 1)
            base_needed = any((first + dt.timedelta(i)) not in overrides for i in range(n))
            for i in range(n):
                day = first + dt.timedelta(i)
                worked = overrides[day] if day in overrides else (base_needed and self._base_is_workday(day))
                flags[i] = worked
                cum[i + 1] = cum[i] + worked
            table = (first.toordinal(), bytes(flags), cum)
            self._years[year] = table
        return table

    def is_workday(self, day: dt.date | dt.datetime) -> bool:
        if isinstance(day, dt.datetime):
            _require_aware(day, "day")
            day = day.astimezone(self.tz).date()
        first, flags, _ = self._year(day.year)
        return bool(flags[day.toordinal() - first])

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Number of working days in [start, end)."""
        if end <= start:
            return 0
        first, _, cum = self._year(start.year)
        if start.year == end.year:
            return cum[end.toordinal() - first] - cum[start.toordinal() - first]
        total = cum[-1] - cum[start.toordinal() - first]
        for year in range(start.year + 1, end.year):
            total += self._year(year)[2][-1]
        first, _, cum = self._year(end.year)
        return total + cum[end.toordinal() - first]

    def next_workday(self, day: dt.date) -> dt.date:
        """The first working day strictly after `day`."""
        day += dt.timedelta(1)
        for _ in range(3660):
            if self.is_workday(day):
                return day
            day += dt.timedelta(1)
        raise ValueError("no working day within ten years")  # only reachable by absurd overrides

    # -- working time -------------------------------------------------------------------------------------
    def _overlap(self, a: float, b: float) -> float:
        """Working seconds between two times of day on a working day."""
        total = 0.0
        for s, e in self.periods:
            lo, hi = max(a, s), min(b, e)
            if hi > lo:
                total += hi - lo
        return total

    def _at(self, day: dt.date, seconds: float) -> dt.datetime:
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=self.tz)
        return midnight + dt.timedelta(seconds=seconds)

    def working_seconds_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working seconds from `a` to `b` (negative when b is before a)."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        if b < a:
            return -self.working_seconds_between(b, a)
        la, lb = a.astimezone(self.tz), b.astimezone(self.tz)
        da, db = la.date(), lb.date()
        if da == db:
            return self._overlap(_sod(la), _sod(lb)) if self.is_workday(da) else 0.0
        first = self._overlap(_sod(la), _DAY) if self.is_workday(da) else 0.0
        last = self._overlap(0, _sod(lb)) if self.is_workday(db) else 0.0
        return first + last + self.workdays_between(da + dt.timedelta(1), db) * self.day_seconds

    def working_hours_between(self, a: dt.datetime, b: dt.datetime) -> float:
        return self.working_seconds_between(a, b) / 3600

    def working_seconds_many(self, pairs: Iterable[tuple[dt.datetime, dt.datetime]]) -> list[float]:
        """`working_seconds_between` for many (start, end) pairs, e.g. mean handling time over a period."""
        return [self.working_seconds_between(a, b) for a, b in pairs]

    def add_working_seconds(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The earliest instant at which `seconds` of working time have elapsed since `start`."""
        _require_aware(start, "start")
        if seconds < 0:
            raise ValueError("cannot add negative working time")
        local = start.astimezone(self.tz)
        if seconds == 0:
            return local
        day, t = local.date(), _sod(local)
        remaining = float(seconds)
        while True:
            if self.is_workday(day):
                if t <= self.periods[0][0] and remaining > self.day_seconds:
                    remaining -= self.day_seconds  # a whole working day: skip it without walking its periods
                else:
                    for s, e in self.periods:
                        if t >= e:
                            continue
                        begin = max(t, s)
                        available = e - begin
                        if remaining <= available:
                            return self._at(day, begin + remaining)
                        remaining -= available
            day += dt.timedelta(1)
            t = 0.0

    def add_time(self, start: dt.datetime, amount: float, unit: str) -> dt.datetime:
        """The deadline `amount` `unit`s after `start` (see the module docstring for each unit)."""
        _require_aware(start, "start")
        if amount < 0:
            raise ValueError("amount must not be negative")
        if unit == "natural_hours":
            return (start.astimezone(_UTC) + dt.timedelta(hours=amount)).astimezone(self.tz)
        if unit == "natural_days":
            return (start.astimezone(_UTC) + dt.timedelta(days=amount)).astimezone(self.tz)
        if unit == "working_hours":
            return self.add_working_seconds(start, amount * 3600)
        if unit == "working_days":
            return self.add_working_seconds(start, amount * self.day_seconds)
        if unit == "working_days_end":
            if amount != int(amount) or amount < 1:
                raise ValueError("working_days_end needs a whole number of days ≥ 1")
            day = start.astimezone(self.tz).date()
            for _ in range(int(amount)):
                day = self.next_workday(day)
            return self._at(day, self.periods[-1][1])
        raise ValueError(f"unknown time unit {unit!r}; expected one of {', '.join(UNITS)}")


_default: WorkCalendar | None = None


def default_calendar() -> WorkCalendar:
    """A process-wide calendar with the default timezone and hours and no overrides."""
    global _default
    if _default is None:
        _default = WorkCalendar()
    return _default


def add_time(start: dt.datetime, amount: float, unit: str, calendar: WorkCalendar | None = None) -> dt.datetime:
    return (calendar or default_calendar()).add_time(start, amount, unit)


def working_seconds_between(a: dt.datetime, b: dt.datetime, calendar: WorkCalendar | None = None) -> float:
    return (calendar or default_calendar()).working_seconds_between(a, b)


def is_workday(day: dt.date, calendar: WorkCalendar | None = None) -> bool:
    return (calendar or default_calendar()).is_workday(day)
