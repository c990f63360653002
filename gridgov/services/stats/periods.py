"""Periods in local time and the SQL that buckets a naive-UTC timestamp into local days, weeks, months.

People ask for "November" in Asia/Shanghai; the database stores naive UTC. A period is a half-open
interval [start, end) of naive UTC instants whose ends are local midnights. Buckets shift the
stored instant by the zone's UTC offset and then truncate, with one expression per dialect.
The offset is the zone's offset at the period start: exact for zones without daylight saving,
such as Asia/Shanghai (UTC+8 all year), which is the zone this system is deployed in.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import literal_column
from sqlalchemy.sql.elements import ColumnElement

BUCKETS = ("day", "week", "month")


@dataclass(frozen=True)
class Period:
    """Local calendar dates [first, last] (inclusive), and their naive-UTC bounds [start, end)."""

    first: date
    last: date
    tz: str

    @property
    def start(self) -> datetime:
        return local_midnight_utc(self.first, self.tz)

    @property
    def end(self) -> datetime:
        return local_midnight_utc(self.last + timedelta(days=1), self.tz)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> "Period":
        """The period just before: the previous calendar month(s)/year when this one is whole
        months, else the same number of days immediately before."""
        if self.first.day == 1 and self.last.day == calendar.monthrange(self.last.year, self.last.month)[1]:
            months = (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1
            first = add_months(self.first, -months)
            last_month = add_months(self.first, -1)
            last = last_month.replace(day=calendar.monthrange(last_month.year, last_month.month)[1])
            return Period(first, last, self.tz)
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1), self.tz)

    def label(self) -> str:
        return f"{self.first.isoformat()} ~ {self.last.isoformat()}"


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def local_midnight_utc(day: date, tz: str) -> datetime:
    aware = datetime.combine(day, time.min, tzinfo=ZoneInfo(tz))
    return aware.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def local_today(tz: str, now_utc: datetime) -> date:
    return now_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(tz)).date()


def preset_period(name: str, tz: str, now_utc: datetime) -> Period:
    """Named periods the dashboard offers: this_month (to date), last_month, this_year, last_7_days…"""
    today = local_today(tz, now_utc)
    if name == "today":
        return Period(today, today, tz)
    if name == "last_7_days":
        return Period(today - timedelta(days=6), today, tz)
    if name == "last_30_days":
        return Period(today - timedelta(days=29), today, tz)
    if name == "this_month":
        return Period(today.replace(day=1), today, tz)
    if name == "last_month":
        first = add_months(today.replace(day=1), -1)
        return Period(first, today.replace(day=1) - timedelta(days=1), tz)
    if name == "this_year":
        return Period(date(today.year, 1, 1), today, tz)
    if name == "last_year":
        return Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), tz)
    raise ValueError(name)


PRESETS = ("today", "last_7_days", "last_30_days", "this_month", "last_month", "this_year", "last_year")


def month_period(year: int, month: int, tz: str) -> Period:
    return Period(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]), tz)


def utc_offset_minutes(tz: str, at_utc: datetime) -> int:
    aware = at_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(tz))
    return int(aware.utcoffset().total_seconds() // 60)


def bucket_expr(dialect: str, bucket: str, column: ColumnElement, offset_minutes: int) -> ColumnElement:
    """A text key for the local day ('2026-11-22'), ISO week by its Monday ('2026-11-16') or
    month ('2026-11') of a naive-UTC column. `offset_minutes` is an int, rendered literally so the
    same expression text can appear in SELECT and GROUP BY (PostgreSQL matches them textually)."""
    if bucket not in BUCKETS:
        raise ValueError(bucket)
    minutes = int(offset_minutes)
    name = _column_sql(column)
    if dialect == "postgresql":
        shifted = f"({name} + interval '{minutes} minutes')"
        sql = {
            "day": f"to_char({shifted}, 'YYYY-MM-DD')",
            "week": f"to_char(date_trunc('week', {shifted}), 'YYYY-MM-DD')",
            "month": f"to_char({shifted}, 'YYYY-MM')",
        }[bucket]
    else:  # SQLite: date modifiers; 'weekday 1' moves forward to Monday, so step back 6 days first
        mod = f"'{minutes:+d} minutes'"
        sql = {
            "day": f"strftime('%Y-%m-%d', {name}, {mod})",
            "week": f"date({name}, {mod}, '-6 days', 'weekday 1')",
            "month": f"strftime('%Y-%m', {name}, {mod})",
        }[bucket]
    return literal_column(sql)


def _column_sql(column: ColumnElement) -> str:
    table = getattr(column, "table", None)
    if table is not None and getattr(table, "name", None):
        return f"{table.name}.{column.name}"
    return column.name


def bucket_bounds(bucket: str, key: str, tz: str) -> Period:
    """The local dates a bucket key covers (for drill-down from a trend point)."""
    if bucket == "day":
        day = date.fromisoformat(key)
        return Period(day, day, tz)
    if bucket == "week":
        monday = date.fromisoformat(key)
        return Period(monday, monday + timedelta(days=6), tz)
    if bucket == "month":
        year, month = (int(x) for x in key.split("-"))
        return month_period(year, month, tz)
    raise ValueError(bucket)


def bucket_key_py(bucket: str, value_utc: datetime, tz: str) -> str:
    """The Python twin of `bucket_expr` (tests and exports of single rows)."""
    local = value_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(tz)).date()
    if bucket == "day":
        return local.isoformat()
    if bucket == "week":
        return (local - timedelta(days=local.weekday())).isoformat()
    return f"{local.year:04d}-{local.month:02d}"
