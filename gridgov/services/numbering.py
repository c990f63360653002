"""Public event numbers like 20261122-0001: a per-day counter bumped atomically in the database.

The counter is a row per day, so numbers are gap-free and in commit order; the price is that the
day's row is locked from the bump until the reporting transaction ends. A report therefore bumps it
as late as it can: on PostgreSQL inside the one statement that writes the whole report, right before
COMMIT (gridgov/services/report_statement.py), so the lock is held for the commit alone.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import text

from gridgov.extensions import db

# One statement that inserts the day's row or bumps it, and returns the new value; both SQLite
# (3.35+) and PostgreSQL support ON CONFLICT … RETURNING, so concurrent reports never share a number.
_NEXT_VALUE = text(
    "INSERT INTO daily_counters (day, value) VALUES (:day, 1) "
    "ON CONFLICT (day) DO UPDATE SET value = daily_counters.value + 1 "
    "RETURNING value"
)

_UTC = ZoneInfo("UTC")


@lru_cache(maxsize=8)
def _zone(tz_name: str) -> ZoneInfo:
    return ZoneInfo(tz_name)


def local_day(now_utc: datetime, tz_name: str) -> str:
    """The counter's day (YYYYMMDD) of a naive-UTC instant, in the county's time zone."""
    return now_utc.replace(tzinfo=_UTC).astimezone(_zone(tz_name)).strftime("%Y%m%d")


def format_number(day: str, value: int) -> str:
    return f"{day}-{value:04d}"


def next_event_number(now_utc: datetime, tz_name: str) -> str:
    day = local_day(now_utc, tz_name)
    value = db.session.execute(_NEXT_VALUE, {"day": day}).scalar_one()
    return format_number(day, value)


def bump_sql(day_param: str, source: str) -> str:
    """PostgreSQL: the bump as a data-modifying CTE body, one row per row of `source` (zero rows: no
    bump); RETURNING value."""
    return (f"INSERT INTO daily_counters (day, value) SELECT %({day_param})s, 1 FROM {source} "
            "ON CONFLICT (day) DO UPDATE SET value = daily_counters.value + 1 RETURNING value")


def number_sql(day_param: str, value_expr: str) -> str:
    """PostgreSQL: format_number() in SQL (at least four digits, more past 9999, as Python's :04d)."""
    return f"(%({day_param})s || '-' || lpad({value_expr}::text, greatest(4, length({value_expr}::text)), '0'))"
