"""Every page as every role: nobody sees or acts on an event outside their jurisdiction; every form is
CSRF-protected; user text is shown as text. The page list comes from the app's url_map, so a new route is
covered without editing this file."""
import re

import pytest

from gridgov.extensions import db
from gridgov.models import Event, EventLog
from tests.conftest import DEMO_PASSWORD, build_app, login, make_database, upgrade_schema
from tests.integration.consoles.helpers import outsiders, report_in, townships, user

SKIP_PREFIXES = ("/api/", "/static/", "/open311/", "/media/", "/healthz", "/login", "/logout", "/lang/")
ROLES = ("demo_worker", "demo_dispatcher", "demo_handler", "demo_supervisor", "demo_admin",
         "other_dispatcher", "other_worker", "other_handler", "other_supervisor")
SECRET = "秘密事件-4f1c"


def page_rules(app, method):
    for rule in app.url_map.iter_rules():
        if method in rule.methods and not rule.rule.startswith(SKIP_PREFIXES):
            yield rule


def fill(rule, event_id):
    """A concrete URL for the rule, pointing any event id at `event_id` (None when a parameter is unknown)."""
    values = {}
    for name in rule.arguments:
        if name in ("event_id",):
            values[name] = event_id
        elif name == "action":
            values[name] = "register"
        else:
            return None
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(values[m.group(1)]), rule.rule)


@pytest.fixture
def hidden_event(app_ctx):
    """An event in the second township, reported there and registered by its own dispatcher."""
    people = outsiders()
    second = townships()[1]
    event = report_in(second, reporter=people["other_worker"], description=SECRET)
    from gridgov.services.workflow import fire_action

    fire_action(event.id, "register", user=people["other_dispatcher"])
    fire_action(event.id, "dispatch", user=people["other_dispatcher"], inputs={"department": "330521-SW"})
    return event


INSIDERS = {"other_dispatcher", "other_worker", "other_handler", "other_supervisor", "demo_supervisor", "demo_admin"}


def test_no_page_shows_or_acts_on_an_event_outside_the_jurisdiction(client, app_ctx, hidden_event):
    version = hidden_event.version
    for username in ROLES:
        if username in INSIDERS:
            continue  # the county supervisor and the admin see the whole county by design
        client.post("/logout")
        assert login(client, username).status_code == 302, username
        for rule in page_rules(app_ctx, "GET"):
            url = fill(rule, hidden_event.id)
            if url is None:
                continue
            response = client.get(url)
            # Binary exports (xlsx) are compressed: a title would not show as bytes, so only text is searched;
            # the exports are scoped by the same jurisdiction clause as the lists.
            body = response.get_data().decode("utf-8", "replace")
            if "event_id" in rule.arguments:
                assert response.status_code in (403, 404), (username, url, response.status_code)
            else:
                assert response.status_code in (200, 302, 403), (username, url, response.status_code)
            assert SECRET not in body, (username, url)
            assert hidden_event.number not in body, (username, url)
        for rule in page_rules(app_ctx, "POST"):
            if "event_id" not in rule.arguments:
                continue
            for action in ("register", "dispatch", "accept", "return", "supervise", "note", "merge"):
                url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(hidden_event.id) if m.group(1) == "event_id"
                             else action, rule.rule)
                response = client.post(url, data={"reason": "x", "comment": "x", "note": "x", "department": "330521-CG",
                                                  "master_event": "1", "version": str(version)})
                assert response.status_code in (403, 404), (username, url, response.status_code)
    db.session.expire_all()
    event = db.session.get(Event, hidden_event.id)
    assert event.version == version and event.state == "dispatched"
    assert db.session.scalar(db.select(db.func.count()).select_from(EventLog)
                             .where(EventLog.event_id == event.id)) == 3


def test_the_responsible_people_do_see_it(client, hidden_event):
    login(client, "other_dispatcher")
    assert SECRET in client.get(f"/dispatch/events/{hidden_event.id}").get_data(as_text=True)
    assert hidden_event.number in client.get("/dispatch?queue=open").get_data(as_text=True)
    client.post("/logout")
    login(client, "other_handler")
    assert hidden_event.number in client.get("/tasks").get_data(as_text=True)


def test_wrong_role_gets_403_on_other_consoles(client):
    expectations = {
        "demo_worker": ["/dispatch", "/tasks", "/admin", "/admin/users", "/dispatch/supervised"],
        "demo_handler": ["/dispatch", "/m/verify", "/admin/categories"],
        "demo_dispatcher": ["/tasks", "/m/verify", "/admin", "/admin/workflows"],
        "demo_supervisor": ["/tasks", "/admin/calendar"],
    }
    for username, urls in expectations.items():
        client.post("/logout")
        login(client, username)
        for url in urls:
            assert client.get(url).status_code == 403, (username, url)


def test_script_in_a_description_is_shown_as_text(client, app_ctx):
    payload = '<script>window.pwned=1</script><img src=x onerror=alert(1)>'
    worker = user("demo_worker")
    event = report_in(worker.area_code, reporter=worker, description=payload)
    for username, url in (("demo_dispatcher", f"/dispatch/events/{event.id}"), ("demo_dispatcher", "/dispatch"),
                          ("demo_supervisor", f"/dispatch/events/{event.id}")):
        client.post("/logout")
        login(client, username)
        body = client.get(url).get_data(as_text=True)
        assert "<script>window.pwned" not in body and "<img src=x" not in body
        assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in body or "&lt;script&gt;window.pwned" in body


@pytest.fixture(scope="module")
def csrf_app(backend, tmp_path_factory):
    """A second app with CSRF switched on (the shared test app turns it off)."""
    tmp = tmp_path_factory.mktemp(f"csrf-{backend}")
    url = make_database(backend, tmp)
    app = build_app(url, tmp, WTF_CSRF_ENABLED=True)
    upgrade_schema(app)
    with app.app_context():
        from gridgov.demo.load import load_demo

        load_demo(seed=7, password=DEMO_PASSWORD, event_count=0)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if backend == "postgresql":
        from tests.conftest import drop_pg_database

        drop_pg_database(url)


def test_every_form_needs_its_csrf_token(csrf_app):
    with csrf_app.app_context():
        worker = user("demo_worker")
        event = report_in(worker.area_code, reporter=worker, description="CSRF 测试")
        event_id, version = event.id, event.version
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "demo_admin", "password": DEMO_PASSWORD}).status_code == 400
    assert client.post("/login", data={"username": "demo_admin", "password": DEMO_PASSWORD,
                                       "csrf_token": token}).status_code == 302
    checked = 0
    for rule in page_rules(csrf_app, "POST"):
        url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: {"event_id": str(event_id), "action": "register",
                                                            "user_id": "1", "code": "0102", "day": "2026-10-01",
                                                            "job_id": "x", "outbox_id": "1"}.get(m.group(1), "x"),
                     rule.rule)
        response = client.post(url, data={"version": str(version), "reason": "x", "note": "x", "username": "x"})
        assert response.status_code == 400, (url, response.status_code)
        checked += 1
    assert checked >= 14  # every console form, the message centre and the admin job buttons
    with csrf_app.app_context():
        assert db.session.get(Event, event_id).state == "reported"
