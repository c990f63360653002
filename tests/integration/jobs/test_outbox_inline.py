"""The outbox with REDIS_URL unset: rows commit with the state change and their handlers run right after."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from gridgov.extensions import db
from gridgov.jobs import outbox, tasks
from gridgov.models import Notification, OutboxMessage

from tests.integration.jobs.conftest import add_event, demo_users


def _report(demo, **payload):
    event = add_event(demo)
    db.session.flush()
    outbox.add("notify", {"event_id": event.id, "topic": "event_reported",
                          "audience": ["township_dispatchers"], **payload})
    db.session.commit()
    return event


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_commit_runs_the_notification_inline(app_ctx):
    demo = demo_users()
    event = _report(demo)
    # Other tests may leave more dispatchers in the township; the demo dispatcher gets exactly one note.
    notes = list(db.session.scalars(select(Notification).where(Notification.event_id == event.id,
                                                               Notification.user_id == demo.dispatcher.id)))
    assert [(n.user_id, n.channel, n.kind) for n in notes] == [(demo.dispatcher.id, "inapp", "event_reported")]
    assert notes[0].delivered_at is not None and notes[0].title.startswith("新上报事件")
    row = db.session.scalar(select(OutboxMessage))
    assert row.sent_at is not None and row.attempts == 1 and row.last_error == ""


def test_rolled_back_change_leaves_no_outbox_row_and_sends_nothing(app_ctx):
    demo = demo_users()
    event = add_event(demo)
    db.session.flush()
    outbox.add("notify", {"event_id": event.id, "topic": "event_reported", "audience": ["township_dispatchers"]})
    db.session.rollback()
    db.session.commit()  # a later commit of nothing must not resurrect anything
    assert count(OutboxMessage) == 0 and count(Notification) == 0


def test_job_run_twice_makes_one_notification(app_ctx):
    demo = demo_users()
    event = _report(demo)
    outbox_id = db.session.scalar(select(OutboxMessage.id))
    for _ in range(2):
        with app_ctx.app_context():
            assert tasks.execute(outbox_id) == "done"
    assert count(Notification, Notification.event_id == event.id, Notification.user_id == demo.dispatcher.id) == 1


def test_racing_jobs_make_one_notification(app_ctx):
    """Two threads run the same row at once: INSERT … ON CONFLICT DO NOTHING absorbs the loser."""
    demo = demo_users()
    event = add_event(demo)
    db.session.flush()
    outbox.add("notify", {"event_id": event.id, "topic": "event_reported", "user_ids": [demo.dispatcher.id]},
               dedupe_key=f"race:{event.id}")
    db.session.info.pop(outbox.PENDING_FLAG)  # commit without the inline relay: the threads race instead
    db.session.commit()
    outbox_id = db.session.scalar(select(OutboxMessage.id))
    barrier, errors = threading.Barrier(4), []

    def run():
        with app_ctx.app_context():
            barrier.wait()
            try:
                tasks.execute(outbox_id)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(Notification) == 1


def test_failing_handler_does_not_fail_the_commit_and_keeps_the_row(app_ctx):
    demo = demo_users()
    _report(demo, event_id=999_999_999)  # the handler cannot find the event: it notifies nobody
    event = add_event(demo)
    db.session.flush()
    outbox.add("notify", {"topic": "x", "event_id": event.id, "audience": ["no_such_audience"]})
    db.session.commit()  # the handler raises ValueError inline; the commit stands
    assert count(OutboxMessage, OutboxMessage.sent_at.is_(None)) == 1
    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.sent_at.is_(None)))
    assert row.attempts == 1 and "unknown audience" in row.last_error


def test_unknown_kind_is_refused_before_commit(app_ctx):
    import pytest

    with pytest.raises(ValueError):
        outbox.add("no_such_kind", {})
