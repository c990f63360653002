"""Who hears about an event: named audiences resolved to active users at delivery time."""
from __future__ import annotations

from sqlalchemy import or_, select

from gridgov.extensions import db
from gridgov.models import Event, User

AUDIENCES = ("department", "township_dispatchers", "county_dispatchers", "grid_workers", "reporter")


def _clause(event: Event, audience: str):
    if audience == "department":
        if not event.department_code:
            return None
        return (User.role == "handler") & (User.department_code == event.department_code)
    if audience == "township_dispatchers":
        return (User.role == "dispatcher") & (User.area_code == event.township_code) if event.township_code else None
    if audience == "county_dispatchers":
        return (User.role == "dispatcher") & (User.area_code == event.county_code) if event.county_code else None
    if audience == "grid_workers":
        # The grid workers who patrol the event's grid (assigned to the grid or to its village).
        codes = [c for c in (event.grid_code, event.village_code) if c]
        return (User.role == "grid_worker") & User.area_code.in_(codes) if codes else None
    if audience == "reporter":
        return User.id == event.reporter_id if event.reporter_id else None
    raise ValueError(f"unknown audience {audience!r}")


def users_for_event(event: Event, audiences: list[str] | tuple[str, ...]) -> list[User]:
    clauses = [c for c in (_clause(event, a) for a in audiences) if c is not None]
    if not clauses:
        return []
    return list(db.session.scalars(
        select(User).where(User.active.is_(True), or_(*clauses)).order_by(User.id)
    ))


def users_by_id(user_ids: list[int]) -> list[User]:
    if not user_ids:
        return []
    return list(db.session.scalars(select(User).where(User.id.in_(user_ids), User.active.is_(True)).order_by(User.id)))
