"""The statistics entry point: every grouping of one request, with names, from live queries and
the sealed-month cache. The dashboard, the API and the exports all call `compute_many`.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Iterable

from sqlalchemy import select, text

from gridgov.extensions import db
from gridgov.models import Area, Category, Department, User
from gridgov.models.events import OPEN_STATES
from gridgov.services.stats import cache
from gridgov.services.stats.figures import AREA_GROUPINGS, COHORTS, GROUPINGS, Figures, StatsQuery
from gridgov.services.stats.grouping import add_partial, dialect_name, run_cohort
from gridgov.services.stats.periods import BUCKETS, Period, utc_offset_minutes


def compute_many(q: StatsQuery, groupings: Iterable[str], *, use_cache: bool | None = None
                 ) -> dict[str, list[Figures]]:
    """All figures for each grouping: {grouping: [Figures…]} ("total" gives one row, key None).
    Time groupings list every bucket of the period, empty ones as zeros, in order.

    Whole past months come from the sealed-month cache (see `cache`) plus a live query over the
    events still open; the rest of the period is counted live. `use_cache=False` counts all live."""
    groupings = list(dict.fromkeys(groupings))
    for g in groupings:
        if g not in GROUPINGS:
            raise ValueError(f"unknown grouping {g!r}")
    dialect = dialect_name()
    if dialect == "postgresql":
        # These are short aggregates; JIT compilation costs more (20–60 ms a query) than it saves,
        # and a little more memory keeps a year's GROUPING SETS in hash tables instead of sorts.
        db.session.execute(text("SET LOCAL jit = off"))
        db.session.execute(text("SET LOCAL work_mem = '32MB'"))
    offset = utc_offset_minutes(q.period.tz, q.period.start)
    merged: dict[str, dict[object, Figures]] = {g: {} for g in groupings}
    if use_cache is None:
        use_cache = cache.enabled()
    live, months = cache.plan(q.period, q.now) if use_cache else ([q.period], [])
    for cohort in COHORTS:
        for sub in live:
            add_partial(merged, run_cohort(cohort, replace(q, period=sub), groupings, dialect, offset))
        if months:
            span = replace(q, period=Period(months[0].first, months[-1].last, q.period.tz))
            add_partial(merged, run_cohort(cohort, span, groupings, dialect, offset, states=OPEN_STATES))
    if months:
        for partial in cache.sealed_parts(q, groupings, months, dialect, offset):
            add_partial(merged, partial)
    result = {}
    for g in groupings:
        rows = merged[g]
        if g == "total":
            result[g] = [rows.get(None, Figures(key=None, label="合计"))]
            continue
        if g in BUCKETS:
            for key in bucket_keys(g, q.period):
                rows.setdefault(key, Figures(key=key))
            ordered = [rows[k] for k in sorted(rows, key=str)]
        else:
            ordered = sorted(rows.values(), key=lambda f: (f.key is None, str(f.key)))
        _attach_labels(g, ordered, q.area)
        result[g] = ordered
    return result


def compute(q: StatsQuery, grouping: str = "total") -> list[Figures]:
    return compute_many(q, [grouping])[grouping]


def totals(q: StatsQuery) -> Figures:
    return compute(q, "total")[0]


def bucket_keys(bucket: str, period: Period) -> list[str]:
    keys, day = [], period.first
    while day <= period.last:
        if bucket == "day":
            key = day.isoformat()
        elif bucket == "week":
            key = (day - timedelta(days=day.weekday())).isoformat()
        else:
            key = f"{day.year:04d}-{day.month:02d}"
        if not keys or keys[-1] != key:
            keys.append(key)
        day += timedelta(days=1)
    return keys


UNKNOWN_LABELS = {"department": "（未派遣）", "reporter": "（非网格员上报）", "category": "（未分类）",
                  "subcategory": "（未分类）"}
UNKNOWN_AREA = "（未定位）"


def _attach_labels(grouping: str, rows: list[Figures], area: str | None = None) -> None:
    """Names for the keys. Areas are read by level (and area prefix), not by a list of keys: a
    county has 10,000 grids, and an IN list that long costs more than the aggregate itself."""
    keys = [r.key for r in rows if r.key is not None]
    names: dict = {}
    if keys and grouping in AREA_GROUPINGS:
        stmt = select(Area.code, Area.name).where(Area.level == grouping)
        if area:
            stmt = stmt.where(Area.code.startswith(area))
        names = dict(db.session.execute(stmt).all())
    elif keys and grouping == "department":
        names = dict(db.session.execute(select(Department.code, Department.name)).all())
    elif keys and grouping in ("category", "subcategory"):
        names = dict(db.session.execute(select(Category.code, Category.name_zh)).all())
    elif keys and grouping == "reporter":
        stmt = select(User.id, User.display_name, User.username)
        if len(keys) <= 500:
            stmt = stmt.where(User.id.in_(keys))
        names = {uid: (display or username) for uid, display, username in db.session.execute(stmt).all()}
    for row in rows:
        if grouping == "total":
            row.label = "合计"
        elif row.key is None:
            row.label = UNKNOWN_LABELS.get(grouping, UNKNOWN_AREA)
        elif grouping in BUCKETS:
            row.label = str(row.key)
        else:
            row.label = names.get(row.key, str(row.key))
