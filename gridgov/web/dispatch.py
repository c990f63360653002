"""The dispatcher desk (/dispatch): queues of what needs a decision now, a map of open events over the
grids, the event page with the actions allowed right now, batch dispatch, and the supervised list."""
from __future__ import annotations

import shapely
from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from gridgov.access import can_see, visible_events_clause
from gridgov.auth import is_safe_next
from gridgov.extensions import db
from gridgov.models import Area, Category, Department, Event, Extension, Supervision
from gridgov.models.events import OPEN_STATES, SOURCES
from gridgov.routing import row_id
from gridgov.services import presenters, queues
from gridgov.services.areas import area_version
from gridgov.services.deadlines import deadline_status
from gridgov.services.duplicates import likely_duplicates
from gridgov.services.suggestions import department_choices, dispatch_suggestion
from gridgov.services.workflow import allowed_actions, fire_action, load_visible_event
from gridgov.timeutil import utcnow
from gridgov.web.console import (OPTIONAL_INPUTS, error_message, fixable, local_input_value, roles_required)

bp = Blueprint("dispatch", __name__, url_prefix="/dispatch")

CONSOLE_ROLES = ("dispatcher", "supervisor", "admin")
MAP_LIMIT = 1000
STATUS_RANK = {None: 0, "normal": 1, "warning": 2, "overdue": 3}
_GRID_SHAPES: dict[tuple, list] = {}
QUEUE_LABELS = {
    "new": _l("新上报"), "to_dispatch": _l("待派遣"), "unmapped": _l("未落网格"), "returned": _l("退回待改派"),
    "extension": _l("延期申请"), "to_close": _l("待结案"), "overdue": _l("已超期"), "supervised": _l("督办中"),
    "open": _l("全部在办"),
}


def area_options(user) -> tuple[list[Area], list[Area]]:
    """Townships and villages inside the user's jurisdiction, for the filters."""
    root = "" if user.role == "admin" else user.area_code
    rows = db.session.scalars(db.select(Area).where(Area.level.in_(("township", "village")),
                                                    Area.code.startswith(root)).order_by(Area.code)).all()
    return [a for a in rows if a.level == "township"], [a for a in rows if a.level == "village"]


def leaf_categories() -> list[Category]:
    return list(db.session.scalars(db.select(Category).where(Category.active.is_(True)).order_by(Category.code)))


def map_points(user, filters) -> list[dict]:
    now = utcnow()
    rows = db.session.scalars(db.select(Event).where(
        visible_events_clause(user), Event.state.in_(OPEN_STATES), *filters.clauses(now))
        .order_by(Event.reported_at.desc()).limit(MAP_LIMIT)).all()
    return [{"id": e.id, "number": e.number, "lat": e.lat, "lon": e.lon, "state": e.state,
             "status": deadline_status(e, now) or "none", "grid": e.grid_code,
             "url": url_for("dispatch.event", event_id=e.id)} for e in rows]


@bp.route("")
@roles_required(*CONSOLE_ROLES)
def desk():
    filters = queues.DeskFilters.from_args(request.args)
    queue = request.args.get("queue", "new")
    if queue not in queues.QUEUES:
        queue = "new"
    sort = request.args.get("sort", "newest")
    events = queues.queue_events(current_user, queue, filters, sort)
    townships, villages = area_options(current_user)
    return render_template(
        "dispatch/desk.html", queue=queue, queues=list(queues.QUEUES), queue_labels=QUEUE_LABELS, sort=sort, sorts=list(queues.SORTS),
        counts=queues.queue_counts(current_user, filters), events=events, filters=filters, townships=townships,
        villages=villages, categories=leaf_categories(), sources=SOURCES, points=map_points(current_user, filters),
        departments=department_choices(), tile_url=current_app.config.get("MAP_TILE_URL") or "",
        statuses={e.id: deadline_status(e) for e in events},
    )


def _grid_shapes(root: str) -> list:
    key = (area_version(), root)
    if key not in _GRID_SHAPES:
        rows = db.session.execute(db.select(Area.code, Area.name, Area.geometry).where(
            Area.level == "grid", Area.code.startswith(root))).all()
        shapes = []
        for code, name, wkb in rows:
            if wkb is not None:
                geometry = shapely.from_wkb(wkb).simplify(0.00005, preserve_topology=True)
                shapes.append((code, name, shapely.geometry.mapping(geometry)))
        if len(_GRID_SHAPES) > 32:
            _GRID_SHAPES.clear()
        _GRID_SHAPES[key] = shapes
    return _GRID_SHAPES[key]


@bp.route("/grids.geojson")
@roles_required(*CONSOLE_ROLES)
def grids_geojson():
    """The grids of the user's jurisdiction (simplified), each with the worst deadline status of its open events."""
    root = "" if current_user.role == "admin" else current_user.area_code
    township = request.args.get("township", "")
    if township and (township.startswith(root) and len(township) == 9):
        root = township
    now = utcnow()
    worst: dict[str, str] = {}
    for event in db.session.scalars(db.select(Event).where(
            visible_events_clause(current_user), Event.state.in_(OPEN_STATES), Event.grid_code.startswith(root))):
        status = deadline_status(event, now) or "none"
        if STATUS_RANK.get(status, 0) >= STATUS_RANK.get(worst.get(event.grid_code), 0):
            worst[event.grid_code] = status
    features = [{"type": "Feature", "geometry": geometry,
                 "properties": {"code": code, "name": name, "status": worst.get(code, "")}}
                for code, name, geometry in _grid_shapes(root)]
    response = jsonify({"type": "FeatureCollection", "features": features})
    response.headers["Cache-Control"] = "private, no-store"
    return response


def event_context(event: Event) -> dict:
    """What every console's event page shows: facts, photos, log, tasks, supervisions, extensions, actions."""
    actions = allowed_actions(current_user, event)
    names = {a.name for a in actions}
    suggestion = dispatch_suggestion(event) if names & {"dispatch", "redispatch"} else None
    pending = db.session.scalar(db.select(Extension).where(Extension.event_id == event.id,
                                                           Extension.status == "pending").limit(1))
    departments = {d.code: d for d in db.session.scalars(db.select(Department))}
    context = {
        "event": event, "actions": actions, "optional_inputs": OPTIONAL_INPUTS, "suggestion": suggestion,
        "department_options": department_choices(event) if suggestion else [], "departments": departments,
        "suggested_deadline": local_input_value(suggestion.deadline) if suggestion else "",
        "requested_deadline": local_input_value(pending.requested_deadline) if pending else "",
        "pending_extension": pending, "status": deadline_status(event),
        "supervisions": list(db.session.scalars(db.select(Supervision).where(Supervision.event_id == event.id)
                                                .order_by(Supervision.id))),
        "extensions": list(db.session.scalars(db.select(Extension).where(Extension.event_id == event.id)
                                              .order_by(Extension.id))),
        "tile_url": current_app.config.get("MAP_TILE_URL") or "",
        # Full for dispatchers and admins, masked for supervisors (they share this page).
        "caller": presenters.caller_fields(event, current_user, reveal_caller=True),
    }
    context["ctx"] = context
    return context


@bp.route("/events/<int:event_id>")
@roles_required(*CONSOLE_ROLES)
def event(event_id: int):
    event = load_visible_event(event_id, current_user)
    context = event_context(event)
    duplicates = [d for d in likely_duplicates(event) if _visible(d)]
    return render_template("dispatch/event.html", duplicates=duplicates,
                           can_merge=any(a.name == "merge" for a in context["actions"]), **context)


def _visible(other: Event) -> bool:
    return can_see(current_user, other)


@bp.route("/batch", methods=["POST"])
@roles_required("dispatcher", "admin")
def batch():
    """Register (when still new) and dispatch each selected event, one transaction each; report per event."""
    ids = [i for i in map(row_id, request.form.getlist("event_id")) if i is not None][:100]
    department = request.form.get("department", "").strip() or None
    override = request.form.get("override_reason", "").strip()
    done, failed = [], []
    for event_id in ids:
        try:
            event = load_visible_event(event_id, current_user)
            if event.state == "reported":
                fire_action(event_id, "register", user=current_user)
            inputs = {"department": department or dispatch_suggestion(event).department}
            if department and department not in dispatch_suggestion(event).department_codes:
                if not override:
                    raise _override_missing()
                inputs["override_reason"] = override
            fire_action(event_id, "dispatch", user=current_user, inputs=inputs)
            done.append(event.number)
        except Exception as exc:
            if not (fixable(exc) or getattr(exc, "status", None) in (403, 404)
                    or type(exc).__name__ in ("NotAllowed", "NotFound")):
                raise
            failed.append(f"#{event_id}: {error_message(exc)}")
    if done:
        flash(_("已派遣 %(count)d 件：%(numbers)s", count=len(done), numbers="、".join(done)), "ok")
    for line in failed:
        flash(line, "error")
    if not ids:
        flash(_("请先勾选要派遣的事件"), "error")
    target = request.form.get("next") or ""
    return redirect(target if target.startswith("/dispatch") and is_safe_next(target) else url_for("dispatch.desk"))


def _override_missing():
    from gridgov.errors import AppError

    return AppError("改动了建议的部门，请填写原因", "You changed the suggested department: give a reason", status=422,
                    code="override_reason_required")


@bp.route("/supervised")
@roles_required(*CONSOLE_ROLES)
def supervised():
    """Events under supervision (督办) in the jurisdiction, newest order first, with their latest order."""
    include_closed = request.args.get("all") == "1"
    query = db.select(Event).where(visible_events_clause(current_user), Event.supervision_level > 0)
    if not include_closed:
        query = query.where(Event.state.in_(OPEN_STATES))
    events = db.session.scalars(query.order_by(Event.supervision_level.desc(), Event.reported_at.desc())
                                .limit(300)).all()
    latest = {}
    if events:
        for s in db.session.scalars(db.select(Supervision).where(Supervision.event_id.in_([e.id for e in events]))
                                    .order_by(Supervision.id)):
            latest[s.event_id] = s
    return render_template("dispatch/supervised.html", events=events, latest=latest, include_closed=include_closed,
                           statuses={e.id: deadline_status(e) for e in events})
