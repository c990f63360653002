"""12345 hotline entry for dispatchers: a citizen's call becomes an event on the hotline workflow.

The caller's name and phone are stored on the event and are private: lists mask them for
everyone; only the detail shown to dispatchers and admins reveals them (presenters decide).
"""
from __future__ import annotations

import re
import uuid

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from gridgov.errors import AppError
from gridgov.extensions import db
from gridgov.models import Event
from gridgov.services import presenters
from gridgov.services.mapdata import area_layer, area_names
from gridgov.services.reporting import report_event
from gridgov.services.workflow import load_visible_event
from gridgov.access import visible_events_clause
from gridgov.web.mobile import URGENCIES, category_tree, state_label

bp = Blueprint("hotline", __name__, url_prefix="/hotline")

PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,30}$")
HOTLINE_ROLES = ("dispatcher", "admin")


@bp.before_request
@login_required
def _dispatchers_only():
    if current_user.role not in HOTLINE_ROLES:
        abort(403)


def _form_values() -> dict:
    f = request.form
    return {k: (f.get(k) or "").strip() for k in ("caller_name", "caller_phone", "address", "lon", "lat", "category",
                                                  "description", "urgency", "client_uuid")}


def _number(value: str, name_zh: str, name_en: str) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise AppError(f"{name_zh}必须是数字", f"{name_en} must be a number", status=422, code="bad_coordinate") from None


@bp.route("/new", methods=["GET", "POST"])
def new():
    values = {"urgency": "1", "client_uuid": uuid.uuid4().hex}
    error = None
    if request.method == "POST":
        values = _form_values()
        try:
            if not values["caller_name"] or not PHONE.match(values["caller_phone"]):
                raise AppError("请填写来电人姓名和有效的电话号码", "Enter the caller's name and a valid phone number",
                               status=422, code="caller")
            lon, lat = _number(values["lon"], "经度", "Longitude"), _number(values["lat"], "纬度", "Latitude")
            if (lon is None) != (lat is None):
                raise AppError("经度和纬度须同时填写", "Give both longitude and latitude", status=422, code="location")
            result = report_event(
                user=current_user, category=values["category"], description=values["description"], lon=lon, lat=lat,
                crs="wgs84", urgency=values["urgency"] or 1, address=values["address"],
                client_uuid=values["client_uuid"] or None, source="hotline", workflow="hotline",
                caller_name=values["caller_name"][:100], caller_phone=values["caller_phone"][:32],
            )
            return redirect(url_for("hotline.show", event_id=result.event.id))
        except AppError as exc:
            error = exc
    return render_template("hotline/new.html", values=values, error=error, categories=category_tree(),
                           urgencies=URGENCIES), (422 if error else 200)


@bp.get("/")
def index():
    events = db.session.scalars(db.select(Event).where(Event.source == "hotline", visible_events_clause(current_user))
                                .order_by(Event.reported_at.desc(), Event.id.desc()).limit(50)).all()
    rows = [presenters.event_summary(e, current_user) for e in events]  # callers masked in lists
    return render_template("hotline/index.html", rows=rows, state_label=state_label)


@bp.get("/<int:event_id>")
def show(event_id: int):
    event = load_visible_event(event_id, current_user)
    body = presenters.event_summary(event, current_user, reveal_caller=True)
    names = area_names((event.grid_code, event.village_code, event.township_code))
    return render_template("hotline/show.html", event=event, body=body, names=names, state_label=state_label)


@bp.get("/areas.geojson")
def areas_geojson():
    area = current_user.area_code
    levels = ("township", "village") if len(area) == 6 else ("village", "grid")
    response = jsonify(area_layer(area, levels))
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
