"""Two deliverers — the job that made the notifications and the periodic pass sweeping up "every
undelivered one" — never send one SMS twice (the soak run's gateway got some twice before)."""
from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from gridgov.extensions import db
from gridgov.models import Notification, User
from gridgov.notify.deliver import deliver_external
from gridgov.timeutil import utcnow
from tests.integration.jobs.conftest import demo_users


class SlowGateway:
    """Counts each id it is handed; holds the first request until released (a slow provider)."""

    def __init__(self):
        self.received: Counter = Counter()
        self.first_arrived, self.release = threading.Event(), threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                key = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["id"]
                first = not gateway.first_arrived.is_set()
                gateway.received[key] += 1
                gateway.first_arrived.set()
                if first:
                    gateway.release.wait(10)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/sms"


@pytest.fixture
def gateway(app_ctx, backend):
    if backend != "postgresql":
        pytest.skip("the race needs a server database with real concurrent transactions")
    server = SlowGateway()
    saved = app_ctx.config["SMS_GATEWAY_URL"]
    app_ctx.config["SMS_GATEWAY_URL"] = server.url
    yield server
    server.release.set()
    app_ctx.config["SMS_GATEWAY_URL"] = saved
    server.server.shutdown()
    server.server.server_close()


def test_job_and_periodic_pass_racing_send_each_sms_once(app_ctx, gateway):
    demo = demo_users()
    people = [demo.dispatcher, demo.handler, demo.worker]
    for i, user in enumerate(people):
        user.phone = f"1380000000{i}"
    keys = [f"race:{user.id}|sms" for user in people]
    db.session.add_all([Notification(user_id=user.id, kind="notice", channel="sms", title="通知", body="",
                                     dedupe_key=key, created_at=utcnow()) for user, key in zip(people, keys)])
    db.session.commit()

    try:
        # The job delivers its rows and is held up by the provider on the first one…
        job_result = {}

        def job():
            with app_ctx.app_context():
                job_result["sent"] = deliver_external(keys)
                db.session.remove()

        thread = threading.Thread(target=job)
        thread.start()
        assert gateway.first_arrived.wait(10)
        # …while the periodic pass, in another process's shoes (its own session), sends "all undelivered".
        with app_ctx.app_context():
            swept = deliver_external(None)
            db.session.remove()
        gateway.release.set()
        thread.join(20)

        assert dict(gateway.received) == {key: 1 for key in keys}
        assert job_result["sent"] + swept == len(keys)
        db.session.rollback()
        assert all(n.delivered_at is not None for n in db.session.scalars(select(Notification)))
    finally:
        db.session.rollback()
        for user in db.session.scalars(select(User).where(User.id.in_([u.id for u in people]))):
            user.phone = None
        db.session.commit()
