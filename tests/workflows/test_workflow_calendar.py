"""Working-day arithmetic across Chinese public holidays, make-up workdays (调休), lunch breaks and nights."""

import datetime as dt
import time
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows import calendar as wcal
from workflows.calendar import CalendarFallbackWarning, WorkCalendar

CN = dt.timezone(dt.timedelta(hours=8))
H = 3600


def at(*args):
    return dt.datetime(*args, tzinfo=CN)


def test_package_data_covers_the_holidays_we_rely_on(cal):
    for day in ("2025-01-28", "2025-02-04", "2025-10-01", "2025-10-08", "2026-02-15", "2026-02-23",
                "2026-10-01", "2026-10-07"):
        assert not cal.is_workday(dt.date.fromisoformat(day)), day
    # make-up workdays on weekends: 2025-01-26 (Sun), 2025-02-08 (Sat), 2025-09-28 (Sun), 2025-10-11 (Sat),
    # 2026-02-14 (Sat), 2026-02-28 (Sat), 2026-09-20 (Sun), 2026-10-10 (Sat)
    for day in ("2025-01-26", "2025-02-08", "2025-09-28", "2025-10-11", "2026-02-14", "2026-02-28",
                "2026-09-20", "2026-10-10"):
        assert cal.is_workday(dt.date.fromisoformat(day)), day
    assert not cal.is_workday(dt.date(2025, 9, 27))  # an ordinary Saturday


def test_spring_festival_2025(cal):
    # Monday 27 January, 16:00: 1.5 h left that day, then eight days off until Wednesday 5 February
    start = at(2025, 1, 27, 16, 0)
    assert cal.add_time(start, 2, "working_hours") == at(2025, 2, 5, 9, 0)
    assert cal.add_time(start, 1, "working_days") == at(2025, 2, 5, 16, 0)
    assert cal.add_time(start, 1, "working_days_end") == at(2025, 2, 5, 17, 30)
    assert cal.add_time(start, 48, "natural_hours") == at(2025, 1, 29, 16, 0)
    assert cal.working_seconds_between(start, at(2025, 2, 5, 9, 30)) == 2.5 * H
    # the Sunday before is a make-up workday
    assert cal.add_time(at(2025, 1, 25, 10, 0), 3, "working_hours") == at(2025, 1, 26, 11, 30)


def test_national_day_2025_with_make_up_saturday_and_sunday(cal):
    # Friday 26 September 17:00 + 1 h: Saturday 27 is off, Sunday 28 is a make-up workday
    assert cal.add_time(at(2025, 9, 26, 17, 0), 1, "working_hours") == at(2025, 9, 28, 9, 0)
    # Tuesday 30 September 16:00 + 1 working day: 1.5 h that day, 5.5 h on Thursday 9 October
    assert cal.add_time(at(2025, 9, 30, 16, 0), 1, "working_days") == at(2025, 10, 9, 16, 0)
    # three working days after 30 September, administrative counting: 9, 10 and Saturday 11 October
    assert cal.add_time(at(2025, 9, 30, 10, 0), 3, "working_days_end") == at(2025, 10, 11, 17, 30)
    assert cal.workdays_between(dt.date(2025, 10, 1), dt.date(2025, 10, 12)) == 3


def test_spring_festival_2026(cal):
    # Friday 13 February 15:00: 2.5 h, then Saturday 14 (make-up), then off 15–23, back Tuesday 24
    start = at(2026, 2, 13, 15, 0)
    assert cal.add_time(start, 1, "working_days") == at(2026, 2, 14, 15, 0)
    assert cal.add_time(start, 2, "working_days") == at(2026, 2, 24, 15, 0)
    # 13, 14, 24, 25, 26, 27 and Saturday 28 February are worked: 7 days of 7 h
    assert cal.working_seconds_between(at(2026, 2, 13, 8, 30), at(2026, 2, 28, 17, 30)) == 49 * H


def test_national_day_2026(cal):
    assert cal.add_time(at(2026, 9, 30, 17, 0), 1, "working_hours") == at(2026, 10, 8, 9, 0)
    assert cal.add_time(at(2026, 9, 30, 12, 0), 3, "working_days_end") == at(2026, 10, 10, 17, 30)


def test_working_hours_across_lunch_and_nights(cal):
    assert cal.add_time(at(2025, 3, 4, 11, 0), 2, "working_hours") == at(2025, 3, 4, 15, 0)
    assert cal.add_time(at(2025, 3, 4, 12, 30), 1, "working_hours") == at(2025, 3, 4, 15, 0)  # lunch
    assert cal.add_time(at(2025, 3, 4, 17, 0), 1, "working_hours") == at(2025, 3, 5, 9, 0)
    assert cal.add_time(at(2025, 3, 4, 22, 0), 1, "working_hours") == at(2025, 3, 5, 9, 30)
    # a limit that runs out at the end of the day ends then, not the next morning
    assert cal.add_time(at(2025, 3, 4, 14, 0), 3.5, "working_hours") == at(2025, 3, 4, 17, 30)
    assert cal.add_time(at(2025, 3, 4, 8, 30), 1, "working_days") == at(2025, 3, 4, 17, 30)
    assert cal.add_time(at(2025, 3, 4, 10, 0), 0.5, "working_days") == at(2025, 3, 4, 15, 30)
    assert cal.add_time(at(2025, 3, 7, 18, 0), 1, "working_days") == at(2025, 3, 10, 17, 30)  # Friday night
    assert cal.working_seconds_between(at(2025, 3, 4, 12, 10), at(2025, 3, 4, 13, 50)) == 0
    assert cal.working_seconds_between(at(2025, 3, 4, 11, 0), at(2025, 3, 4, 15, 0)) == 2 * H
    assert cal.working_seconds_between(at(2025, 3, 4, 15, 0), at(2025, 3, 4, 11, 0)) == -2 * H
    assert cal.add_time(at(2025, 3, 4, 10, 0), 0, "working_hours") == at(2025, 3, 4, 10, 0)


def test_timezones_in_and_out(cal):
    utc_start = dt.datetime(2025, 3, 4, 3, 0, tzinfo=dt.timezone.utc)  # 11:00 in Beijing
    result = cal.add_time(utc_start, 2, "working_hours")
    assert result == at(2025, 3, 4, 15, 0) and result.utcoffset() == dt.timedelta(hours=8)
    with pytest.raises(ValueError):
        cal.add_time(dt.datetime(2025, 3, 4, 11, 0), 1, "working_hours")
    with pytest.raises(ValueError):
        cal.add_time(utc_start, 1, "fortnights")


def test_configurable_hours():
    cal = WorkCalendar(hours=[("09:00", "12:00"), ("13:00", "18:00")])
    assert cal.day_seconds == 8 * H
    assert cal.add_time(at(2025, 3, 4, 9, 0), 1, "working_days") == at(2025, 3, 4, 18, 0)
    with pytest.raises(ValueError):
        WorkCalendar(hours=[("09:00", "12:00"), ("11:00", "18:00")])


def test_unknown_year_falls_back_to_weekdays_with_one_warning():
    cal = WorkCalendar()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cal.is_workday(dt.date(2030, 1, 1))  # a Tuesday; New Year's Day unknown to the package
        assert not cal.is_workday(dt.date(2030, 1, 5))
        assert cal.add_time(at(2030, 1, 4, 17, 0), 1, "working_hours") == at(2030, 1, 7, 9, 0)
    fallback = [w for w in caught if issubclass(w.category, CalendarFallbackWarning)]
    assert len(fallback) == 1 and "2030" in str(fallback[0].message)


def test_overrides_win():
    cal = WorkCalendar(overrides={dt.date(2025, 10, 11): False, "2025-10-08": True, dt.date(2030, 1, 1): False})
    assert not cal.is_workday(dt.date(2025, 10, 11))
    assert cal.is_workday(dt.date(2025, 10, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not cal.is_workday(dt.date(2030, 1, 1))
    cal.set_overrides({})
    assert cal.is_workday(dt.date(2025, 10, 11)) and not cal.is_workday(dt.date(2025, 10, 8))


def test_a_year_fully_overridden_does_not_warn():
    cal = WorkCalendar(overrides={dt.date(2031, 1, 1) + dt.timedelta(i): i % 7 < 5 for i in range(365)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cal.is_workday(dt.date(2031, 1, 1))


def test_module_functions_use_the_default_calendar():
    assert wcal.add_time(at(2025, 3, 4, 11, 0), 2, "working_hours") == at(2025, 3, 4, 15, 0)
    assert wcal.working_seconds_between(at(2025, 3, 4, 11, 0), at(2025, 3, 4, 15, 0)) == 2 * H


def test_fast_enough_for_statistics(cal):
    start = at(2024, 1, 2, 9, 0)
    pairs = [(start + dt.timedelta(hours=i % 20000), start + dt.timedelta(hours=i % 20000 + 37 * (i % 50)))
             for i in range(20000)]
    cal.working_seconds_many(pairs[:10])  # warm the year tables
    t0 = time.perf_counter()
    total = sum(cal.working_seconds_many(pairs))
    assert total > 0 and time.perf_counter() - t0 < 1.0


def _brute_force(cal, a, b):
    """Minute-by-minute reference."""
    total, t = 0, a.astimezone(cal.tz)
    while t < b:
        sod = t.hour * 3600 + t.minute * 60
        if cal.is_workday(t.date()) and any(s <= sod < e for s, e in cal.periods):
            total += 60
        t += dt.timedelta(minutes=1)
    return total


minutes = st.integers(0, 60 * 24 * 12).map(lambda m: at(2025, 9, 24) + dt.timedelta(minutes=m))


@settings(max_examples=25, deadline=None)
@given(minutes, st.integers(0, 60 * 24 * 4))
def test_working_seconds_agree_with_brute_force(start, span):
    cal = WorkCalendar()
    end = start + dt.timedelta(minutes=span)
    assert cal.working_seconds_between(start, end) == _brute_force(cal, start, end)


@settings(max_examples=200, deadline=None)
@given(minutes, st.integers(1, 60 * 7 * 30))
def test_add_then_measure_round_trips(start, working_minutes):
    cal = WorkCalendar()
    end = cal.add_working_seconds(start, working_minutes * 60)
    assert cal.working_seconds_between(start, end) == working_minutes * 60
    # and it is the earliest such instant: a minute earlier is not enough
    assert cal.working_seconds_between(start, end - dt.timedelta(minutes=1)) < working_minutes * 60
