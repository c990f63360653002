"""Quiet hours: local wall-clock windows in which external channels wait (in-app still arrives)."""
from __future__ import annotations

from datetime import datetime, time


def parse_hhmm(value: str | None) -> time | None:
    if not value:
        return None
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes or 0))


def in_quiet_hours(start: str | None, end: str | None, local_now: datetime) -> bool:
    """True when local_now falls in [start, end); a window like 22:00–07:00 wraps midnight."""
    begin, finish = parse_hhmm(start), parse_hhmm(end)
    if begin is None or finish is None or begin == finish:
        return False
    now = local_now.time().replace(tzinfo=None)
    if begin < finish:
        return begin <= now < finish
    return now >= begin or now < finish
