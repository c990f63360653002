"""Operational figures for /healthz and `flask jobs status`: queue depth, failures, the outbox backlog."""
from __future__ import annotations

import redis
from flask import current_app
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from gridgov.extensions import db
from gridgov.jobs import queueing
from gridgov.models import OutboxMessage
from gridgov.timeutil import utcnow


def outbox_figures() -> dict:
    unsent, oldest = db.session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.sent_at.is_(None))
    ).one()
    gave_up = db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.attempts >= current_app.config["OUTBOX_MAX_INLINE_ATTEMPTS"]))
    return {
        "unsent": unsent,
        "oldest_unsent_age_s": round((utcnow() - oldest).total_seconds(), 1) if oldest else None,
        "inline_gave_up": gave_up if not current_app.config.get("REDIS_URL") else 0,
    }


def queue_figures() -> dict:
    url = current_app.config.get("REDIS_URL")
    name = current_app.config["RQ_QUEUE"]
    if not url:
        return {"mode": "inline", "queue": None}
    try:
        queue = queueing.queue_for(current_app)
        return {
            "mode": "rq", "queue": name, "reachable": True,
            "queued": queue.count,
            "started": StartedJobRegistry(queue=queue).count,
            "scheduled": ScheduledJobRegistry(queue=queue).count,
            "failed": FailedJobRegistry(queue=queue).count,
        }
    except redis.RedisError as exc:
        return {"mode": "rq", "queue": name, "reachable": False, "error": type(exc).__name__}


def health_figures() -> dict:
    """Contributed to /healthz (app.extensions['gridgov_health_extras'])."""
    try:
        box = outbox_figures()
    except Exception as exc:  # the database check above already reports the cause
        db.session.rollback()
        box = {"error": type(exc).__name__}
    return {"jobs": {**queue_figures(), "outbox": box}}
