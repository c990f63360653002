"""Administration (/admin): users, departments, the category tree, area import (validation report first),
calendar overrides, the workflow diagrams and the admin audit log. Admins only; every change goes through a
service, which writes its audit row in the same transaction."""
from __future__ import annotations

import json
from math import ceil

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from gridgov.extensions import db
from gridgov.models import ROLES, ApiToken, Area, CalendarDay, Category, Department, User
from gridgov.routing import row_id
from gridgov.services import accounts, admin_audit, catalog_admin
from gridgov.services import areas as area_service
from gridgov.timeutil import utcnow
from gridgov.web.console import error_message, fixable
from gridgov.web.paging import page_number
from workflows import get_workflow
from workflows.diagram import to_svg
from workflows.registry import names as workflow_names

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def admins_only():
    if current_user.role != "admin":
        abort(403)


def _checked(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true")


def _run(default_endpoint: str, work, ok_message: str, **values):
    """Run one service call; a fixable error comes back as a message on the same page."""
    try:
        work()
        flash(ok_message, "ok")
    except Exception as exc:
        if not fixable(exc) and getattr(exc, "status", None) != 404:
            raise
        db.session.rollback()  # nothing of a refused change (nor its audit row) may ride on a later commit
        flash(error_message(exc), "error")
    return redirect(url_for(default_endpoint, **values))


@bp.route("")
def index():
    counts = {
        "users": db.session.scalar(db.select(db.func.count(User.id))),
        "departments": db.session.scalar(db.select(db.func.count()).select_from(Department)),
        "categories": db.session.scalar(db.select(db.func.count()).select_from(Category)),
        "calendar": db.session.scalar(db.select(db.func.count()).select_from(CalendarDay)),
    }
    return render_template("admin/index.html", counts=counts)


def _areas():
    return db.session.scalars(db.select(Area).where(Area.level != "grid").order_by(Area.code)).all()


@bp.route("/users")
def users():
    q = (request.args.get("q") or "").strip()
    query = db.select(User).order_by(User.role, User.username)
    if q:
        query = query.where(User.username.contains(q, autoescape=True) | User.display_name.contains(q, autoescape=True))
    return render_template("admin/users.html", users=db.session.scalars(query.limit(500)).all(), q=q, roles=ROLES,
                           areas=_areas(), departments=db.session.scalars(db.select(Department).order_by(Department.code)).all())


@bp.route("/users", methods=["POST"])
def create_user():
    form = request.form
    return _run("admin.users", lambda: accounts.create_user(
        username=form.get("username", "").strip(), password=form.get("password", ""), role=form.get("role", ""),
        area_code=form.get("area_code", ""), department_code=form.get("department_code") or None,
        display_name=form.get("display_name", "").strip(), actor=current_user), _("已创建用户"))


@bp.route("/users/<int:user_id>", methods=["GET"])
def edit_user(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    tokens = db.session.scalars(db.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                                                          ApiToken.expires_at > utcnow())
                                .order_by(ApiToken.id.desc())).all()
    return render_template("admin/user.html", user=user, roles=ROLES, areas=_areas(), tokens=tokens,
                           locked=bool(user.locked_until and user.locked_until > utcnow()),
                           departments=db.session.scalars(db.select(Department).order_by(Department.code)).all())


@bp.route("/users/<int:user_id>", methods=["POST"])
def update_user(user_id: int):
    form = request.form
    return _run("admin.edit_user", lambda: accounts.update_user(
        user_id, role=form.get("role", ""), area_code=form.get("area_code", ""),
        department_code=form.get("department_code") or None, display_name=form.get("display_name", ""),
        active=_checked("active"), acting=current_user), _("已保存"), user_id=user_id)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def reset_password(user_id: int):
    return _run("admin.edit_user", lambda: accounts.reset_password(user_id, request.form.get("password", ""),
                                                                   actor=current_user),
                _("密码已重置"), user_id=user_id)


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
def unlock_user(user_id: int):
    return _run("admin.edit_user", lambda: accounts.unlock_user(user_id, actor=current_user), _("已解除锁定"),
                user_id=user_id)


@bp.route("/users/<int:user_id>/tokens/revoke", methods=["POST"])
def revoke_tokens(user_id: int):
    """One token (`token_id`) or every live token (`all=1`); a form with neither changes nothing."""
    token_id = row_id(request.form.get("token_id"))
    every = request.form.get("all") == "1"

    def work():
        if not every and token_id is None:
            raise accounts.AccountError("请选择要撤销的令牌", "Choose the token to revoke", status=422)
        accounts.revoke_tokens(user_id, token_id=None if every else token_id, actor=current_user)

    return _run("admin.edit_user", work, _("已撤销令牌"), user_id=user_id)


@bp.route("/departments")
def departments():
    rows = db.session.scalars(db.select(Department).order_by(Department.level, Department.code)).all()
    return render_template("admin/departments.html", departments=rows, areas=_areas())


@bp.route("/departments", methods=["POST"])
def save_department():
    form = request.form
    return _run("admin.departments", lambda: catalog_admin.save_department(
        code=form.get("code", ""), name=form.get("name", ""), name_en=form.get("name_en", ""),
        level=form.get("level", "county"), area_code=form.get("area_code", ""), active=_checked("active"),
        actor=current_user),
        _("已保存部门"))


@bp.route("/categories")
def categories():
    rows = db.session.scalars(db.select(Category).order_by(Category.code)).all()
    return render_template("admin/categories.html", categories=rows, units=catalog_admin.TIME_UNITS,
                           departments=db.session.scalars(db.select(Department).order_by(Department.code)).all())


@bp.route("/categories/<code>", methods=["POST"])
def update_category(code: str):
    form = request.form
    return _run("admin.categories", lambda: catalog_admin.update_category(
        code, time_limit=form.get("time_limit", ""), time_unit=form.get("time_unit", ""),
        urgent_time_limit=form.get("urgent_time_limit", ""),
        default_department_code=form.get("default_department_code", ""), active=_checked("active"),
        actor=current_user),
        _("已保存分类 %(code)s", code=code))


@bp.route("/areas/import", methods=["GET", "POST"])
def area_import():
    report = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(_("请选择要上传的文件"), "error")
        else:
            try:
                token = area_service.stage_upload(upload)
            except area_service.UnreadableUpload as exc:
                flash(error_message(exc), "error")
            else:
                report = area_service.preview_import(token, level=request.form.get("level") or None)
                if not report["can_commit"]:
                    area_service.discard_staged(token)
    return render_template("admin/area_import.html", report=report)


@bp.route("/areas/import/commit", methods=["POST"])
def area_import_commit():
    level = request.form.get("level") or None
    return _run("admin.area_import", lambda: area_service.commit_import(request.form.get("token", ""), level=level,
                                                                        actor=current_user),
                _("已导入区域"))


@bp.route("/calendar")
def calendar():
    rows = db.session.scalars(db.select(CalendarDay).order_by(CalendarDay.day.desc())).all()
    return render_template("admin/calendar.html", days=rows)


@bp.route("/calendar", methods=["POST"])
def set_calendar_day():
    form = request.form
    return _run("admin.calendar", lambda: catalog_admin.set_calendar_day(
        form.get("day", ""), is_workday=form.get("is_workday") == "1", note=form.get("note", ""), actor=current_user),
        _("已保存"))


@bp.route("/calendar/<day>/delete", methods=["POST"])
def delete_calendar_day(day: str):
    def work():
        if not catalog_admin.delete_calendar_day(day, actor=current_user):
            raise catalog_admin.CatalogError("该日没有调整", "There is no override on that day", status=404,
                                             code="not_found")

    return _run("admin.calendar", work, _("已删除"))


@bp.route("/workflows")
def workflows():
    lang = "en" if str(get_locale()) == "en" else "zh"
    diagrams = [(name, get_workflow(name), to_svg(get_workflow(name), lang)) for name in workflow_names()]
    return render_template("admin/workflows.html", diagrams=diagrams)


@bp.route("/audit")
def audit():
    """The admin audit log, newest first: filter by actor, action (or a family such as `user.`) and local dates."""
    filters = admin_audit.AuditFilters.from_args(request.args)
    page = page_number(request.args)
    rows, total = admin_audit.page_of_rows(filters, page)
    report = admin_audit.verify_chain() if request.args.get("verify") == "1" else None
    actions = admin_audit.known_actions()
    return render_template("admin/audit.html", rows=rows, total=total, page=page,
                           pages=max(ceil(total / admin_audit.PAGE_SIZE), 1), filters=filters, actions=actions,
                           families=sorted({a.split(".")[0] + "." for a in actions}),
                           actors=admin_audit.known_actors(), report=report,
                           as_text=lambda data: json.dumps(data, ensure_ascii=False, sort_keys=True))
