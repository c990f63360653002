"""Jurisdiction: the one place that decides whether a user may see or act on an event.

Area codes nest by prefix (county 6 digits → township 9 → village 12 → grid 15), and every event
stores the code of each level it was mapped to, so "the user's area covers the event" is an
equality on the column of the user's level — cheap in Python and index-friendly in SQL.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, false, or_, select, true

from gridgov.models import Event, Task, User

LEVEL_BY_LENGTH = {6: "county", 9: "township", 12: "village", 15: "grid"}
EVENT_COLUMN_BY_LEVEL = {
    "county": "county_code",
    "township": "township_code",
    "village": "village_code",
    "grid": "grid_code",
}


def area_level(code: str) -> str:
    try:
        return LEVEL_BY_LENGTH[len(code)]
    except KeyError:
        raise ValueError(f"not an area code: {code!r}") from None


def area_covers(outer: str, inner: str | None) -> bool:
    """True when area `outer` contains area `inner` (or is it)."""
    return bool(inner) and inner.startswith(outer)


def event_in_area(event: Event, area_code: str) -> bool:
    column = EVENT_COLUMN_BY_LEVEL[area_level(area_code)]
    return getattr(event, column) == area_code


def holds_task(user: User, event: Event) -> bool:
    """The user's department holds the event's current dispatch."""
    return bool(user.department_code) and event.department_code == user.department_code


def had_task(user: User, event: Event) -> bool:
    if not user.department_code:
        return False
    return holds_task(user, event) or any(t.department_code == user.department_code for t in event.tasks)


def can_see(user: User, event: Event) -> bool:
    if not user.is_active:
        return False
    if user.role == "admin":
        return True
    if user.role == "handler":
        return had_task(user, event)
    if user.role == "grid_worker" and event.reporter_id == user.id:
        return True
    return event_in_area(event, user.area_code)


def visible_events_clause(user: User) -> ColumnElement[bool]:
    """The SQL twin of `can_see`, for lists and counts."""
    if not user.is_active:
        return false()
    if user.role == "admin":
        return true()
    if user.role == "handler":
        return or_(
            Event.department_code == user.department_code,
            exists(
                select(Task.id).where(
                    Task.event_id == Event.id, Task.department_code == user.department_code
                )
            ),
        )
    in_area = getattr(Event, EVENT_COLUMN_BY_LEVEL[area_level(user.area_code)]) == user.area_code
    if user.role == "grid_worker":
        return or_(in_area, Event.reporter_id == user.id)
    return in_area


@dataclass(frozen=True)
class ActorFacts:
    """What the workflow engine needs to know about the actor relative to one event."""

    role: str
    in_area: bool
    holds_task: bool
    in_grid: bool
    is_reporter: bool


def responsible_in_area(user: User, event: Event) -> bool:
    """Whose area answers for the event now: the township's, or once escalated, the county's only."""
    if user.role == "admin":
        return True
    if event.escalated_at is not None and area_level(user.area_code) != "county":
        return False
    return event_in_area(event, user.area_code)


def actor_facts(user: User, event: Event) -> ActorFacts:
    in_area = responsible_in_area(user, event)
    return ActorFacts(
        role=user.role,
        in_area=in_area,
        holds_task=holds_task(user, event),
        in_grid=user.role == "grid_worker" and event_in_area(event, user.area_code),
        is_reporter=event.reporter_id == user.id,
    )
