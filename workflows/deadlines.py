"""Deadline status (normal / warning / overdue), extensions, and not charging the time an event spent
`returned`.

Why returned time is not charged: a task sent back because it was dispatched to the wrong department is the
command centre's mistake, not the department's delay.  The pause is handled in two places that must agree:

* On `redispatch` without a new deadline, the service moves the deadline later by the paused span
  (`shift_deadline`): by the same natural time for natural-time limits, by the same working time for
  working-time limits, so a pause over a weekend does not hand out a weekend's worth of extra working time.
* `deadline_status` takes the total paused seconds, so the share of time used stays correct:
  used = (now − start − paused) / (deadline − start − paused).  `paused_seconds` sums the spans, counting a
  still-open span up to `now`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from .calendar import WorkCalendar

NORMAL, WARNING, OVERDUE = "normal", "warning", "overdue"
STATUSES = (NORMAL, WARNING, OVERDUE)


def _aware(value: dt.datetime, name: str) -> None:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def deadline_status(started_at: dt.datetime, deadline: dt.datetime, now: dt.datetime,
                    warning_share: float = 0.8, paused_seconds: float = 0, *,
                    calendar: WorkCalendar | None = None) -> str:
    """'overdue' once `now` is past the deadline; 'warning' once `warning_share` of the allowed time is used;
    else 'normal'.  With a calendar, time is measured in working seconds (for working-time limits) and
    `paused_seconds` must then be working seconds too (see `paused_seconds`)."""
    for name, value in (("started_at", started_at), ("deadline", deadline), ("now", now)):
        _aware(value, name)
    if not 0 < warning_share <= 1:
        raise ValueError("warning_share must be in (0, 1]")
    if now > deadline:
        return OVERDUE
    if calendar is None:
        allowed = (deadline - started_at).total_seconds() - paused_seconds
        used = (now - started_at).total_seconds() - paused_seconds
    else:
        allowed = calendar.working_seconds_between(started_at, deadline) - paused_seconds
        used = calendar.working_seconds_between(started_at, now) - paused_seconds
    if allowed <= 0:
        # A zero-length limit: due immediately, so warn until it is overdue.
        return WARNING
    return WARNING if used >= warning_share * allowed else NORMAL


def paused_seconds(spans: Iterable[tuple[dt.datetime, dt.datetime | None]], now: dt.datetime, *,
                   calendar: WorkCalendar | None = None) -> float:
    """Total length of the paused spans (start, end or None while still paused), natural or working seconds."""
    total = 0.0
    for start, end in spans:
        end = now if end is None or end > now else end
        if end <= start:
            continue
        total += (calendar.working_seconds_between(start, end) if calendar
                  else (end - start).total_seconds())
    return total


def shift_deadline(deadline: dt.datetime, paused_from: dt.datetime, paused_to: dt.datetime, *,
                   calendar: WorkCalendar | None = None) -> dt.datetime:
    """The deadline moved later by the paused span: natural time, or (with a calendar) working time."""
    for name, value in (("deadline", deadline), ("paused_from", paused_from), ("paused_to", paused_to)):
        _aware(value, name)
    if paused_to <= paused_from:
        return deadline
    if calendar is None:
        return deadline + (paused_to - paused_from)
    return calendar.add_working_seconds(deadline, calendar.working_seconds_between(paused_from, paused_to))


def extended_deadline(current: dt.datetime, *, new_deadline: dt.datetime | None = None,
                      amount: float | None = None, unit: str | None = None,
                      calendar: WorkCalendar | None = None) -> dt.datetime:
    """The deadline after an approved extension: an explicit new deadline, or `amount` `unit`s more
    (units as in calendar.add_time).  An extension never shortens the deadline."""
    _aware(current, "current")
    if new_deadline is not None:
        _aware(new_deadline, "new_deadline")
        result = new_deadline
    elif amount is not None and unit is not None:
        result = (calendar or WorkCalendar()).add_time(current, amount, unit)
    else:
        raise ValueError("give new_deadline, or amount and unit")
    if result <= current:
        raise ValueError("an extension must move the deadline later")
    return result


def is_on_time(closed_at: dt.datetime, deadline: dt.datetime | None) -> bool:
    """按期结案: closed no later than the deadline (an event without a deadline is on time)."""
    return deadline is None or closed_at <= deadline
