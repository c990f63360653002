"""What the route-table matrix (test_authz_matrix.py) cannot see: harm carried in request bodies.

The matrix posts empty bodies and compares counts; here every refused POST carries a body that would do real
damage if a gate were missing (make an admin, reset a password, dispatch an event…) and every table's rows are
compared. Ids that travel in the body (a batch's events, a merge's master) and photos (reached by hash) get
their own jurisdiction checks. `home` is in the demo worker's township, dispatched to the demo handler's
department; `foreign` is in the second township with another department. The demo supervisor and admin are
county-wide (they see both); a township supervisor meets the foreign event as a stranger.
"""
from __future__ import annotations

import re

import pytest
import shapely

from gridgov.extensions import db
from gridgov.media.intake import EXT_BY_MIME, THUMB_EXT
from gridgov.models import Event
from gridgov.services.reporting import report_event
from gridgov.services.workflow import fire_action
from tests.conftest import DEMO_PASSWORD, login
from tests.helpers.images import candidates, jpeg_bytes
from tests.integration.authz_table import EXEMPT, TABLE
from tests.integration.consoles.helpers import ensure_user, first_grid, outsiders, townships, user

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the rules live in Python, not SQL

IDENTITIES = {
    "anonymous": "anonymous",
    "demo_worker": "grid_worker",
    "demo_dispatcher": "dispatcher",
    "demo_handler": "handler",
    "demo_supervisor": "supervisor",
    "demo_admin": "admin",
    "authz_supervisor": "supervisor",  # township supervisor, made here
}
SEES_FOREIGN = {"demo_supervisor", "demo_admin"}
OTHER_DEPARTMENT = "330521-SW"


def _report(reporter, area_prefix, description, photo_color):
    point = shapely.from_wkb(first_grid(area_prefix).geometry).representative_point()
    return report_event(user=reporter, category="0102", description=description, lon=point.x, lat=point.y,
                        photos=candidates(None, jpeg_bytes(photo_color))).event


@pytest.fixture
def world(app_ctx):
    worker, dispatcher, handler = user("demo_worker"), user("demo_dispatcher"), user("demo_handler")
    people = outsiders()
    assert dispatcher.area_code == townships()[0] and worker.area_code.startswith(townships()[0])
    ensure_user("authz_supervisor", "supervisor", townships()[0])
    home = _report(worker, worker.area_code, "本乡镇事件", (10, 200, 30))
    fire_action(home.id, "register", user=dispatcher)
    fire_action(home.id, "dispatch", user=dispatcher, inputs={"department": handler.department_code})
    foreign = _report(people["other_worker"], townships()[1], "外乡镇事件", (200, 10, 130))
    fire_action(foreign.id, "register", user=people["other_dispatcher"])
    fire_action(foreign.id, "dispatch", user=people["other_dispatcher"], inputs={"department": OTHER_DEPARTMENT})
    fresh = _report(worker, worker.area_code, "待立案事件", (30, 30, 220))  # still `reported`: batch/merge bait
    return {"home": home, "foreign": foreign, "fresh": fresh, "worker_id": worker.id}


def login_path(response) -> bool:
    return response.headers.get("Location", "").split("?")[0].endswith("/login")


def signed_in(app, username: str):
    """A page client (session cookie) and bearer headers for /api/v1, taken before any snapshot."""
    client = app.test_client()
    if username == "anonymous":
        return client, {}
    assert login(client, username).status_code == 302, username
    answer = app.test_client().post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    return client, {"Authorization": f"Bearer {answer.get_json()['token']}"}


def snapshot() -> dict:
    """Every table's rows (api_tokens: only how many — bearer use stamps them)."""
    db.session.expire_all()
    state = {}
    for table in db.metadata.sorted_tables:
        if table.name == "api_tokens":
            state[table.name] = db.session.scalar(db.select(db.func.count()).select_from(table))
        else:
            order = list(table.primary_key.columns) or list(table.columns)
            state[table.name] = db.session.execute(db.select(table).order_by(*order)).all()
    return state


def changed(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


ACTION_OF_ROLE = {"grid_worker": "verify_pass", "dispatcher": "redispatch", "handler": "accept",
                  "supervisor": "supervise", "admin": "close"}


def harmful_body(endpoint: str, world, role: str) -> dict:
    point = shapely.from_wkb(first_grid(user("demo_worker").area_code).geometry).representative_point()
    return {
        "console.act": {"form": {"comment": "越权", "reason": "越权", "level": "1", "department": "330521-CG"}},
        "events.act": {"json": {"comment": "越权", "reason": "越权", "level": 1}},
        "events.create_event": {"json": {"category": "0102", "description": "越权上报", "lon": point.x,
                                         "lat": point.y}},
        "tasks.note": {"form": {"note": "越权进展"}},
        "dispatch.batch": {"form": {"event_id": str(world["fresh"].id)}},
        "hotline.new": {"form": {"caller_name": "张三", "caller_phone": "13800000000", "category": "0102",
                                 "description": "越权热线", "lon": str(point.x), "lat": str(point.y), "urgency": "1"}},
        "notifications.read": {"form": {"all": "1"}},
        "api_auth.revoke_token": {"form": {}},
        "admin.create_user": {"form": {"username": "authz_intruder", "password": "Intruder-pass-123", "role": "admin",
                                       "area_code": "330521", "display_name": "intruder"}},
        "admin.update_user": {"form": {"role": "admin", "area_code": "330521", "display_name": "x", "active": "1"}},
        "admin.reset_password": {"form": {"password": "Intruder-pass-123"}},
        "admin.unlock_user": {"form": {}},
        "admin.revoke_tokens": {"form": {"all": "1"}},  # the worker's phone would lose its token
        "admin.save_department": {"form": {"code": "330521-ZZ", "name": "越权部门", "level": "county",
                                           "area_code": "330521", "active": "1"}},
        "admin.update_category": {"form": {"time_limit": "1", "time_unit": "natural_hours", "active": "1"}},
        "admin.area_import": {"form": {"level": "grid"}},
        "admin.area_import_commit": {"form": {"token": "x", "level": "grid"}},
        "admin.set_calendar_day": {"form": {"day": "2026-10-08", "is_workday": "0", "note": "越权"}},
        "admin.delete_calendar_day": {"form": {}},
        "admin_jobs.requeue": {"form": {}},
        "admin_jobs.retry_outbox": {"form": {}},
    }[endpoint]


def refusals(app, world, username: str):
    """(method, url, endpoint, wanted statuses, body) for every POST/DELETE `username` must be refused."""
    role = IDENTITIES[username]
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in EXEMPT:
            continue
        for method in sorted(rule.methods & {"POST", "DELETE"}):
            access = TABLE[(rule.endpoint, method)]
            if access.kind == "public" or rule.endpoint == "auth.logout":
                continue
            api = access.kind == "api"
            for target in ("home", "foreign") if access.scoped else ("home",):
                if role == "anonymous":
                    wanted = {401} if api else {302}
                elif role not in access.roles:
                    wanted = {403}
                elif access.scoped and target == "foreign" and username not in SEES_FOREIGN:
                    wanted = {404}  # outside the jurisdiction looks absent
                else:
                    continue
                values = {"event_id": world[target].id, "action": ACTION_OF_ROLE.get(role, "accept"),
                          "user_id": world["worker_id"], "code": "0102", "day": "2026-10-01",
                          "job_id": "gridgov-outbox-1", "outbox_id": 1}
                url = re.sub(r"<(?:[a-z]+:)?([a-z_0-9]+)>", lambda m: str(values[m.group(1)]), rule.rule)
                yield method, url, rule.endpoint, wanted, harmful_body(rule.endpoint, world, role)


@SQLITE
@pytest.mark.parametrize("username", list(IDENTITIES))
def test_a_refused_post_with_a_harmful_body_changes_no_row(app_ctx, world, username):
    client, bearer = signed_in(app_ctx, username)
    before = snapshot()
    checked, problems = 0, []
    for method, url, endpoint, wanted, body in refusals(app_ctx, world, username):
        api = url.startswith("/api/")
        kwargs = {"json": body["json"]} if "json" in body else {"data": body["form"]}
        response = (app_ctx.test_client() if api else client).open(url, method=method,
                                                                    headers=bearer if api else {}, **kwargs)
        if response.status_code not in wanted:
            problems.append(f"{username} {method} {url} ({endpoint}): {response.status_code} not in {sorted(wanted)}")
        elif response.status_code == 302 and not login_path(response):
            problems.append(f"{username} {method} {url}: redirected to {response.headers.get('Location')}")
        after = snapshot()
        if changed(before, after):
            problems.append(f"{username} {method} {url} ({endpoint}) changed {changed(before, after)}")
            before = after
        checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= {"anonymous": 20, "demo_admin": 2, "demo_supervisor": 10}.get(username, 10), checked


@SQLITE
def test_photos_follow_their_event_jurisdiction(app_ctx, world):
    """The matrix asks for a hash no file has (always 404); here real photos of both events are asked for."""
    def urls(event):
        photo = event.photos[0]
        return (f"/media/{photo.sha256}.{EXT_BY_MIME[photo.mime]}", f"/media/thumb/{photo.sha256}.{THUMB_EXT}")

    for username in ("demo_worker", "demo_dispatcher", "demo_handler", "authz_supervisor", "demo_supervisor",
                     "demo_admin"):
        client, _ = signed_in(app_ctx, username)
        for url in urls(world["home"]):
            assert client.get(url).status_code == 200, (username, url)
        for url in urls(world["foreign"]):
            want = 200 if username in SEES_FOREIGN else 404
            assert client.get(url).status_code == want, (username, url)
    anonymous = app_ctx.test_client().get(urls(world["home"])[0])
    assert anonymous.status_code == 302 and login_path(anonymous)


@SQLITE
def test_batch_dispatch_skips_events_outside_the_jurisdiction(app_ctx, world):
    """dispatch.batch takes its event ids from the form, not the URL."""
    client, _ = signed_in(app_ctx, "demo_dispatcher")
    extra = _report(outsiders()["other_worker"], townships()[1], "外乡镇待立案", (1, 2, 3))
    before = snapshot()
    response = client.post("/dispatch/batch", data={"event_id": [str(extra.id), str(world["foreign"].id)]})
    assert response.status_code == 302
    assert changed(before, snapshot()) == []


@SQLITE
def test_merge_into_an_event_outside_the_jurisdiction_looks_like_merging_into_nothing(app_ctx, world):
    """Regression: `merge` took its master event id from the body and linked any event in the county, so a
    township dispatcher could tie their event to another township's (its number then showed in their log) and
    probe which ids exist and which are merged or rejected (422 vs 409 vs success)."""
    fresh, foreign = world["fresh"], world["foreign"]
    missing = foreign.id + 1000
    pages, bearer = signed_in(app_ctx, "demo_dispatcher")
    before = snapshot()
    answers = {}
    for master in (foreign.id, missing):
        page = pages.post(f"/events/{fresh.id}/act/merge", data={"master_event": str(master),
                                                                 "version": str(fresh.version)},
                          follow_redirects=True)
        reply = app_ctx.test_client().post(f"/api/v1/events/{fresh.id}/actions/merge",
                                           json={"master_event": master}, headers=bearer)
        answers[master] = (page.status_code, "找不到要合并到的主事件" in page.get_data(as_text=True),
                           reply.status_code, reply.get_json()["error"]["code"])
    assert answers[foreign.id] == answers[missing] == (200, True, 422, "bad_master")
    assert changed(before, snapshot()) == []


@SQLITE
def test_merge_inside_the_jurisdiction_still_works(app_ctx, world):
    fresh, home = world["fresh"], world["home"]
    client, _ = signed_in(app_ctx, "demo_dispatcher")
    assert client.post(f"/events/{fresh.id}/act/merge", data={"master_event": str(home.id)}).status_code == 302
    db.session.expire_all()
    event = db.session.get(Event, fresh.id)
    assert event.state == "merged" and event.duplicate_of == home.id


@SQLITE
def test_a_deactivated_user_loses_the_session_and_the_token_at_once(app_ctx, world):
    """Deactivation must not wait for the session or the token to expire: every role gate relies on it."""
    someone = ensure_user("authz_leaver", "dispatcher", townships()[0])
    pages, bearer = signed_in(app_ctx, "authz_leaver")
    assert pages.get("/dispatch").status_code == 200
    assert app_ctx.test_client().get("/api/v1/events", headers=bearer).status_code == 200
    someone.active = False
    db.session.commit()
    try:
        answer = pages.get("/dispatch")
        assert answer.status_code == 302 and login_path(answer)
        assert pages.get(f"/dispatch/events/{world['home'].id}").status_code == 302
        assert app_ctx.test_client().get("/api/v1/events", headers=bearer).status_code == 401
    finally:
        someone.active = True
        db.session.commit()
