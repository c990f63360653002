"""Send again the outbox rows whose rq job Redis no longer holds.

The relay marks a row sent when rq has the job; the job marks it done when it has run
(`tasks.execute`). In between, the job lives only in Redis. A Redis that restarts without persistence,
fails over to a replica that had not caught up, or evicts keys under memory pressure loses it, and
with it the notification, the escalation or the reminder, while the outbox says "sent". So the
periodic pass (`maintenance.periodic_pass`) looks at rows sent but not done for a while, asks Redis
whether their job still exists (queued, running, scheduled for a retry or failed), and enqueues the
ones it has lost again under the same job id. Handlers are idempotent (dedupe keys), so a job that did
run but died before recording it does no harm when it runs once more.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import redis
from flask import Flask
from rq.job import Job
from sqlalchemy import select, update

from gridgov.extensions import db
from gridgov.jobs import queueing, relay
from gridgov.models import OutboxMessage
from gridgov.timeutil import utcnow

log = logging.getLogger(__name__)

# A row younger than this is left alone: its job is normally still queued or running.
GRACE_SECONDS = 60
BATCH = 500


def requeue_lost(app: Flask, *, grace_seconds: float = GRACE_SECONDS, now=None) -> int:
    """Enqueue again every row sent before `grace_seconds` ago, not done, whose job Redis lacks.
    Returns how many. A Redis error leaves the rows as they were (the next pass tries again)."""
    if not app.config.get("REDIS_URL"):
        return 0  # inline mode: the relay runs the handler itself, nothing lives outside the database
    queue = queueing.queue_for(app)
    connection = queue.connection
    cutoff = (now or utcnow()) - timedelta(seconds=grace_seconds)
    requeued, after_id = 0, 0
    while True:
        ids = list(db.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.sent_at.is_not(None), OutboxMessage.done_at.is_(None),
                   OutboxMessage.sent_at < cutoff, OutboxMessage.id > after_id)
            .order_by(OutboxMessage.id).limit(BATCH)))
        db.session.rollback()
        if not ids:
            return requeued
        after_id = ids[-1]
        try:
            with connection.pipeline(transaction=False) as pipe:
                for outbox_id in ids:
                    pipe.exists(Job.key_for(queueing.job_id_for(outbox_id, queue.name)))
                present = pipe.execute()
        except redis.RedisError as exc:
            log.warning("outbox recovery: Redis unavailable (%s)", exc)
            return requeued
        lost = [outbox_id for outbox_id, exists in zip(ids, present) if not exists]
        if lost:
            requeued += _enqueue_again(queue, lost, app)
        if len(ids) < BATCH:
            return requeued


def _enqueue_again(queue, ids: list[int], app: Flask) -> int:
    # Claim first (a row done meanwhile drops out), enqueue, then commit: if Redis fails the claim
    # rolls back and the rows stay as they were.
    claimed = list(db.session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.done_at.is_(None))
        .values(sent_at=utcnow(), attempts=OutboxMessage.attempts + 1,
                last_error="enqueued again: its rq job was no longer in Redis")
        .returning(OutboxMessage.id)))
    if not claimed:
        db.session.rollback()
        return 0
    retry = queueing.retry_policy(app)
    try:
        relay.enqueue_rows(queue, claimed, retry)
    except redis.RedisError as exc:
        db.session.rollback()
        log.warning("outbox recovery: could not enqueue %d rows again (%s)", len(claimed), exc)
        return 0
    db.session.commit()
    log.warning("outbox recovery: %d rows whose rq job was lost enqueued again (first %s)", len(claimed), claimed[0])
    return len(claimed)
