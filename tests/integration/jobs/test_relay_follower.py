"""`flask jobs relay --follow` as a real process: commits stop relaying in the request, rows still go out."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import datetime

import pytest
import redis
from rq import Queue
from sqlalchemy import event as sa_event, select

from gridgov.extensions import db
from gridgov.jobs import follower, queueing
from gridgov.models import OutboxMessage
from gridgov.services.workflow import fire_action
from tests.helpers.waiting import wait_for
from tests.integration.jobs.conftest import ROOT, add_event, demo_users, worker_env


class OutboxWrites:
    """Statements this process sends that claim outbox rows (what an after-commit relay does)."""

    def __init__(self):
        self.claims = 0

    def __call__(self, conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            self.claims += 1


def _rejected_event_rows(rq_app, demo) -> int:
    """Report-like event, then a real action that writes an outbox row; returns that row's id."""
    event = add_event(demo)
    db.session.commit()
    fire_action(event.id, "reject", user=demo.dispatcher, inputs={"reason": "不属于受理范围"})
    return db.session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))


def _sent(outbox_id: int):
    db.session.rollback()
    return db.session.scalar(select(OutboxMessage.sent_at).where(OutboxMessage.id == outbox_id))


def test_follower_relays_each_commit_and_requests_skip_their_own_relay(rq_app):
    conn = redis.Redis.from_url(rq_app.config["REDIS_URL"])
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "relay", "--follow",
                             "--poll", "0.2"], cwd=ROOT, env=worker_env(rq_app),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    with rq_app.app_context():
        key = follower.heartbeat_key(rq_app)
        try:
            wait_for(lambda: conn.exists(key), 20, "the follower's heartbeat")
            follower.forget_alive_cache()
            demo = demo_users()
            writes = OutboxWrites()
            sa_event.listen(db.engine, "before_cursor_execute", writes)
            try:
                outbox_id = _rejected_event_rows(rq_app, demo)
            finally:
                sa_event.remove(db.engine, "before_cursor_execute", writes)
            assert writes.claims == 0, "the commit relayed its rows itself although a follower runs"
            wait_for(lambda: _sent(outbox_id), 10, "the follower to relay the row")
            queue = Queue(rq_app.config["RQ_QUEUE"], connection=queueing.connection(rq_app.config["REDIS_URL"]))
            assert queueing.job_id_for(outbox_id, rq_app.config["RQ_QUEUE"]) in queue.job_ids
        finally:
            proc.send_signal(signal.SIGTERM)
            output = proc.communicate(timeout=20)[0].decode(errors="replace")
        assert proc.returncode == 0, output
        assert not conn.exists(key), "a stopped follower must take its heartbeat with it"

        # Without a follower, commits relay their own rows again.
        follower.forget_alive_cache()
        writes = OutboxWrites()
        sa_event.listen(db.engine, "before_cursor_execute", writes)
        try:
            outbox_id = _rejected_event_rows(rq_app, demo_users())
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", writes)
        assert writes.claims >= 1 and _sent(outbox_id) is not None


def test_follow_refuses_without_redis(app_ctx):
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "relay", "--follow"], cwd=ROOT,
                            env={**worker_env(app_ctx), "REDIS_URL": ""}, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "REDIS_URL is unset" in result.stderr


def _committed_outbox_row() -> int:
    """One outbox row in a transaction of its own (a commit, hence a NOTIFY): what a report leaves."""
    row = OutboxMessage(kind="notify", payload={}, created_at=datetime(2026, 11, 20))
    db.session.add(row)
    db.session.commit()
    return row.id


def test_a_burst_of_commits_costs_the_follower_a_few_rounds_not_one_per_commit(rq_app, monkeypatch):
    """PostgreSQL NOTIFYs once per committing transaction. Woken by one, the follower waits
    COALESCE_S for more before it relays, so 20 commits a few milliseconds apart go out in a few
    rounds (each a claim statement and a Redis pipeline), not twenty."""
    from gridgov.jobs import relay

    if rq_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; elsewhere the follower polls")
    real_relay = relay.relay_pending
    rounds = []

    def counted_relay(app):
        rounds.append(time.monotonic())
        return real_relay(app)

    monkeypatch.setattr(relay, "relay_pending", counted_relay)
    stop = threading.Event()
    thread = threading.Thread(target=follower.follow, args=(rq_app,), kwargs={"poll_seconds": 5, "stop": stop})
    thread.start()
    try:
        with rq_app.app_context():
            conn = redis.Redis.from_url(rq_app.config["REDIS_URL"])
            wait_for(lambda: rounds and conn.exists(follower.heartbeat_key(rq_app)), 20, "the follower to start")
            follower.forget_alive_cache()
            before = len(rounds)
            ids = [_committed_outbox_row() for _ in range(20)]
            wait_for(lambda: all(_sent(i) for i in ids), 20, "the follower to relay the burst")
            burst_rounds = len(rounds) - before
            assert burst_rounds <= 10, f"{burst_rounds} relay rounds for 20 commits"
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive()


def _notified(listener, seconds: float = 0.5) -> int:
    return sum(1 for _ in listener.notifies(timeout=seconds))


def test_writers_notify_only_while_no_follower_is_awake_and_it_sleeps_only_once_they_have_committed(rq_app):
    """The trigger's half of the follower's protocol (migration 0007): no NOTIFY while a follower holds
    AWAKE, one again once it lets go; and a writer that skipped its NOTIFY holds INFLIGHT until it
    commits, so the follower does not sleep (INFLIGHT exclusive is refused) before that commit."""
    import psycopg

    url = rq_app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; elsewhere the follower polls")
    url = url.replace("postgresql+psycopg://", "postgresql://")
    written = []
    with psycopg.connect(url, autocommit=True) as listener, psycopg.connect(url) as writer:
        source = listener.execute("SELECT prosrc FROM pg_proc WHERE proname = 'gridgov_outbox_notify'").fetchone()[0]
        assert f"pg_try_advisory_xact_lock_shared({follower.LOCK_CLASS}, {follower.AWAKE_KEY})" in source
        assert f"pg_advisory_xact_lock_shared({follower.LOCK_CLASS}, {follower.INFLIGHT_KEY})" in source
        listener.execute(f"LISTEN {follower.CHANNEL}")

        def write() -> None:
            written.append(writer.execute("INSERT INTO outbox (kind, payload, created_at, attempts, last_error) "
                                          "VALUES ('notify', '{}', now(), 0, '') RETURNING id").fetchone()[0])

        write()
        writer.commit()
        assert _notified(listener) == 1, "no follower awake: the commit notifies"

        assert follower._take_awake(listener)
        write()
        writer.commit()
        assert _notified(listener) == 0, "a follower relaying in rounds is not notified per commit"

        write()  # not committed yet: holds INFLIGHT
        follower._let_go(listener)
        assert follower._writers_in_flight(listener), "a writer that skipped its NOTIFY is still open"
        with psycopg.connect(url, autocommit=True) as other:  # asking held up no other writer
            other.execute("SET statement_timeout = '5s'")
            written.append(other.execute("INSERT INTO outbox (kind, payload, created_at, attempts, last_error) "
                                         "VALUES ('notify', '{}', now(), 0, '') RETURNING id").fetchone()[0])
        assert _notified(listener) == 1, "AWAKE is released: the other writer notified"
        writer.commit()
        assert not follower._writers_in_flight(listener), "the writer committed: the follower may sleep"
        assert _notified(listener) == 0

        write()
        writer.commit()
        assert _notified(listener) == 1, "the follower sleeps: commits notify again"
        writer.execute("DELETE FROM outbox WHERE id = ANY(%s)", (written,))
        writer.commit()
