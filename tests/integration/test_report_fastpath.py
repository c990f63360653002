"""The report fast path (gridgov/api/report_fastpath.py) answers a phone's plain report exactly as the
view does, and hands every other request — every refusal included — to the view, body intact.

Each case sends the same request twice on the same app: once as it comes (the fast path may take it)
and once with API_FASTPATH off (the view answers). Flask's `request_started` signal tells which
requests reached Flask's dispatch: a report the fast path answered never does. Both databases.
"""
import json

import pytest
from flask import request_started

from gridgov.extensions import db
from gridgov.models import Event, EventLog, OutboxMessage
from tests.integration.test_api_events import a_point, auth

# What differs between two reports of the same body: the event itself and when it came.
PER_EVENT = ("id", "number", "reported_at", "likely_duplicates")


@pytest.fixture
def dispatched(app_ctx):
    """The paths of the requests that went through Flask's own dispatch."""
    seen = []

    def note(sender, **extra):
        from flask import request

        seen.append(request.path)

    request_started.connect(note, app_ctx)
    yield seen
    request_started.disconnect(note, app_ctx)


def body(**fields):
    _, lon, lat = a_point()
    return {"category": "0102", "description": "垃圾未清运", "lon": lon, "lat": lat, **fields}


def post(client, data, headers, content_type="application/json", path="/api/v1/events", ascii=False):
    raw = data if isinstance(data, (bytes, str)) else json.dumps(data, ensure_ascii=ascii)
    return client.post(path, data=raw, headers=headers, content_type=content_type)


def by_view(app, send):
    app.config["API_FASTPATH"] = False
    try:
        return send()
    finally:
        app.config["API_FASTPATH"] = True


def headers_of(response, *, skip=("Content-Length",)) -> list:
    return sorted((k, v) for k, v in response.headers.items() if k not in skip)


def rows():
    return tuple(db.session.scalar(db.select(db.func.count()).select_from(model))
                 for model in (Event, EventLog, OutboxMessage))


def test_a_plain_report_is_answered_without_flask_dispatch_exactly_as_the_view_answers(client, app_ctx, dispatched):
    headers = auth(client)
    dispatched.clear()
    fast = post(client, body(client_uuid="fast-1"), headers)
    assert fast.status_code == 201, fast.get_json()
    assert dispatched == []  # answered in front of Flask
    view = by_view(app_ctx, lambda: post(client, body(client_uuid="view-1"), headers))
    assert view.status_code == 201 and dispatched == ["/api/v1/events"]
    assert headers_of(fast) == headers_of(view)
    assert "Content-Security-Policy" in fast.headers and fast.headers["Vary"] == "Cookie"
    fast_body, view_body = fast.get_json(), view.get_json()
    assert fast_body["likely_duplicates"] == []
    assert [d["id"] for d in view_body["likely_duplicates"]] == [fast_body["id"]]  # same spot, same category
    assert {k: v for k, v in fast_body.items() if k not in PER_EVENT} == \
           {k: v for k, v in view_body.items() if k not in PER_EVENT}
    assert fast.get_data().endswith(b"\n") and view.get_data().endswith(b"\n")
    assert rows() == (2, 2, 2)


def test_a_replay_gets_the_very_answer_the_view_gives(client, app_ctx, dispatched):
    headers = auth(client) | {"Idempotency-Key": "replay-7"}
    first = post(client, body(), headers)
    dispatched.clear()
    fast = post(client, body(), headers)
    view = by_view(app_ctx, lambda: post(client, body(), headers))
    assert dispatched == ["/api/v1/events"]  # the view's only
    assert (fast.status_code, view.status_code) == (200, 200)
    assert fast.get_json()["id"] == first.get_json()["id"] and fast.get_json()["replay"] is True
    assert fast.get_data() == view.get_data() and headers_of(fast, skip=()) == headers_of(view, skip=())
    assert rows() == (1, 1, 1)


def refusals(client):
    """(name, request) pairs the fast path must hand to the view, each refused."""
    worker = auth(client)
    dispatcher = auth(client, "demo_dispatcher")
    post(client, body(), dispatcher | {"Idempotency-Key": "dispatchers-own"})
    return [
        ("unknown token", lambda: post(client, body(), {"Authorization": "Bearer not-a-token"})),
        ("unknown category", lambda: post(client, body(category="9999"), worker)),
        ("latitude out of range", lambda: post(client, body(lat=95.0), worker)),
        ("description missing", lambda: post(client, {k: v for k, v in body().items() if k != "description"}, worker)),
        ("urgency as text", lambda: post(client, body(urgency="high"), worker)),
        ("NUL in the description", lambda: post(client, body(description="垃圾\u0000"), worker)),
        ("lone surrogate", lambda: post(client, '{"category": "0102", "description": "\\ud800", "lon": 120.1, '
                                                '"lat": 30.6}', worker)),
        ("broken JSON", lambda: post(client, b'{"category": "0102", ', worker)),
        ("a JSON array", lambda: post(client, b"[1, 2]", worker)),
        ("hotline by a grid worker", lambda: post(client, body(source="hotline"), worker)),
        ("someone else's key", lambda: post(client, body(), worker | {"Idempotency-Key": "dispatchers-own"})),
    ]


def test_every_refusal_is_the_views_own_answer_and_writes_nothing(client, app_ctx, dispatched):
    cases = refusals(client)
    before = rows()
    for name, send in cases:
        dispatched.clear()
        fast = send()
        assert dispatched == ["/api/v1/events"], name  # handed on, body intact: the view refused it
        view = by_view(app_ctx, send)
        assert 400 <= fast.status_code < 500, (name, fast.status_code, fast.get_data())
        assert (fast.status_code, fast.get_json()) == (view.status_code, view.get_json()), name
        assert headers_of(fast, skip=()) == headers_of(view, skip=()), name
        assert fast.get_json()["error"]["message_zh"] and fast.get_json()["error"]["message_en"], name
        assert rows() == before, name


def test_an_oversized_body_is_left_unread_for_the_views_413(client, app_ctx, dispatched, monkeypatch):
    headers = auth(client)
    monkeypatch.setitem(app_ctx.config, "MAX_CONTENT_LENGTH", 200)
    dispatched.clear()
    response = post(client, body(description="长" * 300), headers)
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "request_entity_too_large"
    assert dispatched == ["/api/v1/events"] and rows() == (0, 0, 0)


@pytest.mark.parametrize("how, status", [("query string", 201), ("cookie session", 201), ("no token", 401),
                                         ("form body", 422), ("trailing slash", 404)])
def test_requests_it_does_not_vouch_for_go_to_flask(client, app_ctx, dispatched, how, status):
    headers = auth(client)
    data, content_type, path = body(), "application/json", "/api/v1/events"
    if how == "query string":
        path += "?lang=en"
    elif how == "cookie session":
        client.set_cookie("lang", "zh")
    elif how == "no token":
        headers = {}
    elif how == "form body":
        data, content_type = "category=0102", "application/x-www-form-urlencoded"
    elif how == "trailing slash":
        path += "/"
    dispatched.clear()
    response = post(client, data, headers, content_type=content_type, path=path)
    assert dispatched and dispatched[0].startswith("/api/v1/events"), how
    assert response.status_code == status, (how, response.get_data())


def test_an_ascii_escaped_body_takes_the_fast_path_too(client, app_ctx, dispatched):
    headers = auth(client)
    dispatched.clear()
    response = post(client, body(description="垃圾 \U0001F600"), headers, ascii=True)  # \u5783\u573e \ud83d\ude00
    assert response.status_code == 201 and dispatched == []
    assert response.get_json()["description"] == "垃圾 \U0001F600"


@pytest.mark.parametrize("content_type, is_json", [
    ("application/json", True), ("application/json; charset=utf-8", True), ("Application/JSON", True),
    ("application/merge-patch+json", True), ("text/json", False), ("application/jsonx", False), ("", False),
    ("multipart/form-data; boundary=x", False)])
def test_it_takes_the_bodies_werkzeug_calls_json(content_type, is_json):
    from werkzeug.test import EnvironBuilder

    from gridgov.api.report_fastpath import is_json_mimetype

    request = EnvironBuilder(method="POST", content_type=content_type or None).get_request()
    assert is_json_mimetype(content_type) is is_json is request.is_json


@pytest.mark.parametrize("value, on", [(None, True), ("1", True), ("0", False), ("false", False)])
def test_the_fast_path_is_switched_by_GRIDGOV_API_FASTPATH(value, on):
    from config.settings import load_settings

    environ = {} if value is None else {"GRIDGOV_API_FASTPATH": value}
    assert load_settings(environ).as_config()["API_FASTPATH"] is on


LIMITED_APP = """
import json, sys, tempfile
from pathlib import Path
import shapely
from flask import request_started
from tests.conftest import build_app, upgrade_schema
tmp = Path(tempfile.mkdtemp())
app = build_app(f"sqlite:///{tmp}/limited.sqlite3", tmp, RATELIMIT_DEFAULT="2 per hour")
upgrade_schema(app)
with app.app_context():
    from gridgov.demo.load import load_demo
    from gridgov.extensions import db
    from gridgov.models import Area, User
    from gridgov.services.tokens import issue_token
    load_demo(seed=7, password="demo-pass-123", event_count=0)
    token, _ = issue_token(db.session.scalar(db.select(User).where(User.username == "demo_worker")), 1)
    grid = db.session.scalar(db.select(Area).where(Area.level == "grid").order_by(Area.code).limit(1))
    point = shapely.from_wkb(grid.geometry).representative_point()
dispatched = []
note = lambda sender, **extra: dispatched.append(1)  # noqa: E731 - kept: blinker holds it weakly
request_started.connect(note, app)
client = app.test_client()
answers = [client.post("/api/v1/events", headers={"Authorization": "Bearer " + token},
                       json={"category": "0102", "description": "限流", "lon": point.x, "lat": point.y,
                             "client_uuid": f"limited-{i}"}).status_code for i in range(3)]
print(json.dumps({"answers": answers, "dispatched": len(dispatched)}))
"""


def test_an_application_wide_rate_limit_sends_reports_through_flask_where_it_applies():
    """RATELIMIT_DEFAULT applies to every route, the report's too: such reports go through Flask. In a
    process of its own, since Flask-Limiter is one object per process."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", LIMITED_APP], cwd=root, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome == {"answers": [201, 201, 429], "dispatched": 3}
