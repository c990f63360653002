"""The once-a-minute pass (scheduled by rq's CronScheduler, see `flask jobs cron`).

It resends outbox rows that waited (Redis was down, or a relay died), sweeps deadlines, delivers
e-mail/SMS held back by quiet hours, hands abandoned rq jobs (their worker died) back to rq's
retry logic sooner than a worker's own 10-minute maintenance would, and enqueues again the rows whose
job Redis lost (restarted empty), see jobs/recovery.py.
"""
from __future__ import annotations

import logging
from dataclasses import asdict

from flask import Flask, current_app
from rq.registry import StartedJobRegistry

from gridgov.jobs import queueing, recovery, relay, tasks
from gridgov.jobs.sweep import run_sweep
from gridgov.notify.deliver import deliver_external

log = logging.getLogger(__name__)
LOCK_SECONDS = 55  # one pass per minute even when two cron schedulers run


def reap_abandoned(app: Flask, *, at: float | None = None) -> int:
    """Retry (or fail) jobs whose worker stopped heart-beating; returns how many were handled.

    rq 3 keeps each running job in the StartedJobRegistry with a score of now + heartbeat TTL (the
    job-monitoring interval + 60 s), refreshed by the live worker. A worker killed with SIGKILL stops
    refreshing; once the score is in the past, `cleanup()` treats the job as abandoned: it calls
    `job.retry()` while retries are left (requeue, or schedule after the Retry interval), else moves
    it to the FailedJobRegistry. `at` lets a test stand after the TTL without waiting for it.
    """
    queue = queueing.queue_for(app)
    registry = StartedJobRegistry(queue=queue)
    before = registry.get_job_count(cleanup=False)
    registry.cleanup(timestamp=at)
    return max(before - registry.get_job_count(cleanup=False), 0)


def rescue_never_started(app: Flask) -> int:
    """Put back on the queue the jobs a worker took off it but never started; returns how many.

    rq moves a job from the queue to an intermediate list when a worker takes it, and off that list
    when the job starts. A worker killed in between leaves the job there, in no registry, until some
    worker's own maintenance (every 10 minutes) notices; and since its key still exists in Redis,
    recovery.requeue_lost does not see it as lost. A job seen there on two passes a minute apart is
    stuck: it goes back on the queue under its own id (handlers are idempotent).
    """
    queue = queueing.queue_for(app)
    waiting = queue.intermediate_queue
    rescued = 0
    for job_id in waiting.get_job_ids():
        if job_id in queue.started_job_registry:
            continue
        job = queue.fetch_job(job_id)
        if job is None:
            waiting.remove(job_id)
        elif not waiting.set_first_seen(job_id) and waiting.should_be_cleaned_up(job_id):
            waiting.remove(job_id)
            queue.enqueue_job(job)
            rescued += 1
    return rescued


def periodic_pass(*, now=None) -> dict:
    app = current_app._get_current_object()
    report: dict = {"relay": asdict(relay.relay_pending(app))}
    report["sweep"] = run_sweep(now).as_dict()
    report["delivered_after_quiet_hours"] = deliver_external(None)
    if app.config.get("REDIS_URL"):
        report["abandoned_jobs"] = reap_abandoned(app)
        report["never_started_jobs_requeued"] = rescue_never_started(app)
        report["lost_jobs_requeued"] = recovery.requeue_lost(app)
    return report


def periodic() -> dict:
    """The rq job registered with the cron scheduler."""
    app = tasks.app_for_job()
    with app.app_context():
        if app.config.get("REDIS_URL"):
            conn = queueing.connection(app.config["REDIS_URL"])
            if not conn.set(f"gridgov:{app.config['RQ_QUEUE']}:periodic-lock", "1", nx=True, ex=LOCK_SECONDS):
                return {"skipped": "another pass ran less than a minute ago"}
        return periodic_pass()
