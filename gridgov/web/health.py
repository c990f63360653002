"""/healthz: is the database reachable, is Redis (when configured) reachable."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from gridgov.extensions import db

bp = Blueprint("health", __name__)


def _check_database() -> dict:
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:  # any driver error means "not reachable"
        db.session.rollback()
        return {"ok": False, "error": type(exc).__name__}


def _check_redis() -> dict:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return {"ok": True, "configured": False, "mode": "inline jobs"}
    import redis

    started = time.perf_counter()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return {"ok": True, "configured": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    except redis.RedisError as exc:
        return {"ok": False, "configured": True, "error": type(exc).__name__}


@bp.route("/healthz")
def healthz():
    database = _check_database()
    redis_state = _check_redis()
    body = {"database": database, "redis": redis_state}
    extra = current_app.extensions.get("gridgov_health_extras", [])
    for contribute in extra:
        body.update(contribute())
    # Redis down degrades (reports wait in the outbox); only a dead database is unhealthy.
    body["status"] = "ok" if database["ok"] and redis_state["ok"] else ("degraded" if database["ok"] else "down")
    return jsonify(body), (200 if database["ok"] else 503)
