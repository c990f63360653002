"""/api/v1/events: report (JSON or multipart with photos), list, read, and fire actions."""
from __future__ import annotations

import re

import marshmallow as ma
from flask import current_app, request
from flask_login import current_user, login_required
from flask_smorest import Blueprint

from gridgov.access import EVENT_COLUMN_BY_LEVEL, area_level, can_see, visible_events_clause
from gridgov.api.fastload import loader_for
from gridgov.api.responses import errors
from gridgov.api.schemas import (CLIENT_UUID_PATTERN, ActionBody, EventDetail, EventListArgs, EventPage,
                                 ReportResponse, ReportSchema)
from gridgov.errors import AppError
from gridgov.extensions import db
from gridgov.models import Event
from gridgov.services import presenters
from gridgov.services.photos import inspect_uploads
from gridgov.services.reporting import report_event
from gridgov.services.workflow import allowed_actions, fire_action, load_visible_event
from gridgov.timeutil import to_naive_utc, utcnow

blp = Blueprint("events", __name__, url_prefix="/api/v1/events", description="Events: report, list, act")

REPORT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": ReportSchema},
        "multipart/form-data": {"schema": {"allOf": [{"$ref": "#/components/schemas/Report"}, {
            "type": "object", "properties": {
                "photos": {"type": "array", "items": {"type": "string", "format": "binary"}},
                "after_photos": {"type": "array", "items": {"type": "string", "format": "binary"},
                                 "description": "With self_resolve: the photos after the on-the-spot fix"}}}]}},
    },
}


# Built once: a marshmallow schema instance deep-copies its declared fields when made, and loading
# with one instance from many threads is safe (it keeps no per-call state).
_REPORT_SCHEMA = ReportSchema()
_ACTION_SCHEMA = ActionBody()
# Plain JSON reports skip marshmallow's per-field machinery; anything else is loaded by it (fastload.py).
REPORT_SHORTCUT = loader_for(_REPORT_SCHEMA)


def _validation_error(err: ma.ValidationError) -> AppError:
    return AppError("请求内容不符合要求", "Some fields are missing or invalid", status=422, code="unprocessable_entity",
                    details={"fields": err.messages})


def _report_fields() -> dict:
    if request.is_json:
        raw = request.get_json(silent=True)
        if not isinstance(raw, dict):
            raise AppError("请求体必须是 JSON 对象", "The body must be a JSON object", status=400, code="bad_json")
        fields = REPORT_SHORTCUT(raw) if REPORT_SHORTCUT is not None else None
        if fields is not None:
            return fields
    else:
        raw = {k: v for k, v in request.form.items()}
    try:
        return _REPORT_SCHEMA.load(raw, unknown=ma.EXCLUDE)
    except ma.ValidationError as err:
        raise _validation_error(err) from None


@blp.route("", methods=["POST"])
@blp.doc(requestBody=REPORT_BODY, parameters=[{
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "pattern": CLIENT_UUID_PATTERN},
    "description": "Your id for this report (or client_uuid): a retry with it answers 200 with the same event"}])
@blp.response(201, ReportResponse)
@blp.alt_response(200, schema=ReportResponse, description="A replay of an earlier report: the same event")
@errors(blp, 400, 403, 409, 413, 422)
@login_required
def create_event():
    # The user itself, not the proxy: every attribute read through current_user resolves it again,
    # and the report reads it a dozen times.
    user = current_user._get_current_object()
    fields = _report_fields()
    photos = inspect_uploads(request.files.getlist("photos")) if request.files else []
    after_photos = inspect_uploads(request.files.getlist("after_photos")) if request.files else []
    body, status = report_answer(user, fields, request.headers.get("Idempotency-Key"), photos, after_photos)
    # Already in the shape of ReportResponse (test_report_statement checks it): sent as it is, without
    # the schema's dump, which would only copy it field by field.
    response = current_app.json.response(body)
    response.status_code = status
    return response


def report_answer(user, fields: dict, idempotency_key: str | None, photos=(), after_photos=()) -> tuple[dict, int]:
    """File a report from its loaded fields; (answer body, 201 or 200 for a replay). Shared by the view
    and by the bearer-token fast path (gridgov/api/report_fastpath.py)."""
    source = fields.pop("source") or ("grid_worker" if user.role == "grid_worker" else "api")
    if source == "hotline" and user.role not in ("dispatcher", "admin"):
        raise AppError("只有调度员可以登记热线事件", "Only dispatchers record hotline events", status=403, code="forbidden")
    client_uuid = idempotency_key or fields.pop("client_uuid")
    fields.pop("client_uuid", None)
    result = report_event(user=user, client_uuid=client_uuid, photos=photos, source=source,
                          resolve_photos=after_photos, **fields)
    if not result.created and result.row.reporter_id != user.id:
        # The key names someone else's report: answering with it would show that event to anyone who
        # guesses or reuses a key. Idempotency is per reporter.
        raise AppError("该幂等键已用于他人的上报，请换一个", "This Idempotency-Key (client_uuid) belongs to another "
                       "user's report; use a new one", status=409, code="idempotency_key_taken")
    # result.row: the columns just written (or the replayed Event); no ORM object is made for the answer.
    body = presenters.event_summary(result.row, user)
    body["replay"] = not result.created
    body["likely_duplicates"] = [{"id": e.id, "number": e.number, "state": e.state}
                                 for e in visible_only(result.duplicates, user)]
    return body, 201 if result.created else 200


def visible_only(duplicates: list, user=None) -> list:
    """Nearby events are a hint, not a way to see across the jurisdiction line (the desk filters them
    alike). Each carries its reporter and area codes (Events, or the plain rows of PostgreSQL's
    one-statement report), which is all can_see reads — but for a handler, who sees the events their
    department was ever dispatched: that takes the tasks, so its SQL twin asks the database."""
    if not duplicates:
        return []
    user = user if user is not None else current_user._get_current_object()
    if user.role != "handler":
        return [d for d in duplicates if can_see(user, d)]
    ids = [d.id for d in duplicates]
    visible = set(db.session.scalars(db.select(Event.id).where(Event.id.in_(ids), visible_events_clause(user))))
    return [d for d in duplicates if d.id in visible]


@blp.route("", methods=["GET"])
@blp.arguments(EventListArgs, location="query")
@blp.response(200, EventPage)
@errors(blp, 400)
@login_required
def list_events(args):
    query = db.select(Event).where(visible_events_clause(current_user))
    if args.get("state"):
        query = query.where(Event.state.in_([s.strip() for s in args["state"].split(",") if s.strip()]))
    if args.get("area"):
        query = query.where(getattr(Event, EVENT_COLUMN_BY_LEVEL[area_level(args["area"])]) == args["area"])
    if args.get("department"):
        query = query.where(Event.department_code == args["department"])
    if args.get("category"):
        query = query.where(Event.category_code.startswith(args["category"]))
    if args.get("reported_from"):
        query = query.where(Event.reported_at >= to_naive_utc(args["reported_from"]))
    if args.get("reported_to"):
        query = query.where(Event.reported_at < to_naive_utc(args["reported_to"]))
    if args.get("mine"):
        query = query.where(Event.reporter_id == current_user.id)
    if args.get("deadline_status"):
        query = query.where(*deadline_status_clause(args["deadline_status"]))
    total = db.session.scalar(db.select(db.func.count()).select_from(query.subquery()))
    page, per_page = args["page"], args["per_page"]
    rows = db.session.scalars(query.order_by(Event.reported_at.desc(), Event.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": [presenters.event_summary(e, current_user) for e in rows], "page": page, "per_page": per_page,
            "total": total}


def deadline_status_clause(status: str):
    """Deadline status in SQL: the sweep keeps deadline_level current; overdue is also checked against now."""
    running = Event.state.in_(("dispatched", "in_progress"))
    now = utcnow()
    if status == "overdue":
        return (running, Event.deadline < now)
    if status == "warning":
        return (running, Event.deadline >= now, Event.deadline_level >= 1)
    return (running, Event.deadline >= now, Event.deadline_level == 0)


@blp.route("/<int:event_id>", methods=["GET"])
@blp.response(200, EventDetail)
@errors(blp, 404)
@login_required
def get_event(event_id: int):
    event = load_visible_event(event_id, current_user)
    body = presenters.event_detail(event, current_user, [a.name for a in allowed_actions(current_user, event)])
    return body, 200, {"ETag": f'"{event.version}"'}


# The ETag we send is the version in quotes; weak or bare forms are accepted. ASCII digits only:
# str.isdigit() also admits "²", which int() then refuses.
IF_MATCH = re.compile(r'(?:W/)?(?:"([0-9]{1,10})"|([0-9]{1,10}))')


def _if_match() -> int | None:
    header = request.headers.get("If-Match")
    if not header:
        return None
    match = IF_MATCH.fullmatch(header.strip())
    if match is None:
        raise AppError("If-Match 必须是事件版本号", "If-Match must be the event's version number", status=400,
                       code="bad_if_match")
    return int(match.group(1) or match.group(2))


@blp.route("/<int:event_id>/actions/<action>", methods=["POST"])
@blp.doc(parameters=[{"in": "header", "name": "If-Match", "required": False,
                      "schema": {"type": "string", "pattern": "^" + IF_MATCH.pattern + "$"},
                      "description": "The version (ETag) the client saw; a stale one gets 409"}],
         requestBody={"required": False, "content": {"application/json": {"schema": ActionBody},
                                                     "multipart/form-data": {"schema": ActionBody}}})
@blp.response(200, EventDetail)
@errors(blp, 400, 403, 404, 409, 413, 422)
@login_required
def act(event_id: int, action: str):
    raw = request.get_json(silent=True) if request.is_json else {k: v for k, v in request.form.items()}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise AppError("请求体必须是 JSON 对象", "The body must be a JSON object", status=400, code="bad_json")
    try:
        inputs = _ACTION_SCHEMA.load(raw, unknown=ma.EXCLUDE)
    except ma.ValidationError as err:
        raise _validation_error(err) from None
    photos = inspect_uploads(request.files.getlist("photos")) if request.files else []
    fire_action(event_id, action, user=current_user, inputs=inputs, expected_version=_if_match(), photos=photos)
    # Read back with its relations for the answer (the action may have been fired on plain rows).
    event = load_visible_event(event_id, current_user)
    body = presenters.event_detail(event, current_user, [a.name for a in allowed_actions(current_user, event)])
    return body, 200, {"ETag": f'"{event.version}"'}
