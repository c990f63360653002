"""Public event numbers like 20261122-0001: a per-day counter bumped atomically in the database."""
from __future__ import annotations

from datetime import datetime
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


def next_event_number(now_utc: datetime, tz_name: str) -> str:
    local_day = now_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(tz_name)).strftime("%Y%m%d")
    value = db.session.execute(_NEXT_VALUE, {"day": local_day}).scalar_one()
    return f"{local_day}-{value:04d}"
