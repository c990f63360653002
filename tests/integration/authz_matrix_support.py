"""Building blocks of the authorization matrix: the people, the events and a request for every route."""
from __future__ import annotations

from dataclasses import dataclass

from werkzeug.routing import Rule

from gridgov.extensions import db
from gridgov.models import Area, Event, User
from gridgov.services.reporting import report_event
from gridgov.services.tokens import issue_token
from gridgov.services.workflow import fire_action

ROLES = ("grid_worker", "dispatcher", "handler", "supervisor", "admin")
# Township 002 and one of its departments: the "foreign" jurisdiction of the demo users' event.
OTHER_TOWNSHIP = "330521002"
OTHER_DEPARTMENT = "330521002-ZF"
PASSWORD = "matrix-pass-123"


@dataclass
class Cast:
    """Per role, a user whose jurisdiction covers the event (`own`) and one whose does not (`foreign`)."""

    own: dict[str, User]
    foreign: dict[str, User]
    event: Event


def _grid_point(area_prefix: str):
    import shapely

    grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like(f"{area_prefix}%"))
                             .order_by(Area.code).limit(1))
    point = shapely.from_wkb(grid.geometry).representative_point()
    return grid, point


def _user(username: str, role: str, area: str, department: str | None = None) -> User:
    from werkzeug.security import generate_password_hash

    existing = db.session.scalar(db.select(User).where(User.username == username))
    if existing is not None:
        return existing
    user = User(username=username, display_name=username, role=role, area_code=area, department_code=department,
                password_hash=generate_password_hash(PASSWORD), active=True)
    db.session.add(user)
    db.session.commit()
    return user


def make_cast() -> Cast:
    demo = {u.role: u for u in db.session.scalars(db.select(User).where(User.username.like("demo_%")))}
    grid2, _ = _grid_point(OTHER_TOWNSHIP)
    foreign = {
        "grid_worker": _user("mx_worker2", "grid_worker", grid2.code[:12]),
        "dispatcher": _user("mx_dispatcher2", "dispatcher", OTHER_TOWNSHIP),
        "handler": _user("mx_handler2", "handler", OTHER_TOWNSHIP, OTHER_DEPARTMENT),
        "supervisor": _user("mx_supervisor2", "supervisor", OTHER_TOWNSHIP),
    }
    own = {role: demo[role] for role in ROLES}
    _, point = _grid_point(own["grid_worker"].area_code)
    event = report_event(user=own["grid_worker"], category="0102", description="矩阵测试", lon=point.x,
                         lat=point.y, client_uuid="authz-matrix-event").event
    if event.state == "reported":
        fire_action(event.id, "register", user=own["dispatcher"])
        fire_action(event.id, "dispatch", user=own["dispatcher"], inputs={"department": own["handler"].department_code})
    return Cast(own=own, foreign=foreign, event=db.session.get(Event, event.id))


def url_values(rule: Rule, event: Event, user_id: int) -> dict:
    """Values for a rule's URL parameters: the matrix's event where an event is meant."""
    values = {}
    for name in rule.arguments:
        values[name] = {
            "event_id": event.id, "number": event.number, "fmt": "json", "code": "0102", "day": "2026-10-01",
            "job_id": "no-such-job", "outbox_id": 999999, "user_id": user_id, "sha256": "0" * 64, "ext": "jpg",
            "action": "accept", "filename": "app.css",
        }[name]
    if rule.endpoint == "auth.set_language":
        values["code"] = "en"
    return values


def bearer(user: User) -> dict:
    token, _ = issue_token(user, 1, label="authz-matrix")
    return {"Authorization": f"Bearer {token}"}
