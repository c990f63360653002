"""`flask --app wsgi jobs …`: the deadline sweep, the outbox relay, the rq worker and scheduler, status."""
from __future__ import annotations

import json
import signal
import threading
from dataclasses import asdict
from datetime import datetime

import click
from flask.cli import AppGroup
from flask import current_app
from rq.cron import CronScheduler
from rq.worker import SimpleWorker

from gridgov.jobs import follower, maintenance, queueing, relay, status
from gridgov.jobs.sweep import run_sweep
from gridgov.jobs.worker import AppWorker
from gridgov.notify.deliver import deliver_external
from gridgov.timeutil import to_naive_utc


@click.group(cls=AppGroup, help="Background jobs: sweep, relay, worker, cron, status. 后台任务。")
def jobs() -> None:
    pass


@jobs.command("sweep")
@click.option("--now", "now_text", default=None, help="ISO time to sweep as (default: now; naive = UTC).")
@click.option("--no-relay", is_flag=True, help="Only mark and write outbox rows; do not relay them.")
def sweep(now_text: str | None, no_relay: bool) -> None:
    """Deadline pass: warnings, overdue marking, escalation, verification reminders."""
    now = to_naive_utc(datetime.fromisoformat(now_text)) if now_text else None
    result = run_sweep(now, relay=not no_relay)
    click.echo(json.dumps(result.as_dict(), ensure_ascii=False))


@jobs.command("relay")
@click.option("--follow", "follow_", is_flag=True,
              help="Keep running: relay each commit's rows at once (LISTEN/NOTIFY on PostgreSQL), so web "
                   "requests skip their own after-commit relay. One per deployment is enough; two are harmless.")
@click.option("--poll", default=2.0, show_default=True, type=float, help="With --follow: seconds between polls.")
def relay_command(follow_: bool, poll: float) -> None:
    """Send waiting outbox rows now (to rq, or inline when REDIS_URL is unset)."""
    if follow_:
        app = current_app._get_current_object()
        if not app.config.get("REDIS_URL"):
            raise click.ClickException("REDIS_URL is unset: commits run their jobs inline, there is nothing to follow")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            follower.follow(app, poll_seconds=poll, stop=stop)
        except KeyboardInterrupt:
            pass
        return
    result = relay.relay_pending(current_app._get_current_object())
    delivered = deliver_external(None)
    click.echo(json.dumps({**asdict(result), "delivered_after_quiet_hours": delivered}))
    if result.waiting:
        raise SystemExit(1)


@jobs.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@click.option("--queue", "queue_name", default=None, help="Queue name (default: RQ_QUEUE / GRIDGOV_RQ_QUEUE).")
@click.option("--simple", is_flag=True, help="Run jobs in this process instead of a forked work horse.")
def worker(burst: bool, queue_name: str | None, simple: bool) -> None:
    """Run an rq worker with the app's settings (and rq's scheduler, which retries need)."""
    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is unset: jobs run inline, there is nothing to work on")
    if queue_name:
        app.config["RQ_QUEUE"] = queue_name
    queue = queueing.queue_for(app)
    worker_class = AppWorker
    if simple:
        worker_class = type("AppSimpleWorker", (AppWorker, SimpleWorker), {})
    rq_worker = worker_class([queue], connection=queue.connection)
    rq_worker.app = app
    rq_worker.work(burst=burst, with_scheduler=True)


@jobs.command("cron")
@click.option("--interval", default=60, show_default=True, type=int, help="Seconds between periodic passes.")
def cron(interval: int) -> None:
    """Run rq's CronScheduler: enqueue the periodic pass (relay, sweep, quiet-hour delivery) every minute."""
    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is unset: run `flask jobs sweep` from the system cron instead")
    scheduler = CronScheduler(connection=queueing.connection(app.config["REDIS_URL"]))
    scheduler.register(maintenance.periodic, queue_name=app.config["RQ_QUEUE"], interval=interval,
                       job_timeout=app.config["JOB_TIMEOUT_SECONDS"], result_ttl=3600)
    scheduler.start()


@jobs.command("status")
@click.option("--json", "as_json", is_flag=True)
def status_command(as_json: bool) -> None:
    """Queue depth, failed jobs, the outbox backlog and its oldest row's age."""
    figures = status.health_figures()["jobs"]
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False))
        return
    for key, value in figures.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                click.echo(f"{key}.{sub:30} {subvalue}")
        else:
            click.echo(f"{key:37} {value}")
