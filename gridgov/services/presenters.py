"""Events as plain dicts for the JSON API and the pages' scripts: one shape everywhere."""
from __future__ import annotations

from gridgov.formatting import mask_name, mask_phone
from gridgov.media.views import photo_url, thumb_url
from gridgov.models import Event, User
from gridgov.services.deadlines import deadline_status
from gridgov.timeutil import as_aware_utc

ROLES_SEEING_CALLERS = ("dispatcher", "admin")


def _iso(value):
    aware = as_aware_utc(value)
    return aware.isoformat() if aware else None


def caller_fields(event: Event, viewer: User | None, *, reveal_caller: bool = False) -> dict:
    """The hotline or Open311 caller's name and phone: in full only where the caller is revealed (one event's
    own page, not a list) and only to dispatchers and admins; masked for everyone and everywhere else."""
    show = reveal_caller and viewer is not None and getattr(viewer, "role", None) in ROLES_SEEING_CALLERS
    return {
        "caller_name": (event.caller_name if show else mask_name(event.caller_name)) or None,
        "caller_phone": (event.caller_phone if show else mask_phone(event.caller_phone)) or None,
    }


def event_summary(event: Event, viewer: User | None = None, *, reveal_caller: bool = False) -> dict:
    return {
        "id": event.id, "number": event.number, "state": event.state, "version": event.version,
        "category": event.category_code, "category_name": event.category.name_zh if event.category else "",
        "description": event.description, "urgency": event.urgency, "source": event.source,
        "lon": event.lon, "lat": event.lat, "address": event.address,
        "grid": event.grid_code, "village": event.village_code, "township": event.township_code,
        "grid_distance_m": event.grid_distance_m, "department": event.department_code,
        "deadline": _iso(event.deadline), "deadline_status": deadline_status(event),
        "reported_at": _iso(event.reported_at), "closed_at": _iso(event.closed_at),
        "duplicate_of": event.duplicate_of, "supervision_level": event.supervision_level or 0,
        "rework_count": event.rework_count or 0,
        **caller_fields(event, viewer, reveal_caller=reveal_caller),
    }


def event_detail(event: Event, viewer: User, allowed: list[str]) -> dict:
    body = event_summary(event, viewer, reveal_caller=True)
    body["log"] = [{
        "seq": row.seq, "action": row.action, "from_state": row.from_state, "to_state": row.to_state,
        "actor": row.actor.display_name if row.actor else None, "actor_role": row.actor_role,
        "at": _iso(row.at), "comment": row.comment, "data": row.data or {}, "hash": row.hash,
    } for row in event.log]
    body["tasks"] = [{
        "seq": t.seq, "department": t.department_code, "status": t.status, "dispatched_at": _iso(t.dispatched_at),
        "deadline": _iso(t.deadline), "accepted_at": _iso(t.accepted_at), "handled_at": _iso(t.handled_at),
        "result": t.result,
    } for t in event.tasks]
    body["photos"] = [{
        "id": p.id, "kind": p.kind, "url": photo_url(p),
        "thumb_url": thumb_url(p), "width": p.width, "height": p.height,
        "exif_lon": p.exif_lon if viewer.role in ROLES_SEEING_CALLERS else None,
        "exif_lat": p.exif_lat if viewer.role in ROLES_SEEING_CALLERS else None,
        "exif_taken_at": _iso(p.exif_taken_at),
    } for p in event.photos]
    body["allowed_actions"] = allowed
    return body
