"""What the consoles share: role gates, parsing an action form, firing it and reporting back on the page.

Every console posts its action forms to one route (`/events/<id>/act/<action>`), so parsing the inputs
each action needs, the flash of a domain error and the redirect back live here once.
"""
from __future__ import annotations

from datetime import datetime
from functools import wraps
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from gridgov.auth import is_safe_next
from gridgov.errors import AppError
from gridgov.i18n import bilingual
from gridgov.routing import row_id
from gridgov.timeutil import EARLIEST_DAY, LATEST_DAY
from gridgov.services.photos import inspect_uploads
from gridgov.services.workflow import fire_action, load_visible_event

bp = Blueprint("console", __name__)

# Statuses a person can fix on the page they came from: shown as a message there, not an error page.
FIXABLE_STATUSES = (400, 409, 422)

# Inputs an action's form offers besides the ones its definition requires.
OPTIONAL_INPUTS = {
    "dispatch": ("override_reason",),
    "redispatch": ("deadline", "override_reason"),
    "supervise": ("level", "deadline"),
    "approve_extension": ("deadline",),
    "verify_pass": ("comment",),
}
TEXT_INPUTS = ("comment", "reason", "override_reason", "department", "satisfaction")


def roles_required(*roles: str):
    """Log in first; then 403 for any role not listed (the page does not exist for them)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def parse_local_datetime(value: str | None) -> datetime | None:
    """A `datetime-local` field (wall time in the configured zone) as an aware datetime.

    Only days the JSON API also takes (EARLIEST_DAY…LATEST_DAY): year 1 or 9999 overflows `datetime` on
    the way to UTC and to the deadline arithmetic."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise AppError("时间格式不正确", "The date and time are not valid", status=422, code="bad_datetime") from None
    if not EARLIEST_DAY <= parsed.date() <= LATEST_DAY:
        raise AppError(f"时间应在 {EARLIEST_DAY} 至 {LATEST_DAY} 之间",
                       f"The date must lie between {EARLIEST_DAY} and {LATEST_DAY}", status=422, code="bad_datetime")
    if parsed.tzinfo is not None:
        return parsed
    return parsed.replace(tzinfo=ZoneInfo(current_app.config["GRIDGOV_TIMEZONE"]))


def local_input_value(value: datetime | None) -> str:
    """The value a `datetime-local` field shows for an aware or naive-UTC datetime."""
    from gridgov.timeutil import to_local

    local = to_local(value, current_app.config["GRIDGOV_TIMEZONE"])
    return local.strftime("%Y-%m-%dT%H:%M") if local else ""


def action_inputs(form) -> dict:
    inputs = {name: form.get(name, "").strip() for name in TEXT_INPUTS if form.get(name, "").strip()}
    if form.get("deadline"):
        inputs["deadline"] = parse_local_datetime(form["deadline"])
    if form.get("master_event", "").strip():
        master = row_id(form["master_event"])
        if master is None:
            raise AppError("被合并的事件编号不正确", "The master event id is not valid", status=422,
                           code="bad_master_event")
        inputs["master_event"] = master
    if form.get("level", "").strip():
        if form["level"] not in ("1", "2", "3"):
            raise AppError("督办级别应为 1、2 或 3", "Supervision level must be 1, 2 or 3", status=422, code="bad_level")
        inputs["level"] = int(form["level"])
    return inputs


def expected_version(form) -> int | None:
    """The version the page showed; anything that is no version number means the page did not say."""
    return row_id(form.get("version"))


def error_message(exc: Exception) -> str:
    return bilingual(exc.message_zh, exc.message_en)


def fixable(exc: Exception) -> bool:
    from gridgov.errors import status_for

    return hasattr(exc, "message_zh") and status_for(exc) in FIXABLE_STATUSES


def back_to(default: str):
    target = request.form.get("next") or request.args.get("next")
    return redirect(target if is_safe_next(target) else default)


def check_override(event, inputs: dict) -> None:
    """A dispatcher who leaves the suggested department or deadline says why (logged with the dispatch)."""
    from gridgov.services.suggestions import dispatch_suggestion

    suggestion = dispatch_suggestion(event)
    department = inputs.get("department")
    moved_department = department and department not in suggestion.department_codes
    deadline = inputs.get("deadline")
    moved_deadline = deadline is not None and abs((deadline - suggestion.deadline).total_seconds()) > 60
    if (moved_department or moved_deadline) and not inputs.get("override_reason"):
        raise AppError("改动了建议的部门或时限，请填写原因", "You changed the suggested department or deadline: "
                       "give a reason", status=422, code="override_reason_required")


@bp.route("/events/<int:event_id>/act/<action>", methods=["POST"])
@login_required
def act(event_id: int, action: str):
    """Fire one workflow action from a console form; fixable problems come back as a message."""
    default = url_for("console.event_page", event_id=event_id)
    event = load_visible_event(event_id, current_user)  # 404 outside the jurisdiction, before anything else
    try:
        inputs = action_inputs(request.form)
        if action in ("dispatch", "redispatch"):
            check_override(event, inputs)
        photos = inspect_uploads(request.files.getlist("photos")) if request.files else []
        fire_action(event_id, action, user=current_user, inputs=inputs,
                    expected_version=expected_version(request.form), photos=photos)
    except Exception as exc:
        if not fixable(exc):
            raise
        flash(error_message(exc), "error")
        back = request.form.get("back")
        return redirect(back) if is_safe_next(back) else back_to(default)
    flash(_("已完成：%(action)s", action=action_label(event, action)), "ok")
    return back_to(default)


def action_label(event, action: str) -> str:
    from flask_babel import get_locale
    from workflows import get_workflow

    try:
        definition = get_workflow(event.workflow).action(action)
    except Exception:
        return action
    return definition.label("en" if str(get_locale()) == "en" else "zh")


@bp.route("/events/<int:event_id>")
@login_required
def event_page(event_id: int):
    """Each role's own page for an event: the console that role works in."""
    load_visible_event(event_id, current_user)
    role = current_user.role
    if role == "handler":
        return redirect(url_for("tasks.task", event_id=event_id))
    if role == "grid_worker":
        return redirect(url_for("verify.event", event_id=event_id))
    return redirect(url_for("dispatch.event", event_id=event_id))


def _lang() -> str:
    from flask_babel import get_locale

    return "en" if str(get_locale()) == "en" else "zh"


@bp.app_context_processor
def console_helpers():
    """Labels the console templates share, in the request's language (names stored in both languages)."""
    from workflows import get_workflow

    def state_label(state: str, workflow: str = "default") -> str:
        try:
            return get_workflow(workflow).state(state).label(_lang())
        except Exception:
            return state

    def category_label(category) -> str:
        if category is None:
            return ""
        return (category.name_en or category.name_zh) if _lang() == "en" else category.name_zh

    def department_label(department) -> str:
        if department is None:
            return ""
        return (department.name_en or department.name) if _lang() == "en" else department.name

    urgency = {1: _("一般"), 2: _("紧急"), 3: _("特急")}
    sources = {"grid_worker": _("网格员上报"), "hotline": _("热线"), "open311": _("Open311"), "api": _("接口"),
               "dispatcher": _("调度员登记")}
    statuses = {"normal": _("正常"), "warning": _("预警"), "overdue": _("超期"), None: _("无时限"), "none": _("无时限")}
    inputs = {"comment": _("说明"), "reason": _("原因"), "photos": _("照片"), "department": _("处置部门"),
              "deadline": _("处置时限"), "master_event": _("合并到事件（编号 ID）"), "satisfaction": _("满意度"),
              "level": _("督办级别"), "override_reason": _("改动建议的原因")}
    log_actions = {"report": _("上报"), "note": _("处置进展"), "sweep_warning": _("预警"),
                   "sweep_overdue": _("超期")}

    def log_action_label(row) -> str:
        if row.action in log_actions:
            return log_actions[row.action]
        try:
            from workflows import get_workflow as gw

            return gw(row.event.workflow).action(row.action).label(_lang())
        except Exception:
            return row.action

    roles = {"grid_worker": _("网格员"), "dispatcher": _("调度员"), "handler": _("处置人员"), "supervisor": _("督查员"),
             "admin": _("管理员")}

    from gridgov.media.views import photo_url, thumb_url

    return {"photo_url": photo_url, "thumb_url": thumb_url, "state_label": state_label, "role_label": lambda r: roles.get(r, r), "category_label": category_label, "department_label": department_label,
            "urgency_labels": urgency, "source_labels": sources, "status_labels": statuses,
            "input_labels": inputs, "log_action_label": log_action_label, "ui_lang": _lang}
