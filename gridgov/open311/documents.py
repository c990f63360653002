"""Our categories and events as GeoReport v2 services and service requests (field names per the spec)."""
from __future__ import annotations

from flask import current_app, url_for

from gridgov.extensions import db
from gridgov.media.intake import EXT_BY_MIME
from gridgov.models import Category, Department, Event, EventLog, Photo
from gridgov.timeutil import to_local
from workflows import get_workflow

# Open311 knows two statuses; every terminal outcome of our workflows reads as closed.
CLOSED_STATES = ("closed", "rejected", "merged")


def open311_status(state: str) -> str:
    return "closed" if state in CLOSED_STATES else "open"


def w3c_datetime(value) -> str | None:
    """ISO 8601 with the local offset and whole seconds, the W3C subset the spec requires."""
    local = to_local(value, current_app.config["GRIDGOV_TIMEZONE"])
    return local.replace(microsecond=0).isoformat() if local else None


def leaf_categories() -> list[Category]:
    return db.session.scalars(db.select(Category).where(Category.active.is_(True), db.func.length(Category.code) == 4)
                              .order_by(Category.sort_order, Category.code)).all()


def service(category: Category, groups: dict[str, str]) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.name_zh,
        "description": category.name_en or category.name_zh,
        "metadata": False,  # no extra attributes: the definition has an empty attribute list
        "type": "realtime",  # a POST creates the event at once and answers its number
        "keywords": ",".join(k for k in (category.pinyin, category.name_en) if k),
        "group": groups.get(category.parent_code or "", ""),
    }


def services() -> list[dict]:
    groups = dict(db.session.execute(db.select(Category.code, Category.name_zh)
                                     .where(db.func.length(Category.code) == 2)).all())
    return [service(c, groups) for c in leaf_categories()]


def _state_label(event: Event) -> str:
    try:
        return get_workflow(event.workflow or "default").state(event.state).label("zh")
    except Exception:
        return event.state


def service_notice(event: Event) -> str:
    notice = _state_label(event)
    if event.deadline is not None and open311_status(event.state) == "open":
        notice += f"，处置时限 {to_local(event.deadline, current_app.config['GRIDGOV_TIMEZONE']):%Y-%m-%d %H:%M}"
    return notice


def service_requests(events: list[Event]) -> list[dict]:
    """The GET requests documents; three small lookups for the whole page instead of per event."""
    ids = [e.id for e in events]
    departments = dict(db.session.execute(db.select(Department.code, Department.name)).all()) if events else {}
    notes: dict[int, str] = {}
    closed_ids = [e.id for e in events if open311_status(e.state) == "closed"]
    if closed_ids:
        last = (db.select(EventLog.event_id, db.func.max(EventLog.seq).label("seq"))
                .where(EventLog.event_id.in_(closed_ids)).group_by(EventLog.event_id).subquery())
        notes = dict(db.session.execute(db.select(EventLog.event_id, EventLog.comment).join(
            last, (EventLog.event_id == last.c.event_id) & (EventLog.seq == last.c.seq))).all())
    first_photos = {}
    if ids:
        for photo in db.session.scalars(db.select(Photo).where(Photo.event_id.in_(ids)).order_by(Photo.id)):
            first_photos.setdefault(photo.event_id, photo)
    return [service_request(e, departments, notes, first_photos.get(e.id)) for e in events]


def service_request(event: Event, departments: dict, notes: dict, photo) -> dict:
    mapped = event.orig_crs != "address"  # address-only requests have no point of their own
    return {
        "service_request_id": event.number,
        "status": open311_status(event.state),
        "status_notes": (notes.get(event.id) or None) if open311_status(event.state) == "closed" else None,
        "service_name": event.category.name_zh if event.category else None,
        "service_code": event.category_code,
        "description": event.description,
        "agency_responsible": departments.get(event.department_code) if event.department_code else None,
        "service_notice": service_notice(event),
        "requested_datetime": w3c_datetime(event.reported_at),
        "updated_datetime": w3c_datetime(event.updated_at or event.reported_at),
        "expected_datetime": w3c_datetime(event.deadline),
        "address": event.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": event.lat if mapped else None,
        "long": event.lon if mapped else None,
        "media_url": url_for("open311.media", sha256=photo.sha256, ext=EXT_BY_MIME[photo.mime], _external=True)
        if photo is not None else None,
    }
