"""E-mail through a real SMTP server (aiosmtpd) and SMS through a real HTTP endpoint, on 127.0.0.1."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from gridgov.extensions import db
from gridgov.jobs import outbox
from gridgov.models import Notification
from gridgov.notify.deliver import deliver_external
from gridgov.services.notifications import set_preferences

from tests.integration.jobs.conftest import add_event, demo_users


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller.hostname, controller.port, inbox
    controller.stop()


@pytest.fixture
def sms_gateway():
    received, status = [], {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers.get("Authorization"), json.loads(body)))
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/send", received, status
    server.shutdown()
    server.server_close()


@pytest.fixture
def channels_configured(app_ctx, smtp_server, sms_gateway):
    host, port, inbox = smtp_server
    url, received, status = sms_gateway
    saved = {k: app_ctx.config[k] for k in ("SMTP_HOST", "SMTP_PORT", "SMS_GATEWAY_URL", "SMS_GATEWAY_TOKEN")}
    app_ctx.config.update(SMTP_HOST=host, SMTP_PORT=port, SMS_GATEWAY_URL=url, SMS_GATEWAY_TOKEN="t0ken")
    demo = demo_users()
    demo.dispatcher.email, demo.dispatcher.phone = "dispatcher@example.org", "13800000001"
    db.session.commit()
    yield demo, inbox, received, status
    app_ctx.config.update(saved)
    demo.dispatcher.email = demo.dispatcher.phone = None
    from gridgov.models import NotificationPreference

    db.session.execute(NotificationPreference.__table__.delete())
    db.session.commit()


def _report(demo):
    event = add_event(demo, address="人民路 1 号")
    db.session.flush()
    outbox.add("notify", {"event_id": event.id, "topic": "event_reported", "user_ids": [demo.dispatcher.id]})
    db.session.commit()
    return event


def test_email_and_sms_go_out_once_per_preference(channels_configured):
    demo, inbox, received, _ = channels_configured
    set_preferences(demo.dispatcher, channels=["email", "sms"])
    event = _report(demo)

    rows = db.session.execute(select(Notification.channel, Notification.delivered_at)).all()
    assert sorted(c for c, _ in rows) == ["email", "inapp", "sms"] and all(d for _, d in rows)
    assert len(inbox.messages) == 1
    recipients, content = inbox.messages[0]
    assert recipients == ["dispatcher@example.org"] and "Message-ID" in content
    assert len(received) == 1
    auth, payload = received[0]
    assert auth == "Bearer t0ken" and payload["to"] == "13800000001" and event.number in payload["text"]
    assert deliver_external(None) == 0 and len(inbox.messages) == 1 and len(received) == 1


def test_quiet_hours_hold_external_channels_until_they_end(channels_configured, monkeypatch):
    demo, inbox, received, _ = channels_configured
    set_preferences(demo.dispatcher, channels=["sms"], quiet_start="00:00", quiet_end="23:59")
    _report(demo)
    assert received == []  # in-app arrived, SMS waits
    inapp = db.session.scalar(select(Notification).where(Notification.channel == "inapp"))
    assert inapp.delivered_at is not None
    set_preferences(demo.dispatcher, channels=["sms"], quiet_start=None, quiet_end=None)
    assert deliver_external(None) == 1 and len(received) == 1


def test_gateway_error_leaves_the_sms_undelivered_for_a_retry(channels_configured):
    demo, _, received, status = channels_configured
    set_preferences(demo.dispatcher, channels=["sms"])
    status["code"] = 503
    _report(demo)  # inline: the handler fails on the gateway, the report still commits
    sms = db.session.scalar(select(Notification).where(Notification.channel == "sms"))
    assert sms.delivered_at is None and len(received) == 1
    status["code"] = 200
    assert deliver_external(None) == 1
    db.session.refresh(sms)
    assert sms.delivered_at is not None and len(received) == 2


def test_english_speakers_get_english_titles(channels_configured):
    demo, *_ = channels_configured
    demo.dispatcher.locale = "en"
    db.session.commit()
    try:
        _report(demo)
        title = db.session.scalar(select(Notification.title))
        assert title.startswith("New event reported")
    finally:
        demo.dispatcher.locale = "zh_CN"
        db.session.commit()
