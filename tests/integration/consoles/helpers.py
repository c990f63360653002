"""Building events and people for the console tests through the real services."""
from __future__ import annotations

import shapely

from gridgov.extensions import db
from gridgov.models import Area, User
from gridgov.services.accounts import create_user
from gridgov.services.reporting import report_event


def user(name: str) -> User:
    return db.session.scalar(db.select(User).where(User.username == name))


def townships() -> list[str]:
    return list(db.session.scalars(db.select(Area.code).where(Area.level == "township").order_by(Area.code)))


def first_grid(prefix: str) -> Area:
    return db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.startswith(prefix))
                             .order_by(Area.code).limit(1))


def ensure_user(username: str, role: str, area_code: str, department_code: str | None = None) -> User:
    existing = user(username)
    if existing is not None:
        return existing
    return create_user(username=username, password="demo-pass-123", role=role, area_code=area_code,
                       department_code=department_code, display_name=username)


def outsiders() -> dict[str, User]:
    """People of the second township and of another department: none of them may see the first township's events."""
    second = townships()[1]
    second_village = db.session.scalar(db.select(Area.code).where(Area.level == "village", Area.parent_code == second)
                                       .order_by(Area.code).limit(1))
    return {
        "other_dispatcher": ensure_user("other_dispatcher", "dispatcher", second),
        "other_worker": ensure_user("other_worker", "grid_worker", second_village),
        "other_handler": ensure_user("other_handler", "handler", "330521", "330521-SW"),
        "other_supervisor": ensure_user("other_supervisor", "supervisor", second),
    }


def report_in(area_prefix: str, *, reporter: User | None = None, description: str = "路边有暴露垃圾",
              category: str = "0102"):
    grid = first_grid(area_prefix)
    point = shapely.from_wkb(grid.geometry).representative_point()
    return report_event(user=reporter, category=category, description=description, lon=point.x, lat=point.y).event
