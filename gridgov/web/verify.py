"""Grid worker verification on the phone (/m/verify, 核查): handled events in my grids, the result photos,
pass or fail with a photo and a note. Only /m/verify* lives here; the other /m pages belong to the mobile module."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from gridgov.access import EVENT_COLUMN_BY_LEVEL, area_level, visible_events_clause
from gridgov.extensions import db
from gridgov.models import Event
from gridgov.services.workflow import load_visible_event
from gridgov.web.console import roles_required
from gridgov.web.dispatch import event_context

bp = Blueprint("verify", __name__, url_prefix="/m/verify")


def to_verify_query(user):
    in_area = getattr(Event, EVENT_COLUMN_BY_LEVEL[area_level(user.area_code)]) == user.area_code
    return db.select(Event).where(visible_events_clause(user), Event.state == "handled", Event.verified.is_(False),
                                  in_area | (Event.reporter_id == user.id))


@bp.route("")
@roles_required("grid_worker")
def index():
    events = db.session.scalars(to_verify_query(current_user).order_by(Event.handled_at.asc(), Event.id)
                                .limit(200)).all()
    return render_template("verify/index.html", events=events)


@bp.route("/<int:event_id>")
@roles_required("grid_worker")
def event(event_id: int):
    event = load_visible_event(event_id, current_user)
    context = event_context(event)
    return render_template("verify/event.html", **context)
