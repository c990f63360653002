"""/notifications (list, mark read, badge), /admin/jobs (admins only, re-run a failed rq job), /healthz."""
from __future__ import annotations

import pytest

from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from gridgov.extensions import db
from gridgov.jobs import outbox, queueing
from gridgov.jobs.relay import relay_pending
from gridgov.models import AdminAudit, Notification
from tests.conftest import login

from tests.integration.jobs.conftest import add_event, demo_users


def _notify_dispatcher(demo):
    event = add_event(demo)
    db.session.flush()
    outbox.add("notify", {"event_id": event.id, "topic": "event_reported", "user_ids": [demo.dispatcher.id]})
    db.session.commit()
    return event


def test_message_centre_lists_marks_read_and_badges(client):
    demo = demo_users()
    event = _notify_dispatcher(demo)
    login(client, "demo_dispatcher")
    page = client.get("/notifications").get_data(as_text=True)
    assert event.number in page and 'data-unread="1"' in page
    note = db.session.scalar(select(Notification))
    assert client.post("/notifications/read", data={"id": str(note.id)}).status_code == 302
    db.session.refresh(note)
    assert note.read_at is not None
    assert 'data-unread' not in client.get("/notifications").get_data(as_text=True)


def test_admin_jobs_page_is_for_admins_only(client):
    login(client, "demo_dispatcher")
    assert client.get("/admin/jobs").status_code == 403


# Real worker processes and Redis timing: retried twice before failing (known to flake under load).
@pytest.mark.flaky(reruns=2, reruns_delay=2)
def test_admin_reruns_a_failed_job(rq_app):
    rq_app.config["JOB_RETRY_MAX"] = 0
    with rq_app.app_context():
        demo = demo_users()
        event = add_event(demo)
        db.session.flush()
        queueing.note_up(rq_app.config["REDIS_URL"])  # an earlier test's Redis hiccup must not defer this relay
        outbox.add("notify", {"event_id": event.id, "topic": "x", "audience": ["no_such_audience"]})
        db.session.commit()  # enqueued; the handler will raise
        relay_pending(rq_app)  # whatever the after-commit relay left behind
        queue = queueing.queue_for(rq_app)
        assert queue.count == 1
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        failed = FailedJobRegistry(queue=queue)
        assert len(failed.get_job_ids()) == 1
        job_id = failed.get_job_ids()[0]

        client = rq_app.test_client()
        login(client, "demo_admin")
        page = client.get("/admin/jobs").get_data(as_text=True)
        assert job_id in page and "unknown audience" in page
        audited = db.session.scalar(select(func.max(AdminAudit.seq))) or 0
        assert client.post(f"/admin/jobs/{job_id}/requeue").status_code == 302
        assert job_id in queue.job_ids and failed.get_job_ids() == []
        db.session.rollback()
        rows = db.session.scalars(select(AdminAudit).where(AdminAudit.seq > audited)).all()
        assert [(r.action, r.actor_name, r.target_type, r.target_id) for r in rows] == [
            ("job.rerun", "demo_admin", "rq_job", job_id)]

        rq_app.config["WTF_CSRF_ENABLED"] = True  # the button's form carries a CSRF token
        try:
            assert client.post(f"/admin/jobs/{job_id}/requeue").status_code == 400
        finally:
            rq_app.config["WTF_CSRF_ENABLED"] = False
        assert client.post("/admin/jobs/no-such-job/requeue").status_code == 302  # refused: nothing audited
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(AdminAudit).where(AdminAudit.seq > audited)) == 1


def test_healthz_reports_queue_depth_and_outbox_age(rq_app):
    with rq_app.app_context():
        body = rq_app.test_client().get("/healthz").get_json()
    jobs = body["jobs"]
    assert jobs["mode"] == "rq" and jobs["queued"] == 0 and jobs["failed"] == 0
    assert jobs["outbox"]["unsent"] == 0 and jobs["outbox"]["oldest_unsent_age_s"] is None
