"""Login and logout for the web pages (session cookie, remember-me, CSRF on the form)."""
from __future__ import annotations

import hmac
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from gridgov.errors import AppError
from gridgov.extensions import db, limiter
from gridgov.i18n import bilingual
from gridgov.timeutil import utcnow
from gridgov.models import User

bp = Blueprint("auth", __name__)


def configure_login(manager: LoginManager, app) -> None:
    current_app_teardown = app.teardown_request

    manager.login_view = "auth.login"
    manager.login_message = None
    manager.session_protection = "strong"

    @manager.user_loader
    def load_user(session_id: str) -> User | None:
        user_id, _, mark = session_id.partition(".")
        if not user_id.isdigit() or len(user_id) > 18:
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not hmac.compare_digest(mark, user.session_mark()):
            return None  # signed in before the password changed
        return user

    @manager.request_loader
    def load_user_from_bearer(req) -> User | None:
        header = req.headers.get("Authorization", "")
        if header[:7].lower() != "bearer ":
            return None
        from gridgov.services.tokens import user_for_token

        user = user_for_token(header[7:].strip())
        if user is not None:
            g.token_user = user
        return user

    @current_app_teardown
    def _forget_request_user(_exc=None):
        # Flask reuses an already-pushed app context for a request (tests and CLI jobs do that),
        # so the user cached in `g` must not outlive the request that loaded it.
        g.pop("_login_user", None)
        g.pop("token_user", None)

    @manager.unauthorized_handler
    def unauthorized():
        # Machines get a JSON 401; people get the login page with a way back.
        if request.path.startswith(("/api/", "/open311/")) or request.is_json:
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=256)])
    remember = BooleanField("remember")


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths: refuses //evil.example, https://evil, and backslash tricks, and control
    characters (a CR or LF cannot go into the Location header: Werkzeug refuses it, after the work was done)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(c < " " or c == "\x7f" for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class AccountLocked(AppError):
    status, code = 423, "account_locked"


def authenticate(username: str, password: str) -> User | None:
    """The user for these credentials, or None. Five wrong passwords in a row lock the account for
    15 minutes (an admin can unlock it sooner); a locked account refuses even the right password."""
    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        return None
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        raise AccountLocked("账号因多次密码错误已暂时锁定，请 15 分钟后再试或联系管理员解锁",
                            "The account is locked after repeated wrong passwords; try again in 15 minutes "
                            "or ask an administrator to unlock it")
    if not user.check_password(password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        db.session.commit()
        return None
    if not user.active:
        return None
    if user.failed_logins or user.locked_until:
        user.failed_logins, user.locked_until = 0, None
        db.session.commit()
    return user


def unlock(user: User) -> None:
    user.failed_logins, user.locked_until = 0, None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data.strip(), form.password.data)
            if user is None:
                error = bilingual("用户名或密码错误，或账号已停用", "Wrong username or password, or the account is disabled")
        except AccountLocked as exc:
            user, error = None, bilingual(exc.message_zh, exc.message_en)
        if user is not None:
            session.clear()
            login_user(user, remember=bool(form.remember.data))
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else url_for("home.index"))
    elif request.method == "POST":
        error = bilingual("表单已失效，请重新提交", "The form expired or is incomplete; please submit again")
    status = 401 if (request.method == "POST" and error) else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    session.clear()
    flash(bilingual("已退出登录", "You have logged out"))
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str):
    from gridgov.i18n import SUPPORTED_LOCALES

    if code in SUPPORTED_LOCALES:
        session["lang"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    target = request.form.get("next")
    return redirect(target if is_safe_next(target) else url_for("home.index"))
