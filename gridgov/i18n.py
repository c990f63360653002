"""Locale and timezone selection: Chinese by default, English per user or per request."""
from __future__ import annotations

from flask import current_app, g, request, session
from flask_login import current_user
from sqlalchemy.exc import DBAPIError

from gridgov.extensions import db

SUPPORTED_LOCALES = ("zh_CN", "en")


def select_locale() -> str:
    wanted = request.args.get("lang") or session.get("lang")
    if wanted in SUPPORTED_LOCALES:
        return wanted
    locale = _user_locale()
    if locale in SUPPORTED_LOCALES:
        return locale
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")


def _user_locale() -> str | None:
    """The signed-in user's language, unless finding it needs a database that is not answering.

    The 503 page for a lost database connection is itself translated: loading the user (a bearer
    token is looked up) or refreshing it (the handler's rollback expired it) would fail again inside
    the error handler and turn the 503 into a bare 500. Then the default language does, and the
    request stays anonymous so nothing tries again.
    """
    try:
        if getattr(current_user, "is_authenticated", False):
            return current_user.locale
    except DBAPIError:
        g._login_user = current_app.login_manager.anonymous_user()
        db.session.rollback()
    return None


def select_timezone() -> str:
    return current_app.config["GRIDGOV_TIMEZONE"]


def bilingual(zh: str, en: str) -> str:
    """Pick the message in the request's language (for errors raised below the web layer)."""
    try:
        return en if select_locale() == "en" else zh
    except RuntimeError:  # outside a request
        return zh
