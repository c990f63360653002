"""The statistics service agrees with a brute-force recomputation, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select, text

from gridgov.extensions import db
from gridgov.models import Area, Department, User
from gridgov.services import stats
from gridgov.services.stats.figures import Figures
from gridgov.services.stats.periods import Period
from tests.conftest import EVENT_TABLES
from tests.integration.stats_rows import EventRow, TaskRow, brute_force, insert_rows

# October 2026 in Shanghai; "now" is mid-November so some October deadlines are still ahead.
PERIOD = Period(date(2026, 10, 1), date(2026, 10, 31), "Asia/Shanghai")
NOW = datetime(2026, 11, 15, 4, 0)
CHECKED = ("total", "township", "village", "grid", "department", "category", "subcategory", "reporter",
           "day", "week", "month")


def wipe():
    db.session.rollback()
    for table in EVENT_TABLES:
        db.session.execute(text(f"DELETE FROM {table}"))
    db.session.execute(text("DELETE FROM events"))
    db.session.commit()


@pytest.fixture
def world(app_ctx):
    """Two townships' grids (two in one village), three departments, two categories, two reporters."""
    townships = db.session.scalars(select(Area.code).where(Area.level == "township").order_by(Area.code)).all()
    grids = []
    for township in townships[:2]:
        grids += db.session.scalars(select(Area.code).where(
            Area.level == "grid", Area.code.startswith(township)).order_by(Area.code).limit(2)).all()
    departments = db.session.scalars(select(Department.code).order_by(Department.code).limit(3)).all()
    users = db.session.scalars(select(User.id).order_by(User.id).limit(2)).all()
    return dict(grids=grids, departments=departments, categories=["0101", "0102", "0201"], reporters=users)


def instant(hours: float) -> datetime:
    """An instant around the period: 0 is the period's start (Oct 1, 00:00 local)."""
    return PERIOD.start + timedelta(hours=hours)


@st.composite
def event_rows(draw, world):
    # Hours from Sep 24 to Nov 12, so events fall before, inside and after October, and around
    # local midnights (UTC 16:00) where a wrong time zone would move them to the next day.
    hours = st.floats(min_value=-24 * 7, max_value=24 * 42, allow_nan=False).map(lambda h: round(h, 1))
    reported = draw(hours)
    state = draw(st.sampled_from(["reported", "registered", "dispatched", "in_progress", "handled",
                                  "returned", "closed", "closed", "rejected", "merged"]))
    row = EventRow(grid_code=draw(st.sampled_from(world["grids"])),
                   category_code=draw(st.sampled_from(world["categories"])),
                   reporter_id=draw(st.sampled_from(world["reporters"] + [None])),
                   reported_at=instant(reported), state=state)
    if state == "closed" and draw(st.booleans()) and draw(st.booleans()):
        row.self_resolved = True
        row.closed_at = row.reported_at
        row.closed_on_time = True
        return row
    if state == "reported" or (state in ("rejected", "merged") and draw(st.booleans())):
        return row
    registered = reported + draw(st.floats(min_value=0, max_value=72).map(lambda h: round(h, 1)))
    row.registered_at = instant(registered)
    row.department_code = draw(st.sampled_from(world["departments"]))
    # The deadline column holds the current deadline: an approved extension simply moved it later.
    row.deadline = instant(registered + draw(st.sampled_from([4, 24, 72, 240, 24 * 40])))
    reworks = draw(st.integers(min_value=0, max_value=2))
    handled = registered
    for _ in range(reworks):
        handled += draw(st.floats(min_value=1, max_value=200))
        row.tasks.append(TaskRow(row.department_code, "reworked", instant(handled)))
    if state == "closed":
        handled += draw(st.floats(min_value=1, max_value=200))
        row.tasks.append(TaskRow(draw(st.sampled_from(world["departments"])), "done", instant(handled)))
        row.closed_at = instant(handled + 1)
        row.closed_on_time = row.closed_at <= row.deadline
        wall = int((row.closed_at - row.registered_at).total_seconds())
        # Returned time is not charged: the stored working seconds already leave it out.
        row.paused_seconds = draw(st.integers(min_value=0, max_value=wall // 2))
        row.handling_working_seconds = draw(st.none() | st.just((wall - row.paused_seconds) // 3))
        row.satisfaction = draw(st.none() | st.integers(min_value=1, max_value=5))
    elif state in ("dispatched", "in_progress"):
        row.tasks.append(TaskRow(row.department_code, state, None))
    elif state == "handled":
        row.tasks.append(TaskRow(row.department_code, "handled", instant(handled + 2)))
    return row


def as_table(rows: list[Figures]) -> dict:
    """Service rows → {key: non-zero counts}, comparable with the oracle (empty buckets dropped)."""
    out = {}
    for fig in rows:
        counts = {name: getattr(fig, name) for name in Figures.COUNTS if getattr(fig, name)}
        if counts:
            out[fig.key] = counts
    return out


def assert_matches(rows: list[EventRow], area: str | None = None):
    q = stats.StatsQuery(period=PERIOD, area=area, now=NOW)
    result = stats.compute_many(q, CHECKED)
    for grouping in CHECKED:
        expected = brute_force(rows, grouping, PERIOD.start, PERIOD.end, NOW, area=area)
        expected = {k: {n: v for n, v in counts.items() if v} for k, counts in expected.items()}
        expected = {k: v for k, v in expected.items() if v}
        assert as_table(result[grouping]) == expected, grouping
    # A single grouping (no GROUPING SETS on PostgreSQL) gives the same numbers.
    assert as_table(stats.compute(q, "township")) == as_table(result["township"])


def test_statistics_equal_brute_force_on_random_rows(world):
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(rows=st.lists(event_rows(world), min_size=0, max_size=25),
           area=st.sampled_from([None, "330521", world["grids"][0][:9], world["grids"][0]]))
    def check(rows, area):
        wipe()
        insert_rows(rows)
        assert_matches(rows, area)

    check()


def test_no_events_gives_zeros_and_no_rates(world):
    q = stats.StatsQuery(period=PERIOD, now=NOW)
    total = stats.totals(q)
    assert (total.reported, total.due, total.tasks_handled) == (0, 0, 0)
    assert total.closure_rate is None and total.avg_handling_hours is None
    assert [f.key for f in stats.compute(q, "week")][:2] == ["2026-09-28", "2026-10-05"]
    assert len(stats.compute(q, "day")) == 31


def test_edge_cases_closed_later_reworked_twice_extension_and_pause(world):
    grid, dept = world["grids"][0], world["departments"][0]
    # Registered in October, closed in November after two reworks; the deadline was extended
    # to Nov 10 and it closed on Nov 8, so it is on time; 10 h of it were returned and not charged.
    late = EventRow(grid, "0101", world["reporters"][0], instant(10), state="closed", department_code=dept,
                    registered_at=instant(11), deadline=datetime(2026, 11, 10), closed_at=datetime(2026, 11, 8),
                    closed_on_time=True, paused_seconds=36000, handling_working_seconds=20 * 3600,
                    tasks=[TaskRow(dept, "reworked", instant(100)), TaskRow(dept, "reworked", instant(200)),
                           TaskRow(dept, "done", datetime(2026, 11, 7))])
    # Registered in October, still open, deadline passed: overdue and due, not closed.
    overdue = EventRow(grid, "0102", None, instant(20), state="dispatched", department_code=dept,
                       registered_at=instant(21), deadline=instant(30))
    # Registered in October, open, deadline after "now": neither due nor overdue.
    pending = EventRow(grid, "0102", None, instant(20), state="in_progress", department_code=dept,
                       registered_at=instant(21), deadline=NOW + timedelta(days=2))
    rows = [late, overdue, pending]
    insert_rows(rows)
    total = stats.totals(stats.StatsQuery(period=PERIOD, now=NOW))
    assert (total.registered, total.due, total.closed, total.closed_on_time, total.overdue) == (3, 2, 1, 1, 1)
    assert (total.tasks_handled, total.tasks_reworked) == (2, 2)  # the final task was handled in November
    assert total.closure_rate == 0.5 and total.on_time_rate == 0.5
    assert total.avg_handling_hours == 20.0  # the stored working time, not closed_at − registered_at
    november = Period(date(2026, 11, 1), date(2026, 11, 30), "Asia/Shanghai")
    nov = stats.totals(stats.StatsQuery(period=november, now=NOW))
    assert (nov.registered, nov.closed, nov.tasks_handled, nov.tasks_reworked) == (0, 0, 1, 0)
    assert_matches(rows)


def test_local_midnight_decides_the_day(world):
    # 2026-10-01 15:59 UTC is Oct 1 23:59 in Shanghai; 16:00 UTC is already Oct 2.
    rows = [EventRow(world["grids"][0], "0101", None, datetime(2026, 10, 1, 15, 59)),
            EventRow(world["grids"][0], "0101", None, datetime(2026, 10, 1, 16, 0)),
            EventRow(world["grids"][0], "0101", None, datetime(2026, 9, 30, 16, 0))]
    insert_rows(rows)
    days = {f.key: f.reported for f in stats.compute(stats.StatsQuery(period=PERIOD, now=NOW), "day")}
    assert days["2026-10-01"] == 2 and days["2026-10-02"] == 1
    assert sum(days.values()) == 3


def test_drill_down_lists_exactly_the_events_behind_each_figure(world):
    dept = world["departments"][0]
    rows = [EventRow(world["grids"][i % 4], "0101", None, instant(5 * i), state=s, department_code=dept,
                     registered_at=instant(5 * i + 1), deadline=instant(5 * i + 30),
                     closed_at=instant(5 * i + 20) if s == "closed" else None,
                     closed_on_time=True if s == "closed" else None,
                     tasks=[TaskRow(dept, "reworked", instant(5 * i + 3))] if i % 3 == 0 else [])
            for i, s in enumerate(["closed", "dispatched", "closed", "handled", "closed", "in_progress"])]
    insert_rows(rows)
    q = stats.StatsQuery(period=PERIOD, now=NOW)
    for grouping in ("total", "township", "department"):
        for fig in stats.compute(q, grouping):
            narrow = q.narrowed(grouping, fig.key) if fig.key is not None else q
            for figure in stats.EVENT_FIGURES:
                listed = db.session.scalars(stats.list_events_stmt(figure, narrow)).all()
                if figure.startswith("tasks_"):
                    assert len(listed) <= getattr(fig, figure)
                else:
                    assert len(listed) == getattr(fig, figure), (grouping, fig.key, figure)
