"""One place that turns errors into HTTP answers: JSON for the APIs, a page for people.

Domain errors (from workflows/, geo/ and services) carry `code`, `message_zh`, `message_en`;
their HTTP status comes from `STATUS_BY_ERROR` by class name, so the domain stays HTTP-free.
"""
from __future__ import annotations

from flask import Flask, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from gridgov.i18n import bilingual

# Class name → HTTP status for errors raised below the web layer.
STATUS_BY_ERROR = {
    "WrongState": 409,
    "StaleVersion": 409,
    "NotAllowed": 403,
    "MissingInput": 422,
    "InvalidInput": 422,
    "InvalidDefinition": 400,
    "UnknownAction": 404,
    "UnknownWorkflow": 404,
    "InvalidCoordinate": 400,
    "UnknownCRS": 400,
    "ImportRejected": 400,
    "GeoError": 400,
    "InvalidPhoto": 400,
    "NotFound": 404,
    "Conflict": 409,
    "BadRequest": 400,
    "Forbidden": 403,
    "Unavailable": 503,
}

HTTP_MESSAGES = {
    400: ("请求有误", "Bad request"),
    401: ("请先登录", "Please log in"),
    403: ("无权执行此操作", "You are not allowed to do this"),
    404: ("找不到该资源", "Not found"),
    405: ("不支持该请求方法", "Method not allowed"),
    409: ("数据已被他人修改，请刷新后重试", "The record changed meanwhile; reload and try again"),
    413: ("上传内容过大", "The upload is too large"),
    422: ("缺少必填内容", "Some required input is missing"),
    429: ("请求过于频繁，请稍后再试", "Too many requests; try again later"),
    503: ("服务暂不可用，请稍后重试", "Service temporarily unavailable; retry shortly"),
}


class AppError(Exception):
    """An error a person can understand, in Chinese and English."""

    status = 400
    code = "bad_request"

    def __init__(self, message_zh: str, message_en: str, *, status: int | None = None,
                 code: str | None = None, details: dict | None = None):
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.details = details or {}


class NotFound(AppError):
    status, code = 404, "not_found"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class Conflict(AppError):
    status, code = 409, "conflict"


def wants_json() -> bool:
    if request.path.startswith(("/api/", "/open311/", "/healthz")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_body(status: int, code: str, message_zh: str, message_en: str, details: dict | None = None):
    body = {
        "error": {
            "status": status,
            "code": code,
            "message": bilingual(message_zh, message_en),
            "message_zh": message_zh,
            "message_en": message_en,
        }
    }
    if details:
        body["error"]["details"] = details
    return body


def respond(status: int, code: str, message_zh: str, message_en: str, details: dict | None = None):
    if wants_json():
        return jsonify(error_body(status, code, message_zh, message_en, details)), status
    return (
        render_template(
            "error.html", status=status, message=bilingual(message_zh, message_en), details=details
        ),
        status,
    )


def status_for(exc: Exception) -> int | None:
    if isinstance(exc, AppError):
        return exc.status
    for cls in type(exc).__mro__:
        if cls.__name__ in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls.__name__]
    return None


# Path prefix → how an HTTP error is answered for a URL under it that matched no route (or not with that
# method). A blueprint's own error handlers never see routing errors, so a blueprint that speaks its own error
# format names its prefix here: Open311 (gridgov.open311.views) answers with the spec's list of errors.
UNROUTED_ERRORS = "gridgov_unrouted_errors"


def answer_unrouted_under(app: Flask, prefix: str, render) -> None:
    app.extensions.setdefault(UNROUTED_ERRORS, {})[prefix] = render


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if request.url_rule is None:
            for prefix, render in app.extensions.get(UNROUTED_ERRORS, {}).items():
                if request.path.startswith(prefix):
                    return render(exc)
        zh, en = HTTP_MESSAGES.get(exc.code or 500, (exc.name, exc.name))
        data = getattr(exc, "data", None) or {}
        details = None
        if "messages" in data or "errors" in data:  # webargs/marshmallow validation (422)
            details = {"fields": data.get("errors") or data.get("messages")}
            zh, en = "请求内容不符合要求", "Some fields are missing or invalid"
        response = respond(exc.code or 500, exc.name.lower().replace(" ", "_"), zh, en, details)
        if exc.code == 401 and not wants_json():
            return redirect(url_for("auth.login", next=request.full_path))
        return response

    from sqlalchemy.exc import DBAPIError

    @app.errorhandler(DBAPIError)
    def _database_unavailable(exc: DBAPIError):
        # A lost connection (database restarting, failover) is transient: say so and when to retry.
        # Nothing was half-written: the transaction rolled back with the connection.
        from gridgov.extensions import db

        db.session.rollback()
        if not exc.connection_invalidated and not _is_connection_error(exc):
            app.logger.exception("database error")
            return respond(500, "internal_error", "服务器内部错误，已记录", "Internal error; it has been logged")
        response = respond(503, "database_unavailable", "数据库暂时不可用，请稍后重试",
                           "The database is briefly unavailable; retry shortly")
        body, status = response if isinstance(response, tuple) else (response, 503)
        body = app.make_response((body, status))
        body.headers["Retry-After"] = "5"
        return body

    @app.teardown_appcontext
    def _close_session_despite_lost_connection(_exc=None):
        # Registered after Flask-SQLAlchemy's own teardown, so it runs first (teardowns run in reverse).
        # A database restart can cut the connection after the answer was made; the session's closing
        # ROLLBACK then fails. The transaction is gone with the connection (SQLAlchemy has invalidated
        # it), so that must not turn a finished request into a 500: forget the session and go on.
        from gridgov.extensions import db

        try:
            db.session.remove()
        except DBAPIError as exc:
            app.logger.warning("database connection lost while closing the session: %s", exc.orig)
            db.session.registry.clear()

    @app.errorhandler(Exception)
    def _domain(exc: Exception):
        status = status_for(exc)
        if status is None or not hasattr(exc, "message_zh"):
            app.logger.exception("unhandled error")
            from gridgov.extensions import db
            db.session.rollback()
            return respond(500, "internal_error", "服务器内部错误，已记录", "Internal error; it has been logged")
        from gridgov.extensions import db
        db.session.rollback()
        code = getattr(exc, "code", None) or type(exc).__name__
        details = getattr(exc, "details", None)
        if details is None and hasattr(exc, "report"):
            details = {"problems": [getattr(p, "as_dict", lambda p=p: str(p))() for p in exc.report]}
        return respond(status, str(code), exc.message_zh, exc.message_en, details)


def _is_connection_error(exc) -> bool:
    """Operational errors that mean "could not talk to the database", across psycopg and sqlite."""
    from sqlalchemy.exc import OperationalError

    if not isinstance(exc, OperationalError):
        return False
    text = str(getattr(exc, "orig", exc)).lower()
    return any(word in text for word in ("connection", "server closed", "terminating", "could not connect",
                                         "the database system is", "database is locked"))
