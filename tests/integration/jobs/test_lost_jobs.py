"""Jobs Redis lost (restarted without persistence) are enqueued again by the periodic pass, and each
notification still goes out once. The soak run's Redis stop lost every queued job before this."""
from __future__ import annotations

import time
from datetime import timedelta

import redis
from sqlalchemy import func, select

from gridgov.extensions import db
from gridgov.jobs import outbox, queueing
from gridgov.jobs.maintenance import periodic_pass
from gridgov.jobs.recovery import requeue_lost
from gridgov.models import Notification, OutboxMessage
from gridgov.timeutil import utcnow
from tests.integration.jobs.conftest import add_event, demo_users, start_worker


def _report(demo) -> int:
    event = add_event(demo)
    db.session.flush()
    message = outbox.add("notify", {"event_id": event.id, "topic": "event_reported", "user_ids": [demo.dispatcher.id]})
    db.session.commit()  # the relay enqueues the row on rq
    return message.id


def _work_off(application) -> None:
    worker = start_worker(application, burst=True)
    output, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, output.decode(errors="replace")


def _redis_restarts_empty(application) -> None:
    """What `redis-server --save "" --appendonly no` does on a restart, limited to this test's keys."""
    conn = redis.Redis.from_url(application.config["REDIS_URL"])
    keys = list(conn.scan_iter(match=f"*{application.config['RQ_QUEUE']}*", count=1000))
    assert keys
    conn.delete(*keys)


def _count(*where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Notification).where(*where))


def test_jobs_lost_with_redis_are_enqueued_again_and_notify_once(rq_app):
    with rq_app.app_context():
        demo = demo_users()
        finished = _report(demo)
        _work_off(rq_app)
        assert db.session.get(OutboxMessage, finished).done_at is not None  # the job marks its row done
        lost = [_report(demo), _report(demo)]
        assert queueing.queue_for(rq_app).count == 2

        _redis_restarts_empty(rq_app)
        assert queueing.queue_for(rq_app).count == 0
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(lost))).all()
        assert all(row.sent_at is not None and row.done_at is None for row in rows)  # "sent", yet gone

        assert requeue_lost(rq_app) == 0  # just sent: their jobs may still be on the way
        later = utcnow() + timedelta(minutes=2)
        assert requeue_lost(rq_app, now=later) == 2  # not the finished row, although its job is gone too
        assert requeue_lost(rq_app, now=later + timedelta(minutes=2)) == 0  # Redis has them again
        assert queueing.queue_for(rq_app).count == 2

        _work_off(rq_app)
        db.session.rollback()
        assert _count() == 3 and _count(Notification.user_id == demo.dispatcher.id) == 3
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.done_at.is_(None))) == 0
        assert periodic_pass()["lost_jobs_requeued"] == 0  # the once-a-minute pass runs the recovery


def test_a_job_taken_by_a_worker_killed_before_it_started_goes_back_on_the_queue(rq_app):
    """rq moves a taken job to the queue's intermediate list; a worker killed before starting it leaves
    it there, in no registry. Two periodic passes a minute apart put it back, and it runs once."""
    from gridgov.jobs.maintenance import rescue_never_started

    with rq_app.app_context():
        demo = demo_users()
        outbox_id = _report(demo)
        queue = queueing.queue_for(rq_app)
        conn = queue.connection
        job_id = queueing.job_id_for(outbox_id, queue.name)
        assert conn.lmove(queue.key, queue.intermediate_queue.key, "LEFT", "RIGHT") == job_id.encode()
        assert queue.count == 0 and job_id in queue.intermediate_queue.get_job_ids()

        assert rescue_never_started(rq_app) == 0  # first seen now: a worker may just be starting it
        first_seen = queue.intermediate_queue.get_first_seen_key(job_id)
        conn.set(first_seen, time.time() - 120)
        assert rescue_never_started(rq_app) == 1
        assert queue.job_ids == [job_id] and queue.intermediate_queue.get_job_ids() == []

        _work_off(rq_app)
        db.session.rollback()
        assert db.session.get(OutboxMessage, outbox_id).done_at is not None
        assert _count(Notification.user_id == demo.dispatcher.id) == 1
