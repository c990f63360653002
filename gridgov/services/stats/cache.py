"""The sealed-month cache: a summary table that makes a year's dashboard cheap.

An event in a final state (closed, rejected, merged) no longer changes its contribution to any
figure, and neither do its tasks — and, being final, it is neither overdue nor "due" by deadline,
so its part of a month does not depend on `now`. For every whole past month of a request, the
counts of final events are therefore computed once (all months in one pass, the month leading each
GROUPING SET) and stored in `stats_month_cache` per request signature (area, filters, groupings).
A request then adds: the cached final part + a live query over the few events still open in those
months + live queries for the partial months at either end. All figures are counts or sums, so the
parts add up exactly (the property test compares the result with a brute-force recount).

Invalidation: any change to an event bumps its `updated_at` (the model's onupdate; a fired
workflow action also writes its tasks in the same transaction). Before using an entry computed at
W, we look up the months touched by events updated since W − margin (by reported, registered, and
task handled month; index on updated_at) and recompute those. Rows are never deleted in this
system; code that deletes events, or updates them with raw SQL without setting `updated_at`, must
call `clear()`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, insert, select, union
from sqlalchemy.exc import IntegrityError

from gridgov.extensions import db
from gridgov.models import Event, StatsMonthCache, Task
from gridgov.services.stats.figures import COHORTS, FINAL_STATES
from gridgov.services.stats.grouping import run_cohort
from gridgov.services.stats.periods import BUCKETS, Period, add_months, bucket_expr, bucket_key, month_period
from gridgov.timeutil import utcnow

CACHE_VERSION = 1
# Clock skew between application servers writing updated_at and the one reading the cache.
MARGIN = timedelta(minutes=5)


def enabled() -> bool:
    return bool(current_app.config.get("STATS_CACHE", True))


def plan(period: Period, now: datetime) -> tuple[list[Period], list[Period]]:
    """Split a period into live sub-periods and the whole past months that the cache can serve."""
    months: list[Period] = []
    first = period.first if period.first.day == 1 else add_months(period.first.replace(day=1), 1)
    while True:
        month = month_period(first.year, first.month, period.tz)
        if month.last > period.last or month.end > now:
            break
        months.append(month)
        first = add_months(first, 1)
    if not months:
        return [period], []
    live = []
    if period.first < months[0].first:
        live.append(Period(period.first, months[0].first - timedelta(days=1), period.tz))
    if months[-1].last < period.last:
        live.append(Period(months[-1].last + timedelta(days=1), period.last, period.tz))
    return live, months


def signature(q, groupings: list[str], offset: int) -> str:
    facts = {"v": CACHE_VERSION, "area": q.area, "category": q.category, "department": q.department,
             "reporter": q.reporter, "groupings": sorted(groupings), "offset": offset}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def touched_months(since: datetime, dialect: str, offset: int) -> set[str]:
    """Local months (by any cohort's timestamp) of events changed since `since`."""
    changed = Event.updated_at >= since
    reported = select(bucket_expr(dialect, "month", Event.reported_at, offset).label("m")).where(changed)
    registered = select(bucket_expr(dialect, "month", Event.registered_at, offset).label("m")).where(
        changed, Event.registered_at.is_not(None))
    handled = (select(bucket_expr(dialect, "month", Task.handled_at, offset).label("m"))
               .select_from(Task.__table__.join(Event.__table__, Task.event_id == Event.id))
               .where(changed, Task.handled_at.is_not(None)))
    return {bucket_key("month", m) for (m,) in db.session.execute(union(reported, registered, handled))}


def _encode(partial: dict) -> dict:
    # Bucket keys come back as timestamps on PostgreSQL; store them as their text keys.
    return {g: [[bucket_key(g, key) if g in BUCKETS else key, {n: int(v or 0) for n, v in values.items()}]
                for key, values in rows.items()] for g, rows in partial.items()}


def _decode(payload: dict) -> dict:
    return {g: {key: values for key, values in rows} for g, rows in payload.items()}


def sealed_parts(q, groupings: list[str], months: list[Period], dialect: str, offset: int) -> list[dict]:
    """The final-event counts of each month, from the cache or computed (and stored) now."""
    sig = signature(q, groupings, offset)
    wanted = [f"{m.first.year:04d}-{m.first.month:02d}" for m in months]
    rows = {r.month: r for r in db.session.execute(
        select(StatsMonthCache).where(StatsMonthCache.signature == sig, StatsMonthCache.month.in_(wanted))
    ).scalars()}
    stale: set[str] = set()
    if rows:
        stale = touched_months(min(r.computed_at for r in rows.values()) - MARGIN, dialect, offset)
    missing = [key for key in wanted if key not in rows or key in stale]
    parts = [_decode(rows[key].payload[cohort]) for key in wanted if key not in missing for cohort in COHORTS]
    if missing:
        computed_at = utcnow()
        first = date.fromisoformat(missing[0] + "-01")
        last_month = date.fromisoformat(missing[-1] + "-01")
        span = Period(first, month_period(last_month.year, last_month.month, q.period.tz).last, q.period.tz)
        fresh: dict[str, dict] = {key: {cohort: {} for cohort in COHORTS} for key in missing}
        for cohort in COHORTS:
            by_month = run_cohort(cohort, replace(q, period=span), groupings, dialect, offset,
                                   states=FINAL_STATES, per_month=True)
            for key in missing:
                fresh[key][cohort] = by_month.get(key, {})
        for key in missing:
            parts.extend(fresh[key][cohort] for cohort in COHORTS)
        _store(sig, {key: {c: _encode(p) for c, p in fresh[key].items()} for key in missing}, computed_at)
    return parts


def _store(sig: str, payloads: dict[str, dict], computed_at: datetime) -> None:
    """Written on a connection of its own, so a read-only request never commits its session."""
    try:
        with db.engine.begin() as conn:
            conn.execute(delete(StatsMonthCache).where(StatsMonthCache.signature == sig,
                                                       StatsMonthCache.month.in_(list(payloads))))
            conn.execute(insert(StatsMonthCache), [
                {"signature": sig, "month": key, "computed_at": computed_at, "payload": payload}
                for key, payload in payloads.items()])
    except IntegrityError:  # another request stored the same months meanwhile: theirs is as good
        pass


def clear() -> int:
    """Forget every cached month (after deleting events or bulk SQL updates)."""
    with db.engine.begin() as conn:
        return conn.execute(delete(StatsMonthCache)).rowcount
