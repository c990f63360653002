"""Reporting an event: validate, locate it in its grid, number it, log it — exactly once per client UUID.

A phone on a bad network retries; every report carries a client-generated UUID (or an Idempotency-Key),
stored under a unique constraint. A retry finds the stored event and gets it back (`created=False`);
two racing first attempts both try to insert and the loser, on the constraint, returns the winner's.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy.exc import IntegrityError

from geo.crs import normalize_crs, to_wgs84
from gridgov.errors import AppError
from gridgov.extensions import db
from gridgov.jobs import outbox
from gridgov.models import Area, Category, Event, User
from gridgov.services import geofence
from gridgov.services.audit import append_log
from gridgov.services.duplicates import likely_duplicates
from gridgov.services.photos import attach_photos, discard_unreferenced
from gridgov.services.numbering import next_event_number
from gridgov.timeutil import utcnow
from gridgov.services.workflow import fire_action

MAX_DESCRIPTION = 2000


@dataclass
class ReportResult:
    event: Event
    created: bool
    duplicates: list[Event]


def _category(code: str | None) -> Category:
    category = db.session.get(Category, code) if code else None
    if category is None or not category.active:
        raise AppError(f"未知的事件分类：{code}", f"Unknown event category: {code}", status=422, code="bad_category")
    if not category.is_leaf:
        raise AppError("请选择具体的小类", "Choose a subcategory, not a major class", status=422, code="bad_category")
    return category


def _existing(client_uuid: str | None) -> Event | None:
    if not client_uuid:
        return None
    return db.session.scalar(db.select(Event).where(Event.client_uuid == client_uuid))


def _clean_uuid(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > 64 or not all(c.isalnum() or c in "-_" for c in value):
        raise AppError("客户端标识格式不正确", "client_uuid must be up to 64 letters, digits, - or _", status=422,
                       code="bad_client_uuid")
    return value


def county_code() -> str | None:
    return db.session.scalar(db.select(Area.code).where(Area.level == "county").order_by(Area.code).limit(1))


def report_event(*, user: User | None, category: str, description: str, lon, lat, crs: str = "wgs84",
                 urgency: int = 1, address: str = "", client_uuid: str | None = None, source: str = "grid_worker",
                 accuracy_m: float | None = None, photos=(), self_resolve: bool = False, resolve_comment: str = "",
                 caller_name: str | None = None, caller_phone: str | None = None,
                 workflow: str | None = None, at=None) -> ReportResult:
    client_uuid = _clean_uuid(client_uuid)
    replay = _existing(client_uuid)
    if replay is not None:
        return ReportResult(replay, False, [])
    cat = _category(category)
    description = (description or "").strip()
    if not description:
        raise AppError("请填写事件描述", "Please describe the event", status=422, code="missing_description")
    if len(description) > MAX_DESCRIPTION:
        raise AppError(f"描述不能超过 {MAX_DESCRIPTION} 字", f"Description is limited to {MAX_DESCRIPTION} characters",
                       status=422, code="description_too_long")
    try:
        urgency = int(urgency or 1)
    except (TypeError, ValueError):
        urgency = 0
    if urgency not in (1, 2, 3):
        raise AppError("紧急程度应为 1、2 或 3", "Urgency must be 1, 2 or 3", status=422, code="bad_urgency")
    crs = normalize_crs(crs)
    orig_lon, orig_lat = float(lon), float(lat)
    wlon, wlat = to_wgs84(lon, lat, crs)
    location = geofence.current_index().locate(wlon, wlat)
    now = (at or utcnow()).replace(microsecond=0)
    event = Event(
        number=next_event_number(now, current_app.config["GRIDGOV_TIMEZONE"]), client_uuid=client_uuid,
        workflow=workflow or cat.workflow or "default", category_code=cat.code, description=description,
        urgency=urgency, source=source, lon=wlon, lat=wlat, orig_lon=orig_lon, orig_lat=orig_lat, orig_crs=crs,
        accuracy_m=accuracy_m, address=(address or "")[:300], county_code=county_code(),
        township_code=location.township, village_code=location.village, grid_code=location.grid,
        grid_distance_m=None if location.grid is None else round(location.distance_m, 1),
        reporter_id=getattr(user, "id", None), caller_name=caller_name, caller_phone=caller_phone,
        state="reported", reported_at=now,
    )
    stored = []
    try:
        db.session.add(event)
        db.session.flush()
        if photos and not self_resolve:  # self-resolved: the photos are the result, attached by the action
            stored = attach_photos(event, photos, kind="report", user=user)
        append_log(event, action="report", from_state=None, to_state="reported", actor=user, comment=description,
                   data={"grid": location.grid, "distance_m": round(location.distance_m, 1)
                         if location.distance_m != float("inf") else None, "crs": crs,
                         "photos": [p.sha256 for p in stored], "source": source}, at=now)
        outbox.add("notify", {"event_id": event.id, "topic": "event_reported", "audience": ["township_dispatchers"]},
                   dedupe_key=f"notify:{event.id}:reported")
        if self_resolve:
            db.session.flush()
            fire_action(event.id, "self_resolve", user=user, inputs={"comment": resolve_comment or description},
                        photos=photos, commit=False, at=now)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        _discard(stored)
        winner = _existing(client_uuid)
        if winner is not None:  # a concurrent retry of the same report won the insert
            return ReportResult(winner, False, [])
        raise
    except Exception:
        db.session.rollback()
        _discard(stored)
        raise
    return ReportResult(event, True, likely_duplicates(event))


def _discard(stored) -> None:
    if stored:
        discard_unreferenced(stored)
