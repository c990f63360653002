import datetime as dt

import pytest

from workflows.calendar import WorkCalendar
from workflows.deadlines import (deadline_status, extended_deadline, is_on_time, paused_seconds,
                                 shift_deadline)

CN = dt.timezone(dt.timedelta(hours=8))


def at(*args):
    return dt.datetime(*args, tzinfo=CN)


def test_normal_warning_overdue():
    start, deadline = at(2025, 3, 3, 9), at(2025, 3, 3, 19)  # ten hours
    assert deadline_status(start, deadline, at(2025, 3, 3, 16, 59)) == "normal"
    assert deadline_status(start, deadline, at(2025, 3, 3, 17)) == "warning"  # 80 % used
    assert deadline_status(start, deadline, deadline) == "warning"  # due now is not yet late
    assert deadline_status(start, deadline, at(2025, 3, 3, 19, 0, 1)) == "overdue"
    assert deadline_status(start, deadline, at(2025, 3, 3, 14), warning_share=0.5) == "warning"


def test_working_time_share():
    cal = WorkCalendar()
    start = at(2025, 3, 7, 16, 30)  # Friday
    deadline = cal.add_time(start, 2, "working_hours")  # Monday 09:30
    assert deadline == at(2025, 3, 10, 9, 30)
    # Monday 08:45: in natural time 99 % of the span is gone, in working time 1.25 h of 2 h
    assert deadline_status(start, deadline, at(2025, 3, 10, 8, 45)) == "warning"
    assert deadline_status(start, deadline, at(2025, 3, 10, 8, 45), calendar=cal) == "normal"
    assert deadline_status(start, deadline, at(2025, 3, 10, 9, 6), calendar=cal) == "warning"


def test_returned_time_is_not_charged():
    start, deadline = at(2025, 3, 3, 9), at(2025, 3, 3, 19)
    paused_from, paused_to = at(2025, 3, 3, 10), at(2025, 3, 3, 12)
    new_deadline = shift_deadline(deadline, paused_from, paused_to)
    assert new_deadline == at(2025, 3, 3, 21)
    paused = paused_seconds([(paused_from, paused_to)], now=at(2025, 3, 3, 18))
    assert paused == 7200
    # 9 of the 10 chargeable hours used at 20:00
    assert deadline_status(start, new_deadline, at(2025, 3, 3, 20), paused_seconds=paused) == "warning"
    assert deadline_status(start, new_deadline, at(2025, 3, 3, 18), paused_seconds=paused) == "normal"
    # a span still open counts up to now
    assert paused_seconds([(paused_from, None)], now=at(2025, 3, 3, 11)) == 3600


def test_shift_in_working_time_skips_the_weekend():
    cal = WorkCalendar()
    deadline = at(2025, 3, 4, 12, 0)
    shifted = shift_deadline(deadline, at(2025, 3, 7, 17, 0), at(2025, 3, 10, 9, 0), calendar=cal)
    assert shifted == at(2025, 3, 4, 15, 0)  # one working hour paused (Fri 17:00–17:30, Mon 08:30–09:00)


def test_extensions_only_move_later():
    cal = WorkCalendar()
    current = at(2025, 3, 4, 12, 0)
    assert extended_deadline(current, new_deadline=at(2025, 3, 6, 12)) == at(2025, 3, 6, 12)
    assert extended_deadline(current, amount=2, unit="working_days", calendar=cal) == at(2025, 3, 6, 12)
    with pytest.raises(ValueError):
        extended_deadline(current, new_deadline=at(2025, 3, 4, 11))
    with pytest.raises(ValueError):
        extended_deadline(current)


def test_on_time_and_naive_inputs():
    assert is_on_time(at(2025, 3, 4, 12), at(2025, 3, 4, 12)) and is_on_time(at(2025, 3, 4, 12), None)
    assert not is_on_time(at(2025, 3, 4, 12, 1), at(2025, 3, 4, 12))
    with pytest.raises(ValueError):
        deadline_status(dt.datetime(2025, 3, 3, 9), at(2025, 3, 3, 19), at(2025, 3, 3, 10))
