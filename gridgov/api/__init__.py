"""The JSON API under /api/v1, described by /api/v1/openapi.json.

flask-smorest generates the OpenAPI 3 document from the same marshmallow schemas that parse and
validate each request, so the document cannot drift from the code; its own error handler is
replaced by gridgov.errors so every error has one shape in Chinese and English.
"""
from __future__ import annotations

from flask import Flask, g, request
from flask_login import current_user
from flask_smorest import Api
from flask_wtf.csrf import CSRFError, validate_csrf

from gridgov.api.responses import ErrorBody
from gridgov.errors import AppError
from gridgov.extensions import csrf


class GridgovApi(Api):
    # Errors are documented as gridgov.errors sends them, per operation (gridgov.api.responses.errors),
    # with no catch-all `default` that would make every status look documented.
    ERROR_SCHEMA = ErrorBody
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self):  # gridgov.errors handles every error, API included
        pass


BEARER_SCHEME = {"type": "http", "scheme": "bearer", "description": "Token from POST /api/v1/auth/token"}


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def init_api(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "gridgov API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "网格化社会治理事件系统 JSON API. Errors: {error: {status, code, message, message_zh, "
                                "message_en, details?}}; each operation lists the statuses it can answer."},
        "components": {"securitySchemes": {"bearerAuth": BEARER_SCHEME}},
        "security": [{"bearerAuth": []}],
    })
    # One Api per app: the OpenAPI document is built per application (tests build several).
    api = GridgovApi(app)
    app.extensions["gridgov_api"] = api

    from gridgov.api import auth as auth_routes, docs, events, geo, stats

    for blueprint in (auth_routes.blp, events.blp, geo.blp, stats.bp):
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    app.register_blueprint(docs.bp)  # the human-readable page of the same document

    @app.before_request
    def _api_csrf_for_cookie_sessions():
        # Bearer-token clients are not exposed to CSRF; a browser using its session cookie is.
        if not request.path.startswith("/api/") or request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        if bearer_token() or not current_user.is_authenticated or g.get("token_user") is not None:
            return None
        if not app.config.get("WTF_CSRF_ENABLED", True):
            return None
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except CSRFError:
            raise AppError("缺少或无效的 CSRF 令牌", "Missing or invalid CSRF token", status=400, code="csrf")
        except Exception:
            raise AppError("缺少或无效的 CSRF 令牌", "Missing or invalid CSRF token", status=400, code="csrf")
        return None
