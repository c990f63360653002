"""Locale and timezone selection: Chinese by default, English per user or per request."""
from __future__ import annotations

from flask import current_app, request, session
from flask_login import current_user

SUPPORTED_LOCALES = ("zh_CN", "en")


def select_locale() -> str:
    wanted = request.args.get("lang") or session.get("lang")
    if wanted in SUPPORTED_LOCALES:
        return wanted
    if getattr(current_user, "is_authenticated", False) and current_user.locale in SUPPORTED_LOCALES:
        return current_user.locale
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")


def select_timezone() -> str:
    return current_app.config["GRIDGOV_TIMEZONE"]


def bilingual(zh: str, en: str) -> str:
    """Pick the message in the request's language (for errors raised below the web layer)."""
    try:
        return en if select_locale() == "en" else zh
    except RuntimeError:  # outside a request
        return zh
