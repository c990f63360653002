"""A minimal message centre: the user's in-app notifications, mark read, and the unread badge."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from gridgov.routing import row_id
from gridgov.services import notifications as service

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.app_context_processor
def unread_badge():
    # A callable, so pages that do not show the badge do not pay for the count.
    def unread_notifications() -> int:
        if not getattr(current_user, "is_authenticated", False):
            return 0
        return service.unread_count(current_user)

    return {"unread_notifications": unread_notifications}


@bp.route("")
@login_required
def index():
    return render_template("notifications/index.html", items=service.inbox(current_user))


@bp.route("/read", methods=["POST"])
@login_required
def read():
    ids = None if request.form.get("all") else [i for i in map(row_id, request.form.getlist("id")) if i is not None]
    service.mark_read(current_user, ids)
    return redirect(url_for("notifications.index"))
