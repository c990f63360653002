"""Authorization matrix: every route × anonymous, the five roles and a deactivated account × an object inside
and outside the user's jurisdiction, generated from the route table and held to tests/integration/authz_table.py.

The routes come from `app.url_map`; a route without an entry fails `test_every_route_has_an_entry`, so a
new route cannot be missed. Requests are real: people sign in through the login form with CSRF on (every
POST carries its session's token), the JSON API is called with bearer tokens (no cookies), Open311 posts
with an api_key. Allowed requests send a minimal valid body and, on the action routes, really fire the
role's own action on a fresh event. Each answer must have exactly the table's status (a redirect to the
login form where it says so), nothing of the foreign event may appear in it (its description, number or
photo; xlsx exports are unzipped to look), and a refused POST or DELETE must leave every row of every
table as it was.

One app per backend with its own database: the matrix changes users, departments and the calendar as an
admin would, which other modules must not see. SQLite runs the whole matrix; PostgreSQL the allowed roles'
requests (see `test_route_answers_every_role_and_jurisdiction_as_the_table_says`).
"""
from __future__ import annotations

import contextlib

import io
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import shapely
from werkzeug.security import generate_password_hash

from gridgov.extensions import db
from gridgov.media.intake import THUMB_EXT
from gridgov.models import Area, Category, Event, Photo, User
from tests.conftest import DEMO_PASSWORD, build_app, drop_pg_database, make_database, upgrade_schema
from tests.helpers.images import candidates, jpeg_bytes
from tests.integration.authz_table import ACTORS, OVER, TABLE, Access, missing_entries, routes_of

ROLES = ("grid_worker", "dispatcher", "handler", "supervisor", "admin")
WHO = ("anonymous", "deactivated", *ROLES)
STRANGERS = ("anonymous", "deactivated")  # a deactivated account must be treated exactly like nobody
LOGIN = "a redirect to /login"
API_KEY = "authz-open311-key"
OWN_SECRET = "本辖区事件-authz-19c3"
FOREIGN_SECRET = "外辖区事件-authz-7e51"
# Who signs in as each role. The supervisor works for one township (the demo's supervisor sees the whole
# county), so a foreign township exists for every role but the admin, who works county-wide by design.
USERNAMES = {"grid_worker": "demo_worker", "dispatcher": "demo_dispatcher", "handler": "demo_handler",
             "supervisor": "authz_supervisor", "admin": "demo_admin"}
OWN_DEPARTMENT, FOREIGN_DEPARTMENT = "330521-CG", "330521-SW"
# What each role does through the action routes on an own event, and the state that event must be in.
NATURAL_ACTION = {"grid_worker": ("verify_pass", "handled"), "dispatcher": ("register", "reported"),
                  "handler": ("accept", "dispatched"), "supervisor": ("supervise", "dispatched")}
ACTION_INPUTS = {"supervise": {"comment": "请加快处置", "level": "1"}, "verify_pass": {"comment": "已核实"}}
# A refused request on the shared (dispatched) event tries the handler's action: the state fits, so the
# answer is decided by who asks, not by the workflow's state check.
DEFAULT_ACTION = "accept"


# --- the world: one app per backend, its people, their events and photos --------------------------

@dataclass
class Session:
    """How somebody calls the app: a test client with its session cookie, its CSRF token, a bearer token."""
    client: object
    csrf: str = ""
    token: str = ""


@dataclass
class World:
    backend: str
    app: object
    own_township: str
    foreign_township: str
    worker_village: str
    own: dict = field(default_factory=dict)      # id, number, photo hash of the event inside every jurisdiction
    foreign: dict = field(default_factory=dict)  # …and of the one outside (another township and department)
    bait: int = 0                                # a `reported` own event that refused batch dispatches aim at
    points: dict = field(default_factory=dict)   # a point inside the worker's village and one in the foreign township
    victim: int = 0                              # the user the admin pages edit
    sessions: dict = field(default_factory=dict)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(app, username: str) -> Session:
    client = app.test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, (username, answer.status_code)
    # Signing in starts a new session and with it a new CSRF token: read it from a page of that session.
    csrf = _csrf(client.get("/notifications").get_data(as_text=True))
    return Session(client, csrf, issue_token(app, username))


def issue_token(app, username: str) -> str:
    """A bearer token as POST /api/v1/auth/token issues it (that route has its own row in the matrix)."""
    from gridgov.services.tokens import issue_token as issue

    with app.app_context():
        token, _ = issue(user(username), 1, label="authz-matrix")
        db.session.remove()
    return token


def user(username: str) -> User:
    return db.session.scalar(db.select(User).where(User.username == username))


def point_in(prefix: str) -> tuple[float, float]:
    grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.startswith(prefix))
                             .order_by(Area.code).limit(1))
    point = shapely.from_wkb(grid.geometry).representative_point()
    return point.x, point.y


def make_event(world: World, state: str, *, foreign: bool = False, description: str = "路边有暴露垃圾",
               photo: tuple | None = None) -> int:
    """An event walked through the real services up to `state`: in the demo worker's village and dispatched to
    the demo handler's department, or (`foreign`) in the second township and dispatched to another one."""
    from gridgov.services.reporting import report_event
    from gridgov.services.workflow import fire_action

    prefix = "authz_foreign_" if foreign else "demo_"
    reporter, dispatcher, handler = user(f"{prefix}worker"), user(f"{prefix}dispatcher"), user(f"{prefix}handler")
    lon, lat = world.points["foreign" if foreign else "own"]
    event = report_event(user=reporter, category="0102", description=description, lon=lon, lat=lat,
                         photos=candidates(None, jpeg_bytes(photo)) if photo else ()).event
    steps = ["register", "dispatch", "accept", "submit_result"]
    for action in steps[:{"reported": 0, "dispatched": 2, "handled": 4}[state]]:
        if action in ("register", "dispatch"):
            department = FOREIGN_DEPARTMENT if foreign else OWN_DEPARTMENT
            fire_action(event.id, action, user=dispatcher, inputs={"department": department})
        elif action == "accept":
            fire_action(event.id, action, user=handler)
        else:
            fire_action(event.id, action, user=handler, inputs={"comment": "已清理"},
                        photos=candidates(None, jpeg_bytes((30, 30, 7))))
    return event.id


def build_world(backend: str, tmp_dir) -> tuple[World, str]:
    from gridgov.demo.load import load_demo
    from gridgov.services.accounts import update_user

    url = make_database(backend, tmp_dir)
    app = build_app(url, tmp_dir, WTF_CSRF_ENABLED=True, OPEN311_API_KEYS=[API_KEY])
    upgrade_schema(app)
    with app.app_context():
        load_demo(seed=7, password=DEMO_PASSWORD, event_count=0)
        own, foreign = db.session.scalars(db.select(Area.code).where(Area.level == "township")
                                          .order_by(Area.code).limit(2)).all()
        foreign_village = db.session.scalar(db.select(Area.code).where(Area.level == "village",
                                                                       Area.parent_code == foreign)
                                            .order_by(Area.code).limit(1))
        world = World(backend, app, own, foreign, user("demo_worker").area_code)
        world.points = {"own": point_in(world.worker_village), "foreign": point_in(foreign)}
        assert user("demo_dispatcher").area_code == own and world.worker_village.startswith(own)
        assert user("demo_handler").department_code == OWN_DEPARTMENT
        # The matrix signs in dozens of times per backend: the same password under a hash that is cheap to
        # check (scrypt takes a third of a second on this machine), verified by the real login code.
        cheap = generate_password_hash(DEMO_PASSWORD, method="pbkdf2:sha256:1000")
        for person in db.session.scalars(db.select(User)):
            person.password_hash = cheap
        for username, role, area, department in (
                ("authz_supervisor", "supervisor", own, None),
                ("authz_foreign_worker", "grid_worker", foreign_village, None),
                ("authz_foreign_dispatcher", "dispatcher", foreign, None),
                ("authz_foreign_handler", "handler", "330521", FOREIGN_DEPARTMENT),
                ("authz_victim", "grid_worker", world.worker_village, None),
                ("authz_gone", "dispatcher", own, None)):
            db.session.add(User(username=username, role=role, area_code=area, department_code=department,
                                display_name=username, password_hash=cheap, active=True))
        db.session.commit()
        mine = make_event(world, "dispatched", description=OWN_SECRET, photo=(11, 90, 200))
        theirs = make_event(world, "dispatched", foreign=True, description=FOREIGN_SECRET, photo=(222, 90, 200))
        for record, event_id in ((world.own, mine), (world.foreign, theirs)):
            event = db.session.get(Event, event_id)
            photo = db.session.scalar(db.select(Photo).where(Photo.event_id == event_id, Photo.kind == "report"))
            record.update(id=event_id, number=event.number, sha=photo.sha256, township=event.township_code)
        assert world.own["township"] == own and world.foreign["township"] == foreign
        world.bait = make_event(world, "reported")
        world.victim = user("authz_victim").id
    for role, username in USERNAMES.items():
        world.sessions[role] = sign_in(app, username)
    client = app.test_client()
    world.sessions["anonymous"] = Session(client, _csrf(client.get("/login").get_data(as_text=True)))
    # Signed in on the web and holding a token, then deactivated by an admin: from then on, a stranger.
    world.sessions["deactivated"] = sign_in(app, "authz_gone")
    with app.app_context():
        gone = user("authz_gone")
        update_user(gone.id, role=gone.role, area_code=gone.area_code, department_code=None,
                    display_name=gone.display_name, active=False)
        db.session.remove()
    return world, url


@contextlib.contextmanager
def world_on(backend: str, directory):
    """A built world for one module; its connections closed and its PostgreSQL database dropped after."""
    world, url = build_world(backend, directory)
    try:
        yield world
    finally:
        with world.app.app_context():
            db.session.remove()
            db.engine.dispose()
        if backend == "postgresql":
            drop_pg_database(url)


@pytest.fixture(scope="module")
def world(backend, tmp_path_factory):
    with world_on(backend, tmp_path_factory.mktemp(f"authz-{backend}")) as built:
        yield built


# --- what the table expects --------------------------------------------------------------------------

def expectation(access: Access, method: str, who: str, case: str) -> int | str:
    if who in STRANGERS:
        if access.kind == "public":
            return access.anonymous or access.status_for("anonymous", method)
        return LOGIN if access.kind == "page" else 401
    if who not in access.roles:
        return 403
    if case == "foreign" and who != "admin":
        return access.foreign
    return access.status_for(who, method)


def refused(access: Access, who: str, case: str) -> bool:
    """Whether the request must change nothing at all."""
    if who in STRANGERS:
        return access.kind != "public"
    return who not in access.roles or (case == "foreign" and who != "admin" and access.refuses_foreign)


# --- how to call a route as somebody -----------------------------------------------------------------

@dataclass
class Call:
    method: str
    url: str
    form: dict | None = None
    json: dict | None = None
    acts_on: int | None = None  # an allowed request that must raise this event's version


def fill(rule, values: dict) -> str:
    unknown = set(rule.arguments) - set(values)
    assert not unknown, f"the matrix does not know how to fill {sorted(unknown)} of {rule.rule}"
    return re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_0-9]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def build_call(world: World, rule, method: str, who: str, case: str) -> Call:
    endpoint = rule.endpoint
    access = TABLE[(endpoint, method)]
    target = world.foreign if case == "foreign" else world.own
    allowed = who in ROLES and not refused(access, who, case)
    values = {"event_id": target["id"], "number": target["number"], "sha256": target["sha"],
              "ext": THUMB_EXT if endpoint == "media.thumb" else "jpg", "user_id": world.victim,
              "day": "2030-10-01", "job_id": "no-such-job", "outbox_id": 999999, "filename": "css/app.css",
              "fmt": "csv" if endpoint.startswith("dashboard.") else "json",
              "code": "zh_CN" if endpoint == "auth.set_language" else "0102", "action": DEFAULT_ACTION}
    call = Call(method, "")
    with world.app.app_context():
        if "action" in rule.arguments and allowed and case == "own" and who in ACTORS:
            action, state = NATURAL_ACTION[who]
            values.update(event_id=make_event(world, state), action=action)
            call.acts_on = values["event_id"]
        if endpoint == "tasks.note" and allowed and case == "own":
            call.acts_on = values["event_id"]
        batch_event = target["id"] if case == "foreign" else world.bait
        if endpoint == "dispatch.batch" and allowed and case == "own" and who == "dispatcher":
            batch_event = call.acts_on = make_event(world, "reported")
        query = ""
        if access.over == "area":
            area = {"grid_worker": world.worker_village}.get(who, world.own_township)
            query = f"?area={world.foreign_township if case == 'foreign' else area}"
        elif endpoint == "geo.locate":
            query = "?lon={}&lat={}".format(*world.points["own"])
        call.url = fill(rule, values) + query
        if method != "GET":
            point = world.points["foreign" if case == "foreign" else "own"]
            call.form, call.json = body(world, endpoint, access, values, batch_event, point)
        db.session.remove()
    return call


def body(world: World, endpoint: str, access: Access, values: dict, batch_event: int, point: tuple) -> tuple:
    """(form, json): a minimal valid request body; routes not named here get an empty one."""
    unique = uuid.uuid4().hex[:10]
    lon, lat = point  # where a report is made: the foreign case reports right at the foreign event
    if endpoint in ("console.act", "events.act"):
        inputs = dict(ACTION_INPUTS.get(values["action"], {}))
        if values["action"] == "verify_pass":  # the after-photo travels as multipart on both routes
            return dict(inputs, photos=[(io.BytesIO(jpeg_bytes((9, 99, 199))), "verify.jpg")]), None
        return (inputs, None) if endpoint == "console.act" else (None, inputs)
    category = db.session.get(Category, "0102")
    victim = db.session.get(User, world.victim)
    forms = {
        "auth.login": {"username": f"nobody-{unique}", "password": "wrong-password"},
        "auth.set_language": {"next": "/"},
        "notifications.read": {"all": "1"},
        "dispatch.batch": {"event_id": str(batch_event), "department": ""},
        "hotline.new": {"caller_name": "张先生", "caller_phone": "13800000000", "address": "", "lon": str(lon),
                        "lat": str(lat), "category": "0102", "description": "来电反映垃圾未清运", "urgency": "1",
                        "client_uuid": unique},
        "tasks.note": {"note": "已到现场"},
        "admin.create_user": {"username": f"authz-new-{unique}", "password": "authz-pass-123",
                              "role": "grid_worker", "area_code": world.worker_village, "display_name": "新网格员"},
        "admin.update_user": {"role": victim.role, "area_code": victim.area_code,
                              "display_name": victim.display_name, "active": "1"},
        "admin.reset_password": {"password": f"authz-pass-{unique}"},
        "admin.save_department": {"code": "330521-AUTHZ", "name": "授权测试科", "name_en": "Authz unit",
                                  "level": "county", "area_code": "330521", "active": "1"},
        "admin.update_category": {"time_limit": str(category.time_limit), "time_unit": category.time_unit,
                                  "urgent_time_limit": str(category.urgent_time_limit or ""),
                                  "default_department_code": category.default_department_code or "",
                                  "active": "1"},
        "admin.area_import_commit": {"token": "no-such-upload"},
        "admin.set_calendar_day": {"day": "2030-10-01", "is_workday": "1", "note": "调休"},
        "open311.create_request": {"api_key": API_KEY, "service_code": "0102", "lat": str(lat), "long": str(lon),
                                   "description": "路灯不亮"},
    }
    jsons = {
        "api_auth.create_token": {"username": "demo_worker", "password": DEMO_PASSWORD},
        "events.create_event": {"category": "0102", "description": "API 上报", "lon": lon, "lat": lat},
    }
    if endpoint in jsons or (access.kind == "api" and endpoint not in forms):
        return None, jsons.get(endpoint, {})
    return forms.get(endpoint, {}), None


def throwaway(world: World, who: str, endpoint: str) -> Session:
    """A copy of `who`'s session (and, to revoke, a token of their own) for the calls that end what they use."""
    session = world.sessions[who]
    client = world.app.test_client()
    cookie = session.client.get_cookie("session")
    if cookie is not None:
        client.set_cookie("session", cookie.value)
    token = session.token
    if endpoint == "api_auth.revoke_token" and who in ROLES:
        token = issue_token(world.app, USERNAMES[who])
    return Session(client, session.csrf, token)


def send(world: World, call: Call, who: str, endpoint: str):
    session = world.sessions[who]
    if endpoint in ("auth.logout", "api_auth.revoke_token"):
        session = throwaway(world, who, endpoint)
    api = call.url.startswith("/api/")
    # The API is called as a phone would: a bearer token and no cookies. Pages carry the session's CSRF token.
    client = world.app.test_client() if api else session.client
    headers = {"Authorization": f"Bearer {session.token}"} if api and session.token else {}
    form = call.form
    if form is not None and not api and not call.url.startswith("/open311/"):
        form = dict(form, csrf_token=session.csrf)
    multipart = form is not None and any(isinstance(v, list) for v in form.values())
    return client.open(call.url, method=call.method, data=form, json=call.json, headers=headers,
                       content_type="multipart/form-data" if multipart else None)


# --- what an answer may contain, and the state of the database -----------------------------------

def readable(response) -> str:
    data = response.get_data()
    if response.mimetype.endswith("spreadsheetml.sheet"):
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            return "".join(book.read(n).decode("utf-8", "replace") for n in book.namelist() if n.endswith(".xml"))
    return "" if response.mimetype.startswith("image/") else data.decode("utf-8", "replace")


def snapshot(world: World) -> dict:
    """Every table's rows (the areas, large and never written by a request, by count)."""
    with world.app.app_context():
        state = {}
        for table in db.metadata.sorted_tables:
            if table.name == "areas":
                state[table.name] = db.session.scalar(db.select(db.func.count()).select_from(table))
            else:
                order = list(table.primary_key.columns) or list(table.columns)
                state[table.name] = db.session.execute(db.select(table).order_by(*order)).all()
        db.session.remove()
    return state


def version_of(world: World, event_id: int) -> int:
    with world.app.app_context():
        version = db.session.get(Event, event_id).version
        db.session.remove()
    return version


# --- the tests ---------------------------------------------------------------------------------------

def test_every_route_has_an_entry(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'routes.sqlite3'}", tmp_path)
    assert missing_entries(app) == set(), "routes without an entry in authz_table.py"
    assert set(TABLE) <= routes_of(app), "entries for routes that no longer exist"


def test_a_new_route_without_an_entry_is_caught(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'routes.sqlite3'}", tmp_path)
    app.add_url_rule("/events/<int:event_id>/share", "console.share", lambda event_id: "", methods=["GET", "POST"])
    app.add_url_rule("/dispatch/events/<int:event_id>", "dispatch.forget", lambda event_id: "", methods=["DELETE"])
    assert missing_entries(app) == {("console.share", "GET"), ("console.share", "POST"),
                                    ("dispatch.forget", "DELETE")}


def test_the_table_speaks_only_of_known_roles_and_jurisdictions():
    for key, access in TABLE.items():
        assert access.kind in ("page", "api", "public") and access.roles <= set(ROLES), key
        assert access.over in (None, *OVER) and not (access.scoped and access.over), key
        if isinstance(access.status, dict):
            assert set(access.status) == set(ROLES), key


@pytest.mark.parametrize("key", sorted(TABLE, key=lambda k: (k[0], k[1])), ids=lambda k: f"{k[1]} {k[0]}")
def test_route_answers_every_role_and_jurisdiction_as_the_table_says(world, key):
    endpoint, method = key
    access = TABLE[key]
    foreign_marks = (FOREIGN_SECRET, world.foreign["number"], world.foreign["sha"])
    problems, known = [], None  # `known`: the database as the last refused request left it
    rules = [rule for rule in world.app.url_map.iter_rules() if rule.endpoint == endpoint and method in rule.methods]
    assert rules, key
    # Refusals are decided in Python before any query (who is signed in, the role gate, can_see on the loaded
    # event): SQLite shows them. PostgreSQL runs what the database takes part in: every allowed role's
    # requests, inside and outside its jurisdiction (list and statistics clauses, the actions' writes).
    people = WHO if world.backend == "sqlite" else [role for role in ROLES if role in access.roles]
    for rule in rules:
        for who in people:
            # Strangers have no jurisdiction: one object is enough to see them turned away.
            for case in ("own", "foreign") if access.jurisdiction and who not in STRANGERS else ("own",):
                call = build_call(world, rule, method, who, case)
                must_not_write = refused(access, who, case) and method != "GET"
                before = (known or snapshot(world)) if must_not_write else None
                version = version_of(world, call.acts_on) if call.acts_on else None
                response = send(world, call, who, endpoint)
                status, text = response.status_code, readable(response)
                where = f"{who:11} {case:7} {method} {call.url}"
                wanted = expectation(access, method, who, case)
                if wanted == LOGIN:
                    if status != 302 or urlsplit(response.headers.get("Location", "")).path != "/login":
                        problems.append(f"{where}: {status} {response.headers.get('Location', '')} ({LOGIN} expected)")
                elif status != wanted:
                    problems.append(f"{where}: {status} ({wanted} expected)")
                if who != "admin" and not access.publishes:
                    # (a page may repeat the address it was asked for: that is no news to the asker)
                    shown = [mark for mark in foreign_marks if mark in text and mark not in call.url]
                    if shown:
                        problems.append(f"{where}: the answer shows the foreign event {shown}")
                if (access.scoped and case == "own" and method == "GET" and status == 200
                        and world.own["number"] not in text):
                    problems.append(f"{where}: the event's own page does not show it")
                if before is not None:
                    known = snapshot(world)
                    if known != before:
                        changed = [table for table in before if before[table] != known[table]]
                        problems.append(f"{where}: a refused request changed {changed}")
                else:
                    known = None  # an allowed request may write: look again before the next refused one
                if version is not None and status == wanted and version_of(world, call.acts_on) <= version:
                    problems.append(f"{where}: answered {status} but nothing happened")
    assert not problems, f"{method} {endpoint}:\n" + "\n".join(problems)
