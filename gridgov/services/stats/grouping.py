"""Running one cohort's GROUP BY (or PostgreSQL GROUPING SETS) and adding partial results.

Every figure is a count or a sum, so results over disjoint parts — sub-periods, open versus final
events, cached months — add up exactly; `add_partial` is the one place that does it.
"""
from __future__ import annotations

from sqlalchemy import func, select, tuple_

from gridgov.extensions import db
from gridgov.models import Event, Task
from gridgov.services.stats.figures import (
    Figures, StatsQuery, group_key, registered_cohort, registered_measures, reported_cohort, reported_measures,
    task_cohort, task_measures,
)
from gridgov.services.stats.periods import BUCKETS, bucket_key


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def run_cohort(cohort: str, q: StatsQuery, groupings: list[str], dialect: str, offset: int, *,
                states: tuple[str, ...] | None = None, per_month: bool = False) -> dict:
    """One cohort, every grouping: {grouping: {key: {measure: value}}}, or with `per_month`
    {local month: {grouping: …}} (the month of the cohort's own timestamp leads every group).
    `states` restricts to events in those states (the cache splits final from open events).

    PostgreSQL computes all groupings in one pass with GROUPING SETS (one scan of the period's
    rows instead of one per table on the dashboard); other databases run one GROUP BY each."""
    if cohort == "reported":
        measures, where, source = reported_measures(), reported_cohort(q), None
    elif cohort == "registered":
        measures, where, source = registered_measures(q.now), registered_cohort(q), None
    else:
        measures, where, source = task_measures(), task_cohort(q), Task.__table__.join(
            Event.__table__, Task.event_id == Event.id)
    if states is not None:
        where = [*where, Event.state.in_(states)]
    names = [m.name for m in measures]
    keys = {g: group_key(g, cohort, dialect, offset) for g in groupings}
    month = group_key("month", cohort, dialect, offset) if per_month else None
    lead = [month] if per_month else []
    out: dict = {}

    def slot(month_value, grouping):
        if not per_month:
            return out.setdefault(grouping, {})
        return out.setdefault(bucket_key("month", month_value), {}).setdefault(grouping, {})

    def base(columns):
        stmt = select(*columns, *measures)
        if source is not None:
            stmt = stmt.select_from(source)
        return stmt.where(*where)

    keyed = [g for g in groupings if keys[g] is not None]
    m = len(lead)
    if dialect == "postgresql" and per_month and "month" in groupings:
        # The "month" grouping is the leading month itself (GROUPING() could not tell the two
        # apart): compute per-month totals and copy them.
        inner = [g for g in groupings if g != "month"]
        out = run_cohort(cohort, q, list(dict.fromkeys([*inner, "total"])), dialect, offset, states=states,
                          per_month=True)
        for month_key, by_grouping in out.items():
            total = by_grouping.get("total", {}).get(None)
            if total is not None:
                by_grouping["month"] = {month_key: total}
            if "total" not in groupings:
                by_grouping.pop("total", None)
        return out
    if dialect == "postgresql" and len(groupings) > 1:
        key_cols = [keys[g].label(f"k{i}") for i, g in enumerate(keyed)]
        flags = [func.grouping(keys[g]).label(f"g{i}") for i, g in enumerate(keyed)]
        sets = [tuple_(*lead, keys[g]) for g in keyed]
        if "total" in groupings:
            sets.append(tuple_(*lead))
        stmt = base([*[c.label("m") for c in lead], *key_cols, *flags]).group_by(func.grouping_sets(*sets))
        n = len(keyed)
        for row in db.session.execute(stmt):
            values = dict(zip(names, row[m + 2 * n:]))
            i = next((i for i in range(n) if row[m + n + i] == 0), None)
            month_value = row[0] if per_month else None
            if i is None:
                slot(month_value, "total")[None] = values
            else:
                slot(month_value, keyed[i])[row[m + i]] = values
        return out
    for g in groupings:
        if keys[g] is None:
            stmt = base(lead).group_by(*lead) if per_month else base([])
            for row in db.session.execute(stmt):
                slot(row[0] if per_month else None, g)[None] = dict(zip(names, row[m:]))
        else:
            stmt = base([*lead, keys[g].label("k")]).group_by(*lead, keys[g])
            for row in db.session.execute(stmt):
                slot(row[0] if per_month else None, g)[row[m]] = dict(zip(names, row[m + 1:]))
    return out


def add_partial(merged: dict[str, dict[object, "Figures"]], partial: dict) -> None:
    """Add one partial result ({grouping: {key: counts}}) into `merged`: every figure is a count
    or a sum, so disjoint parts (months, open vs final events) simply add up."""
    for g, rows in partial.items():
        target = merged.get(g)
        if target is None:
            continue
        for key, values in rows.items():
            key = bucket_key(g, key) if g in BUCKETS else key
            fig = target.get(key)
            if fig is None:
                fig = target[key] = Figures(key=key)
            for name, value in values.items():
                setattr(fig, name, getattr(fig, name) + int(value or 0))
