"""Quiet hours are a local wall-clock window; one that crosses midnight wraps."""
from datetime import datetime

import pytest

from gridgov.notify.quiet import in_quiet_hours


@pytest.mark.parametrize("start,end,clock,quiet", [
    ("22:00", "07:00", "23:30", True),
    ("22:00", "07:00", "06:59", True),
    ("22:00", "07:00", "07:00", False),
    ("22:00", "07:00", "12:00", False),
    ("12:00", "14:00", "13:00", True),
    ("12:00", "14:00", "14:00", False),
    ("12:00", "12:00", "12:00", False),
    (None, "07:00", "03:00", False),
])
def test_quiet_hours_window(start, end, clock, quiet):
    hours, minutes = map(int, clock.split(":"))
    assert in_quiet_hours(start, end, datetime(2026, 11, 22, hours, minutes)) is quiet
