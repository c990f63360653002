"""Template filters: local time, event state labels, masking of personal data."""
from __future__ import annotations

from flask import Flask, current_app

from gridgov.timeutil import to_local


def local_time(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    local = to_local(value, current_app.config["GRIDGOV_TIMEZONE"])
    return local.strftime(fmt) if local else ""


def mask_phone(phone: str | None) -> str:
    """138****5678: enough to recognise a caller, not enough to call them."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    return digits[:3] + "*" * max(len(digits) - 7, 1) + digits[-4:]


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def register(app: Flask) -> None:
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["mask_name"] = mask_name
