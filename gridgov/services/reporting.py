"""Reporting an event: validate, locate it in its grid, number it, log it — exactly once per client UUID.

An event without a point (an Open311 request giving only an address) is stored unmapped: no grid,
village or township, the county's centre as a placeholder position (`orig_crs='address'`, no
original point), so only county staff see it until someone places it.

A phone on a bad network retries; every report carries a client-generated UUID (or an Idempotency-Key),
stored under a unique constraint. A retry finds the stored event and gets it back (`created=False`);
two racing first attempts both try to insert and the loser, on the constraint, returns the winner's.
"""
from __future__ import annotations

import logging
from types import SimpleNamespace

import shapely
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from geo.crs import normalize_crs, to_wgs84
from gridgov.errors import AppError
from gridgov.extensions import database_key, db
from gridgov.jobs import outbox
from gridgov.jobs.setup import relay_committed_rows
from gridgov.models import Area, Category, Event, User
from gridgov.models.events import OPEN_STATES
from gridgov.services import geofence, report_statement
from gridgov.services.areas import recent_area_version
from gridgov.services.audit import append_log
from gridgov.services.duplicates import candidate_box, likely_duplicates, within_radius
from gridgov.services.photos import attach_photos, discard_unreferenced
from gridgov.services.numbering import local_day, next_event_number
from gridgov.services.tokens import forget_all as forget_tokens
from gridgov.timeutil import utcnow
from gridgov.services.workflow import fire_action
from workflows.audit import GENESIS

logger = logging.getLogger(__name__)

MAX_DESCRIPTION = 2000


class ReportResult:
    """The reported (or replayed) event, whether this call created it, and its likely duplicates.

    `row` is what an answer shows: the Event itself, or for a report written by one statement the
    plain columns just written (a WrittenEvent), which cost nothing to read. `event` is always the
    ORM Event; for a one-statement report it is made on first use, attached to the session as if
    loaded (no query), so callers that only answer (the JSON API) never build it."""

    def __init__(self, event: Event | None, created: bool, duplicates: list, *, written: "WrittenEvent | None" = None):
        self._event = event
        self.created = created
        self.duplicates = duplicates
        self.row = event if written is None else written

    @property
    def event(self) -> Event:
        if self._event is None:
            self._event = self.row.attach(db.session())
        return self._event


class WrittenEvent:
    """The columns of an event just written by the report statement, read like an Event by the
    presenters (and by anything that only reads columns), without the ORM's per-attribute costs."""

    def __init__(self, values: dict, category_name: str | None):
        self.__dict__.update(values)
        self.category = SimpleNamespace(code=values["category_code"], name_zh=category_name)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def attach(self, session) -> Event:
        """The ORM Event for these columns, in the session as if loaded (no query); the session's own
        copy if it has read the event meanwhile."""
        loaded = session.identity_map.get(identity_key(Event, (self.id,)))
        if loaded is not None:
            return loaded
        values = {k: v for k, v in self.__dict__.items() if k != "category"}
        event = Event(**values)
        make_transient_to_detached(event)
        session.add(event)
        cat = session.identity_map.get(identity_key(Category, (self.category_code,)))
        if cat is None:
            cat = report_statement.category_stub(self.category_code, self.category.name_zh)
            session.add(cat)
        set_committed_value(event, "category", cat)
        return event


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


_county_by_version: dict[tuple[str, int], str | None] = {}


def county_code() -> str | None:
    """The county's code, read once per area version (every report needs it)."""
    key = (database_key(), recent_area_version())
    if key not in _county_by_version:
        _county_by_version[key] = db.session.scalar(
            db.select(Area.code).where(Area.level == "county").order_by(Area.code).limit(1))
    return _county_by_version[key]


def report_event(*, user: User | None, category: str, description: str, lon, lat, crs: str = "wgs84",
                 urgency: int = 1, address: str = "", client_uuid: str | None = None, source: str = "grid_worker",
                 accuracy_m: float | None = None, photos=(), self_resolve: bool = False, resolve_comment: str = "",
                 caller_name: str | None = None, caller_phone: str | None = None,
                 workflow: str | None = None, at=None, resolve_photos=()) -> ReportResult:
    """`photos` are the report's pictures; with `self_resolve`, `resolve_photos` are the after-photos
    of the on-the-spot fix (without them, `photos` serve as the result, as before)."""
    client_uuid = _clean_uuid(client_uuid)
    if not (photos or resolve_photos or self_resolve) and lon is not None and lat is not None:
        result = _report_in_one_statement(
            user=user, category=category, description=description, lon=lon, lat=lat, crs=crs, urgency=urgency,
            address=address, client_uuid=client_uuid, source=source, accuracy_m=accuracy_m,
            caller_name=caller_name, caller_phone=caller_phone, workflow=workflow, at=at)
        if result is not None:
            return result
    replay = _existing(client_uuid)
    if replay is not None:
        return ReportResult(replay, False, [])
    cat = _category(category)
    description = _description(description)
    urgency = _urgency(urgency)
    if lon is None and lat is None:
        if not (address or "").strip():
            raise AppError("请提供位置或地址", "Give a position or an address", status=422, code="missing_location")
        crs, orig_lon, orig_lat = "address", None, None
        wlon, wlat = _county_centre()
        location = None
    else:
        crs, orig_lon, orig_lat, wlon, wlat, location = _position(lon, lat, crs)
    now = (at or utcnow()).replace(microsecond=0)
    event = Event(
        number=next_event_number(now, current_app.config["GRIDGOV_TIMEZONE"]),
        workflow=workflow or cat.workflow or "default",
        **_event_values(user=user, category_code=cat.code, description=description, urgency=urgency, source=source,
                        wlon=wlon, wlat=wlat, orig_lon=orig_lon, orig_lat=orig_lat, crs=crs, accuracy_m=accuracy_m,
                        address=address, location=location, caller_name=caller_name, caller_phone=caller_phone,
                        client_uuid=client_uuid, now=now),
    )
    event.category = cat  # already loaded: the answer's category name needs no query
    stored = []
    try:
        db.session.add(event)
        db.session.flush()
        # Self-resolved without separate after-photos: the photos are the result, attached by the action.
        if photos and (not self_resolve or resolve_photos):
            stored = attach_photos(event, photos, kind="report", user=user)
        append_log(event, action="report", from_state=None, to_state="reported", actor=user, comment=description,
                   first=True, data=_log_data(location, crs, [p.sha256 for p in stored], source), at=now)
        outbox.add(**_reported_notice(event.id))
        if self_resolve:
            db.session.flush()
            fire_action(event.id, "self_resolve", user=user, inputs={"comment": resolve_comment or description},
                        photos=list(resolve_photos) or photos, commit=False, at=now)
        _commit_keeping()
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
    return ReportResult(event, True, likely_duplicates(event) if location is not None else [])


def _description(description: str | None) -> str:
    description = (description or "").strip()
    if not description:
        raise AppError("请填写事件描述", "Please describe the event", status=422, code="missing_description")
    if len(description) > MAX_DESCRIPTION:
        raise AppError(f"描述不能超过 {MAX_DESCRIPTION} 字", f"Description is limited to {MAX_DESCRIPTION} characters",
                       status=422, code="description_too_long")
    return description


def _urgency(urgency) -> int:
    try:
        urgency = int(urgency or 1)
    except (TypeError, ValueError):
        urgency = 0
    if urgency not in (1, 2, 3):
        raise AppError("紧急程度应为 1、2 或 3", "Urgency must be 1, 2 or 3", status=422, code="bad_urgency")
    return urgency


def _position(lon, lat, crs):
    """(crs, original lon, lat, WGS-84 lon, lat, location) of a reported point; raises InvalidCoordinate
    or UnknownCRS."""
    crs = normalize_crs(crs)
    wlon, wlat = to_wgs84(lon, lat, crs)
    return crs, float(lon), float(lat), wlon, wlat, geofence.current_index().locate(wlon, wlat)


def _event_values(*, user, category_code, description, urgency, source, wlon, wlat, orig_lon, orig_lat, crs,
                  accuracy_m, address, location, caller_name, caller_phone, client_uuid, now) -> dict:
    """The new event's columns (all but its number and workflow), the same on both paths."""
    return dict(
        client_uuid=client_uuid, category_code=category_code, description=description, urgency=urgency,
        source=source, lon=wlon, lat=wlat, orig_lon=orig_lon, orig_lat=orig_lat, orig_crs=crs,
        accuracy_m=accuracy_m, address=(address or "")[:300], county_code=county_code(),
        township_code=getattr(location, "township", None), village_code=getattr(location, "village", None),
        grid_code=getattr(location, "grid", None),
        grid_distance_m=None if location is None or location.grid is None else round(location.distance_m, 1),
        reporter_id=getattr(user, "id", None), caller_name=caller_name, caller_phone=caller_phone,
        state="reported", reported_at=now,
    )


def _log_data(location, crs: str, photo_hashes: list[str], source: str) -> dict:
    distance = None if location is None or location.distance_m == float("inf") else round(location.distance_m, 1)
    return {"grid": getattr(location, "grid", None), "distance_m": distance, "crs": crs, "photos": photo_hashes,
            "source": source}


def _reported_notice(event_id: int) -> dict:
    """The outbox row of a new report: the township's dispatchers hear of it."""
    return {"kind": "notify", "payload": {"event_id": event_id, "topic": "event_reported",
                                          "audience": ["township_dispatchers"]},
            "dedupe_key": f"notify:{event_id}:reported"}


def _report_in_one_statement(*, user, category, description, lon, lat, crs, urgency, address, client_uuid, source,
                             accuracy_m, caller_name, caller_phone, workflow, at) -> ReportResult | None:
    """The common report — a point, no photos, not self-resolved — written by one statement on
    PostgreSQL (report_statement.py). None when it does not apply, or when anything is unusual (bad
    input, unknown category, a description holding the statement's sentinel): the ORM path below then
    decides, with its own checks and errors, so both paths answer alike."""
    session = db.session()
    if (category is None or len(category) != 4 or not report_statement.supported(session)):
        return None
    try:
        description = _description(description)
        urgency = _urgency(urgency)
        crs, orig_lon, orig_lat, wlon, wlat, location = _position(lon, lat, crs)
    except Exception:  # the ORM path raises the same error, after looking for a replay
        return None
    now = (at or utcnow()).replace(microsecond=0)
    values = _event_values(user=user, category_code=category, description=description, urgency=urgency,
                           source=source, wlon=wlon, wlat=wlat, orig_lon=orig_lon, orig_lat=orig_lat, crs=crs,
                           accuracy_m=accuracy_m, address=address, location=location, caller_name=caller_name,
                           caller_phone=caller_phone, client_uuid=client_uuid, now=now)
    # The columns append_log would give the first row (seq 1, chained to GENESIS).
    log = dict(seq=1, action="report", from_state=None, to_state="reported", actor_id=getattr(user, "id", None),
               actor_role=getattr(user, "role", None) or "system", at=now, comment=description,
               data=_log_data(location, crs, [], source), prev_hash=GENESIS)
    notice = _reported_notice(report_statement.SENTINEL)
    try:
        written = report_statement.write_report(
            session, event=values, log=log, notice=notice,
            day=local_day(now, current_app.config["GRIDGOV_TIMEZONE"]), workflow=workflow,
            reporter_id=values["reporter_id"], box=candidate_box(wlon, wlat, now),
            grouped=current_app.config.get("REPORT_GROUP_COMMIT", True))
    except report_statement.NotWritable:
        return None
    except IntegrityError:
        db.session.rollback()
        winner = _existing(client_uuid)
        if winner is not None:  # a concurrent retry of the same report won the insert
            return ReportResult(winner, False, [])
        raise
    except report_statement.HashMismatch:
        db.session.rollback()
        logger.exception("report statement: hash mismatch; writing through the ORM instead")
        return None
    if written.prior_id is not None:
        return ReportResult(_existing(client_uuid), False, [])
    if not written.reporter_active:  # a cached login of an account deactivated meanwhile
        forget_tokens()
        raise AppError("账号已停用", "The account is disabled", status=403, code="account_disabled")
    if written.event_id is None:
        return None  # unknown or inactive category: the ORM path says which
    # The outbox row is committed (by the statement itself, or now): it is relayed after the commit
    # unless a relay follower does it (gridgov/jobs/setup.py).
    if written.committed:
        relay_committed_rows()  # the session holds nothing to commit: no commit to hook, call it
    else:
        outbox.note_pending(session)
        _commit_keeping()
    row = WrittenEvent(dict(written.event_values, id=written.event_id, number=written.number,
                            workflow=written.workflow, log_seq=1, log_hash=written.log_hash), written.category_name)
    return ReportResult(None, True, within_radius(wlon, wlat, written.candidates), written=row)


def _commit_keeping() -> None:
    """Commit without expiring the session's objects: the new event's attributes are exactly what
    this transaction wrote, so the answer and the duplicate check need no reload (one query less)."""
    session = db.session()
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = previous


def _county_centre() -> tuple[float, float]:
    row = db.session.execute(db.select(Area.geometry, Area.min_lon, Area.min_lat, Area.max_lon, Area.max_lat)
                             .where(Area.level == "county").order_by(Area.code).limit(1)).first()
    if row is None:
        raise AppError("尚未导入区县边界", "No county area has been imported", status=503, code="no_county")
    if row.geometry is not None:
        point = shapely.from_wkb(row.geometry).representative_point()
        return point.x, point.y
    return (row.min_lon + row.max_lon) / 2, (row.min_lat + row.max_lat) / 2


def _discard(stored) -> None:
    if stored:
        discard_unreferenced(stored)
