"""Time helpers: the database stores naive UTC; people see the configured local zone."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

# The days a request may name. Instants are converted between zones and periods into month buckets:
# year 1 or 9999 would overflow `datetime` on the way, and nothing here happened before 1970.
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def utcnow() -> datetime:
    """Naive UTC now, the form every DateTime column holds (portable across SQLite and PostgreSQL)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def as_aware_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def to_naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def to_local(value: datetime | None, tz_name: str) -> datetime | None:
    aware = as_aware_utc(value)
    return aware.astimezone(ZoneInfo(tz_name)) if aware else None
