"""The department workbench (/tasks): my department's tasks with deadline countdowns, accept, progress notes,
result with after-photos, extension requests and returns."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from gridgov.extensions import db
from gridgov.models import Event, Task
from gridgov.services.deadlines import deadline_status
from gridgov.services.progress import add_progress_note
from gridgov.services.workflow import load_visible_event
from gridgov.web.console import error_message, fixable, roles_required
from gridgov.web.dispatch import event_context

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

ACTIVE = ("dispatched", "in_progress")
VIEWS = ("active", "handled", "done")


@bp.route("")
@roles_required("handler")
def index():
    view = request.args.get("view", "active")
    if view not in VIEWS:
        view = "active"
    query = db.select(Event).where(Event.department_code == current_user.department_code)
    if view == "active":
        query = query.where(Event.state.in_(ACTIVE)).order_by(Event.deadline.asc(), Event.id)
    elif view == "handled":
        query = query.where(Event.state == "handled").order_by(Event.handled_at.desc(), Event.id.desc())
    else:  # finished work my department did, whatever happened to the event since
        done = db.select(Task.event_id).where(Task.department_code == current_user.department_code,
                                              Task.status.in_(("done", "returned", "cancelled")))
        query = (db.select(Event).where(Event.id.in_(done), Event.state.not_in(ACTIVE + ("handled",)))
                 .order_by(Event.updated_at.desc()))
    events = db.session.scalars(query.limit(300)).all()
    counts = dict(db.session.execute(
        db.select(Event.state, db.func.count()).where(Event.department_code == current_user.department_code,
                                                       Event.state.in_(ACTIVE + ("handled",)))
        .group_by(Event.state)).all())
    return render_template("tasks/index.html", events=events, view=view, counts=counts,
                           statuses={e.id: deadline_status(e) for e in events})


@bp.route("/<int:event_id>")
@roles_required("handler")
def task(event_id: int):
    event = load_visible_event(event_id, current_user)
    context = event_context(event)
    return render_template("tasks/task.html", **context)


@bp.route("/<int:event_id>/note", methods=["POST"])
@roles_required("handler")
def note(event_id: int):
    try:
        add_progress_note(event_id, user=current_user, text=request.form.get("note", ""))
        flash(_("已记录处置进展"), "ok")
    except Exception as exc:
        if not fixable(exc):
            raise
        flash(error_message(exc), "error")
    return redirect(url_for("tasks.task", event_id=event_id))
