"""The landing page after login: who you are, where you are, where to go next."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

bp = Blueprint("home", __name__)

ROLE_LABELS = {
    "grid_worker": ("网格员", "Grid worker"),
    "dispatcher": ("调度员", "Dispatcher"),
    "handler": ("处置人员", "Handler"),
    "supervisor": ("督查员", "Supervisor"),
    "admin": ("管理员", "Administrator"),
}


@bp.route("/")
@login_required
def index():
    return render_template("home/index.html", user=current_user, role_labels=ROLE_LABELS)
