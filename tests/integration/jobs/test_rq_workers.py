"""Real Redis, real `flask jobs worker` processes: a killed worker, and Redis away while people report."""
from __future__ import annotations

import pytest

import os
import signal
import time

from rq.job import Job
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select

from gridgov.extensions import db
from gridgov.jobs import outbox, queueing
from gridgov.jobs.maintenance import reap_abandoned
from gridgov.jobs.relay import relay_pending
from gridgov.models import Event, Notification, OutboxMessage
from tests.conftest import build_app
from tests.helpers.waiting import wait_for
from tests.integration.jobs.conftest import add_event, demo_users, start_worker

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def _count(model, *where) -> int:
    db.session.rollback()  # end any read transaction: other processes write
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _kill_like_a_power_cut(process) -> None:
    """SIGKILL the worker's process group and its work horse (rq puts the horse in a group of its own)."""
    horses = _children(process.pid)
    os.killpg(process.pid, signal.SIGKILL)
    for pid in horses:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.communicate(timeout=10)


def _finish(process, timeout=60) -> str:
    output, _ = process.communicate(timeout=timeout)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    return text


# Real worker processes and Redis timing: retried twice before failing (known to flake under load).
@pytest.mark.flaky(reruns=2, reruns_delay=2)
def test_worker_killed_mid_job_is_retried_and_notifies_once(rq_app):
    with rq_app.app_context():
        demo = demo_users()
        event = add_event(demo)
        db.session.flush()
        outbox.add("notify", {"event_id": event.id, "topic": "event_reported", "user_ids": [demo.dispatcher.id]})
        db.session.commit()  # the relay enqueues the row on rq
        outbox_id = db.session.scalar(select(OutboxMessage.id))
        job_id = queueing.job_id_for(outbox_id, rq_app.config["RQ_QUEUE"])
        queue = queueing.queue_for(rq_app)
        assert queue.job_ids == [job_id]

        # The first worker records the notification, then sleeps before returning: kill -9 it there.
        first = start_worker(rq_app, burst=False, GRIDGOV_TEST_PAUSE_AFTER_NOTIFY="60")
        try:
            wait_for(lambda: _count(Notification) == 1, 30, "the first worker's notification")
            wait_for(lambda: job_id in StartedJobRegistry(queue=queue).get_job_ids(cleanup=False), 15,
                      "the job in the started registry")
        finally:
            _kill_like_a_power_cut(first)
        assert Job.fetch(job_id, connection=queue.connection).get_status() == "started"

        # Stand past the dead worker's heartbeat TTL (30 s monitoring + 60 s): rq retries the job.
        assert reap_abandoned(rq_app, at=time.time() + 120) == 1
        job = Job.fetch(job_id, connection=queue.connection)
        assert job.get_status() == "queued" and job.retries_left == rq_app.config["JOB_RETRY_MAX"] - 1

        _finish(start_worker(rq_app, burst=True))
        assert Job.fetch(job_id, connection=queue.connection).get_status() == "finished"
        assert _count(Notification) == 1


def test_reports_while_redis_is_down_wait_and_all_go_out_once(rq_app, tmp_path):
    down = build_app(rq_app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "down", REDIS_URL=CLOSED_PORT_URL,
                     RQ_QUEUE=rq_app.config["RQ_QUEUE"])
    with down.app_context():
        demo = demo_users()
        started = time.monotonic()
        for _ in range(50):  # 50 reports, each its own transaction: event row + outbox row
            event = add_event(demo)
            db.session.flush()
            outbox.add("notify", {"event_id": event.id, "topic": "event_reported",
                                  "audience": ["township_dispatchers"]})
            db.session.commit()
        assert time.monotonic() - started < 20  # Redis down must not stall the reports
        assert _count(Event) == 50
        assert _count(OutboxMessage, OutboxMessage.sent_at.is_(None)) == 50
        assert _count(Notification) == 0
        health = down.test_client().get("/healthz").get_json()
        assert health["status"] == "degraded" and health["jobs"]["outbox"]["unsent"] == 50
        assert health["jobs"]["outbox"]["oldest_unsent_age_s"] >= 0
        db.session.remove()
        db.engine.dispose()

    with rq_app.app_context():  # Redis is back
        assert relay_pending(rq_app).sent == 50
        assert relay_pending(rq_app).sent == 0  # nothing is enqueued twice
        assert queueing.queue_for(rq_app).count == 50
        _finish(start_worker(rq_app, burst=True))
        pairs = db.session.execute(select(Notification.event_id, Notification.user_id)).all()
        assert len(pairs) == 50 and len(set(pairs)) == 50
        assert {user for _, user in pairs} == {demo_users().dispatcher.id}
        assert _count(OutboxMessage, OutboxMessage.sent_at.is_(None)) == 0
        health = rq_app.test_client().get("/healthz").get_json()
        assert health["jobs"]["queued"] == 0 and health["jobs"]["outbox"]["unsent"] == 0
