"""Hostile input to every HTML form of the consoles never gets a 500, and a refused form writes nothing.

The forms are read from the pages themselves. Every page of the route table (authz_table.TABLE) is opened as a
role that may see it (its URL filled by the authorization matrix's `build_call`, its session signed in by the
matrix's `build_world`), and each <form> on it names its route, its fields and what the page would send. The
workflow's action forms (console.act) come from the event pages of events made ready for each action.

For each (form × field) the field gets every value of its family in hostile.py (missing, empty, NUL, control
characters, lone surrogate, invalid UTF-8, 10 000 characters, duplicate keys; numbers such as ², 2**31, 2**70,
5000 digits and NaN; impossible and far dates, dates with offsets; unknown codes; NaN, ±1e308, swapped and
out-of-range coordinates; off-site and header-splitting redirect targets; broken files and zips) while the rest
of the form stays valid. Every request carries the session's real CSRF token, in the form and in the
X-CSRFToken header, so bodies whose form cannot be parsed still reach the view; the valid form itself must be
accepted, so refusals are the view's, not the token's. Each form also gets wrong content types and unparseable
bodies, each route hostile path values. GET forms (filters) and the phone pages get the values in their query
strings.

Each answer must be below 500. A refusal (a 4xx, a flashed error or a page showing one) must say why — an
error page, a message on the page or a flashed message — and leave the row count of every table as it was. A
redirect never leaves the site. Afterwards every page, download and Open311 list must still answer with what
the forms accepted. SQLite takes every case; PostgreSQL the values whose fate the database decides
(hostile.DATABASE_BOUND): the rest is decided in Python before any query, alike on both.
"""
from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import shapely
from werkzeug.exceptions import MethodNotAllowed, NotFound

from gridgov.extensions import db
from gridgov.models import Area, Event, User
from gridgov.timeutil import utcnow
from tests.helpers.images import jpeg_bytes
from tests.integration import hostile
from tests.integration.authz_table import TABLE
from tests.integration.hostile import MISSING, Case, Form, Raw, Upload, forms_of, kind_of, values_for
from tests.integration.test_authz_matrix import (OWN_DEPARTMENT, USERNAMES, Session, World, build_call,
                                                 send, throwaway, user, world_on)

# Which signed-in role opens a page (the first of these the table allows): the desk's forms as a dispatcher
# sees them, the department's as a handler, the admin pages as the admin.
PAGE_ROLES = ("dispatcher", "handler", "grid_worker", "supervisor", "admin")
WEB_POSTS = sorted(endpoint for (endpoint, method), access in TABLE.items()
                   if method == "POST" and access.kind in ("page", "public") and not endpoint.startswith("open311.")
                   and endpoint != "console.act" and not endpoint.startswith("api_auth."))


# --- the action forms: an event made ready for each action, the role that fires it ----------------

@dataclass(frozen=True)
class ActionPlan:
    role: str
    steps: tuple[str, ...]  # what happens to a fresh report first
    workflow: str = "default"


TO_DISPATCHED = ("register", "dispatch")
TO_HANDLED = TO_DISPATCHED + ("accept", "submit_result")
ACTION_PLANS = {
    "reject": ActionPlan("dispatcher", ()),                         # reason
    "merge": ActionPlan("dispatcher", ()),                          # master_event
    "dispatch": ActionPlan("dispatcher", ("register",)),            # department, deadline, override_reason
    "request_extension": ActionPlan("handler", TO_DISPATCHED + ("accept",)),  # reason, deadline
    "approve_extension": ActionPlan("dispatcher", TO_DISPATCHED + ("accept", "request_extension")),  # deadline
    "supervise": ActionPlan("supervisor", TO_DISPATCHED),           # comment, level, deadline
    "verify_pass": ActionPlan("grid_worker", TO_HANDLED),           # photos, comment
    "visit": ActionPlan("dispatcher", TO_HANDLED + ("verify_pass",), workflow="hotline"),  # satisfaction
}
STEP_ACTOR = {"register": "dispatcher", "dispatch": "dispatcher", "accept": "handler", "submit_result": "handler",
              "request_extension": "handler", "verify_pass": "grid_worker"}


def photo(seed: int = 1) -> Upload:
    return Upload(f"photo-{seed}.jpg", jpeg_bytes((seed % 250, 90, 200)), "image/jpeg")


def step_inputs(step: str) -> tuple[dict, list]:
    from tests.helpers.images import candidates

    if step == "dispatch":
        return {"department": OWN_DEPARTMENT}, []
    if step == "submit_result":
        return {"comment": "已清理"}, candidates(None, jpeg_bytes((30, 30, 7)))
    if step == "request_extension":
        return {"reason": "需要更多时间", "deadline": datetime.now(timezone.utc) + timedelta(days=9)}, []
    if step == "verify_pass":
        return {}, candidates(None, jpeg_bytes((9, 99, 199)))
    return {}, []


def ready_event(world: World, plan: ActionPlan, category: str = "0102") -> int:
    """A report in the demo worker's village walked through the plan's steps by the people who own them."""
    from gridgov.services.reporting import report_event
    from gridgov.services.workflow import fire_action

    lon, lat = world.points["own"]
    with world.app.app_context():
        hotline = plan.workflow == "hotline"
        event = report_event(user=user("demo_dispatcher" if hotline else "demo_worker"), category=category,
                             description="路边有暴露垃圾", lon=lon, lat=lat, workflow=plan.workflow,
                             source="hotline" if hotline else "grid_worker",
                             caller_name="张先生" if hotline else None, caller_phone="13800000000" if hotline else None
                             ).event
        event_id = event.id
        for step in plan.steps:
            inputs, photos = step_inputs(step)
            fire_action(event_id, step, user=user(USERNAMES[STEP_ACTOR[step]]), inputs=inputs, photos=photos)
        db.session.remove()
    return event_id


# --- what each form is sent with when it is "valid" -------------------------------------------------

_serial = itertools.count(1)


def unique(prefix: str):
    return lambda: f"{prefix}{next(_serial)}"


# Fields a page leaves for people to fill in. Callables give a fresh value per request (a new username…).
FILLED_IN = {
    "auth.login": {"username": "nobody_fuzz", "password": "wrong-password"},
    "admin.create_user": {"username": unique("fuzz_user_"), "password": "fuzz-pass-123", "display_name": "模糊测试"},
    "admin.reset_password": {"password": "fuzz-pass-456"},
    "admin.save_department": {"code": "330521-FZ", "name": "模糊测试科", "name_en": "Fuzz unit"},
    "admin.set_calendar_day": {"day": "2030-10-01", "note": "调休"},
    "hotline.new": {"caller_name": "张先生", "caller_phone": "13800000000", "category": "0102",
                    "description": "来电反映垃圾未清运"},
    "tasks.note": {"note": "已到现场"},
    "console.act": {"reason": "不属于本辖区", "comment": "请尽快处置", "photos": photo,
                    "deadline": lambda: (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")},
}


def replaced(world: World, endpoint: str) -> dict:
    """Values the page does fill in but the fuzzing must not repeat or cannot use."""
    if endpoint == "hotline.new":  # a fresh retry key per request (the page's one would replay the first report),
        lon, lat = world.points["own"]  # and a position, which the map gives
        return {"client_uuid": unique("fuzz-call-"), "lon": f"{lon:.6f}", "lat": f"{lat:.6f}"}
    if endpoint == "admin.area_import":  # a grid's GeoJSON (the page offers townships first)
        return {"file": lambda: world.area_file, "level": "grid"}
    if endpoint == "dispatch.batch":  # a new report to tick (the page ticks none)
        return {"event_id": str(ready_event(world, ActionPlan("dispatcher", ())))}
    return {}


@dataclass
class Target:
    """One form to fuzz: where it posts, as whom, what it holds, and how to make it valid again."""
    endpoint: str
    method: str
    path: str
    who: str
    form: Form
    action: str | None = None           # console.act: the workflow action
    valid: dict = field(default_factory=dict)  # name → value (or a callable giving one) of a valid submission

    def pairs(self) -> dict:
        out = {}
        for name, value in self.valid.items():
            value = value() if callable(value) else value
            if value is not MISSING:
                out[name] = value
        return out


def target_for(world: World, endpoint: str, method: str, path: str, who: str, form: Form,
               action: str | None = None) -> Target:
    valid = dict(form.valid_pairs())
    for name, value in FILLED_IN.get(endpoint, {}).items():  # what the page leaves empty (or unselected)
        if not valid.get(name) and (endpoint != "console.act" or name in form.fields()):
            valid[name] = value
    valid.update(replaced(world, endpoint))
    return Target(endpoint, method, path, who, form, action, valid)


# --- the world: the matrix's, plus what makes every form appear --------------------------------------

def area_geojson(world: World) -> Upload:
    """A GeoJSON of one grid the county already has: a valid import that replaces it with itself."""
    with world.app.app_context():
        grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.startswith(world.worker_village))
                                 .order_by(Area.code).limit(1))
        feature = {"type": "Feature", "properties": {"code": grid.code, "name": grid.name, "level": "grid"},
                   "geometry": shapely.geometry.mapping(shapely.from_wkb(grid.geometry))}
        db.session.remove()
    body = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    return Upload("grid.geojson", body, "application/geo+json")


def prepare_pages(world: World) -> None:
    """What the admin pages show only when there is something to act on: a token to revoke, a lock to lift,
    a calendar day to delete."""
    from gridgov.services.catalog_admin import set_calendar_day
    from gridgov.services.tokens import issue_token

    with world.app.app_context():
        victim = db.session.get(User, world.victim)
        issue_token(victim, 1, label="fuzz")
        victim.locked_until = utcnow() + timedelta(hours=1)
        db.session.commit()
        set_calendar_day("2030-10-02", is_workday=True, note="调休")
        db.session.remove()


def match(world: World, path: str, method: str):
    return world.app.url_map.bind("localhost").match(urlsplit(path).path, method=method)


def page_urls(world: World):
    """(who, call, endpoint) for every page of the route table, opened as a role that may see it."""
    for rule in sorted(world.app.url_map.iter_rules(), key=lambda r: r.rule):
        access = TABLE.get((rule.endpoint, "GET"))
        if access is None or not (access.kind == "page" or rule.endpoint == "auth.login"):
            continue
        who = "anonymous" if access.kind == "public" else next(r for r in PAGE_ROLES if r in access.roles)
        yield who, build_call(world, rule, "GET", who, "own"), rule.endpoint


def harvest(world: World) -> tuple[dict[str, list[Target]], list[str]]:
    """Every form of every page, by the route it sends to; one target per distinct set of fields."""
    targets: dict[str, list[Target]] = {}
    seen, problems = set(), []
    for who, call, endpoint in page_urls(world):
        url = call.url
        response = send(world, call, who, endpoint)
        response.get_data()  # streamed exports run to the end inside their request
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        for form in forms_of(response.get_data(as_text=True), urlsplit(url).path):
            if form.scripted:
                continue
            try:
                form_endpoint, args = match(world, form.action, form.method.upper())
            except (NotFound, MethodNotAllowed):
                problems.append(f"a form on {url} sends {form.method.upper()} to {form.action}, which is no route")
                continue
            if form_endpoint == "console.act":
                continue  # the action forms have their own events (ACTION_PLANS)
            key = (form_endpoint, form.method, frozenset(form.fields()))
            if key not in seen:
                seen.add(key)
                targets.setdefault(form_endpoint, []).append(
                    target_for(world, form_endpoint, form.method.upper(), form.action, who, form))
    return targets, problems


def area_commit_target(world: World) -> Target:
    """The commit form appears on the report of a valid upload: post one and read the form off the page."""
    admin = world.sessions["admin"]
    body, content_type = hostile.encode_body([("csrf_token", admin.csrf), ("level", "grid"),
                                              ("file", world.area_file)], as_multipart=True)
    page = admin.client.post("/admin/areas/import", data=body, content_type=content_type)
    assert page.status_code == 200, page.status_code
    (form,) = [f for f in forms_of(page.get_data(as_text=True), "/admin/areas/import")
               if f.action.endswith("/commit")]
    return target_for(world, "admin.area_import_commit", "POST", form.action, "admin", form)


def action_target(world: World, action: str) -> Target:
    plan = ACTION_PLANS[action]
    event_id = ready_event(world, plan)
    session = world.sessions[plan.role]
    page = session.client.get(f"/events/{event_id}", follow_redirects=True)
    assert page.status_code == 200, (action, page.status_code)
    for form in forms_of(page.get_data(as_text=True), f"/events/{event_id}"):
        if form.method == "post" and form.action == f"/events/{event_id}/act/{action}":
            return target_for(world, "console.act", "POST", form.action, plan.role, form, action=action)
    raise AssertionError(f"no {action} form on the {plan.role}'s page of a ready event")


@pytest.fixture(scope="module")
def world(backend, tmp_path_factory):
    with world_on(backend, tmp_path_factory.mktemp(f"formfuzz-{backend}")) as world:
        world.area_file = area_geojson(world)
        prepare_pages(world)
        world.targets, world.form_problems = harvest(world)
        world.targets["admin.area_import_commit"] = [area_commit_target(world)]
        yield world


# --- the cases ---------------------------------------------------------------------------------------

# What every action form carries besides the action's inputs; the same code reads it for every action, so the
# supervise form (which an accepted case leaves ready for the next) stands for all of them.
PLUMBING = ("version", "next", "back", "submit_action")
PLUMBING_ACTION = "supervise"


def fuzzed_fields(target: Target) -> dict:
    fields = target.form.fields()
    if target.endpoint == "console.act" and target.action != PLUMBING_ACTION:
        return {name: control for name, control in fields.items() if name not in PLUMBING}
    return fields


def field_cases(target: Target):
    # target.pairs() per case: a fresh username, a fresh retry key (else every case replays the first report).
    for name, control in fuzzed_fields(target).items():
        for label, value in values_for(kind_of(control)):
            valid = target.pairs()
            value = value(valid.get(name, "")) if callable(value) else value
            yield Case(f"{name}={label}", list({**valid, name: value}.items()))
    if "lon" in target.form.fields() and "lat" in target.form.fields():  # swapped, both out of range, both NaN
        for label, lon, lat in (("swapped", "lat", "lon"), ("out_of_range", "181", "-91"), ("nan", "nan", "nan")):
            valid = target.pairs()
            lon, lat = (valid[lon], valid[lat]) if label == "swapped" else (lon, lat)
            yield Case(f"lon,lat={label}", list({**valid, "lon": lon, "lat": lat}.items()))


PATH_VALUES = {
    "int": ("-1", "0", "2147483648", str(hostile.BIG), "abc", "%C2%B2"),
    "string": ("%00", "%ED%A0%80", "%FF%FE", "x" * 3000, "..", "%2F..%2F", "ZZZZ", "2026-13-45", "0000-01-01",
               str(hostile.BIG), "%E9%95%BF" * 200),
}


def path_cases(world: World, target: Target):
    """Each path argument of the form's route replaced by hostile values, the form itself valid."""
    path = urlsplit(target.path).path
    endpoint, args = match(world, path, target.method)
    rule = rule_of(world, endpoint, target.method)
    valid = list(target.pairs().items())
    for name in rule.arguments:
        kind = "int" if f"<int:{name}>" in rule.rule else "string"
        for value in PATH_VALUES[kind]:
            values = {k: str(v) for k, v in args.items()} | {name: value}
            hostile_path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_0-9]+)>", lambda m: values[m.group(1)], rule.rule)
            yield Case(f"path {name}={value[:20]}", valid, path=hostile_path)


def body_cases(target: Target, csrf: str):
    """The form as the wrong content type, unparseable, or with hostile keys."""
    valid = {k: v for k, v in target.pairs().items() if not isinstance(v, Upload)}
    with_token = {"csrf_token": csrf, **valid}
    yield Case("json body", body=json.dumps(with_token, ensure_ascii=False).encode(), content_type="application/json")
    yield Case("text/plain body", body=hostile.urlencoded(list(with_token.items())), content_type="text/plain")
    yield Case("json with a lone surrogate", body=json.dumps({**with_token, "x": "\ud800"}).encode(),
               content_type="application/json")  # json.dumps writes it as the escape \ud800
    yield Case("multipart cut short", body=b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nabc',
               content_type="multipart/form-data; boundary=b")
    yield Case("raw invalid utf-8", pairs=list(valid.items()) + [("x", Raw(b"\xff\xfe\xed\xa0\x80"))])
    yield Case("nul in a key", pairs=list(valid.items()) + [("a\x00b", "1")])
    yield Case("empty body", body=b"", content_type="application/x-www-form-urlencoded")


def all_cases(world: World, target: Target, csrf: str):
    """Every case on SQLite; on PostgreSQL the field values whose fate the database decides (the rest is
    decided in Python before any query: routing, parsing, checks, alike on both)."""
    if world.backend == "postgresql":
        yield from filter(hostile.database_bound, field_cases(target))
        return
    yield from field_cases(target)
    yield from path_cases(world, target)
    if target.method == "POST":
        yield from body_cases(target, csrf)


# --- sending a case and judging the answer -----------------------------------------------------------

def counts(world: World) -> dict:
    with world.app.app_context():
        found = hostile.row_counts(db.session)
        db.session.remove()
    return found


def session_for(world: World, target: Target) -> Session:
    if target.endpoint == "auth.logout":  # a copy of the session, so the next case is still signed in
        return throwaway(world, target.who, target.endpoint)
    return world.sessions[target.who]


def send_case(world: World, target: Target, case: Case, session: Session):
    path = case.path or target.path
    headers = {"X-CSRFToken": session.csrf}
    if target.method == "GET":
        base, _, query = path.partition("?")
        extra = hostile.urlencoded(case.pairs or [])
        query = b"&".join(p for p in (query.encode(), extra) if p)
        return session.client.open(base, method="GET", headers=headers, query_string=query.decode("latin-1"))
    if case.pairs is not None:
        pairs = [("csrf_token", session.csrf)] + list(case.pairs)
        body, content_type = hostile.encode_body(pairs, as_multipart=target.form.multipart)
    else:
        body, content_type = case.body, case.content_type
    return session.client.open(path, method="POST", data=body, content_type=content_type, headers=headers)


def flashes(session: Session) -> list[tuple[str, str]]:
    with session.client.session_transaction() as stored:
        return stored.pop("_flashes", [])


def judge(response, flashed) -> tuple[list[str], bool]:
    """(problems, refused) of one answer."""
    problems = []
    status = response.status_code
    html = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
    shown = 'role="alert"' in html or '<ul class="error">' in html
    errors = [message for category, message in flashed if category == "error"]
    if status >= 500:
        problems.append(f"answered {status}")
    if 300 <= status < 400:
        location = urlsplit(response.headers.get("Location", ""))
        if location.netloc not in ("", "localhost") or location.scheme not in ("", "http", "https"):
            problems.append(f"redirects off the site: {response.headers.get('Location')}")
    refused = status >= 400 or bool(errors) or (status == 200 and response.request.method == "POST" and shown)
    if 400 <= status < 500 and not (shown or (response.is_json and "error" in (response.get_json() or {}))):
        problems.append(f"answered {status} without a message")
    if refused and status < 400 and not (errors or shown):
        problems.append("refused without a message")
    return problems, refused


def still_ready(world: World, target: Target) -> bool:
    """Whether the target's event still takes the action (an accepted case may have moved it on)."""
    from gridgov.services.workflow import allowed_actions

    event_id = match(world, target.path, "POST")[1]["event_id"]
    with world.app.app_context():
        event = db.session.get(Event, event_id)
        ready = any(a.name == target.action for a in allowed_actions(user(USERNAMES[target.who]), event))
        db.session.remove()
    return ready


def renew(world: World, target: Target) -> Target:
    """After a case that was accepted: the same form again, ready for the next case."""
    if target.endpoint == "console.act":
        old = match(world, target.path, "POST")[1]["event_id"]
        new = old if still_ready(world, target) else ready_event(world, ACTION_PLANS[target.action])
        with world.app.app_context():  # the form of the new event: its id in the paths, its current version
            version = db.session.get(Event, new).version
            db.session.remove()
        moved = {name: value.replace(f"/{old}", f"/{new}") if isinstance(value, str) else value
                 for name, value in target.valid.items() if name != "version"}
        return Target(target.endpoint, target.method, target.path.replace(f"/{old}/", f"/{new}/"), target.who,
                      target.form, target.action, moved | {"version": str(version)})
    if target.endpoint == "admin.area_import_commit":
        return area_commit_target(world)
    if target.endpoint == "admin.revoke_tokens":  # a live token to revoke again
        from gridgov.services.tokens import issue_token

        with world.app.app_context():
            token = issue_token(db.session.get(User, world.victim), 1, label="fuzz")[1].id
            db.session.remove()
        if "token_id" in target.valid:
            target.valid["token_id"] = str(token)
    if target.endpoint == "dispatch.batch" and "event_id" in target.valid:
        target.valid["event_id"] = str(ready_event(world, ActionPlan("dispatcher", ())))
    return target


# Forms whose valid submission is refused all the same: the login form signs in nobody (the matrix's rule: no
# real account may be locked out by the fuzzing), the jobs page's buttons find no Redis and no stuck row.
VALID_IS_REFUSED = {"auth.login", "admin_jobs.requeue", "admin_jobs.retry_outbox"}


def fuzz(world: World, target: Target) -> tuple[list[str], int]:
    """Send the valid form, then every case of it; the problems found and how many cases were sent. The valid
    form must be accepted: else every hostile case would be refused for the wrong reason (a stale token, a
    missing field) and prove nothing."""
    problems, sent = [], 0
    before = counts(world)
    valid = Case("valid", list(target.pairs().items()))
    cases = [valid] + list(all_cases(world, target, world.sessions.get(target.who, world.sessions["anonymous"]).csrf))
    for case in cases:
        session = session_for(world, target)
        response = send_case(world, target, case, session)
        response.get_data()  # a streamed download runs to its end inside its request
        flashed = flashes(session)
        found, refused = judge(response, flashed)
        sent += 1
        where = f"{target.method} {(case.path or target.path)[:80]} {case.label}"
        problems += [f"{where}: {p}" for p in found]
        if case is valid and target.endpoint not in VALID_IS_REFUSED and (
                refused or (target.method == "GET" and response.status_code >= 400)):
            problems.append(f"{where}: the valid form is refused ({response.status_code}, {flashed})")
        if target.method == "GET":
            continue
        after = counts(world)
        if refused and after != before:
            problems.append(f"{where}: refused ({response.status_code}) "
                            f"but changed {hostile.changed_counts(before, after)}")
        if not refused:
            target = renew(world, target)
            after = counts(world)
        before = after
    return problems, sent


# --- the tests ---------------------------------------------------------------------------------------

def test_every_form_sends_to_a_route_and_every_form_route_has_a_form(world):
    assert world.form_problems == []
    found = set(world.targets)
    # The jobs page lists its buttons only when Redis holds failed jobs or the outbox stuck rows: none here
    # (those routes are sent an empty form at the matrix's URL instead).
    without_form = {"admin_jobs.requeue", "admin_jobs.retry_outbox"}
    assert set(WEB_POSTS) - without_form <= found, sorted(set(WEB_POSTS) - without_form - found)


@pytest.mark.parametrize("endpoint", WEB_POSTS)
def test_a_form_answers_hostile_input_without_a_500_and_a_refusal_writes_nothing(world, endpoint):
    targets = world.targets.get(endpoint) or [bare_target(world, endpoint)]
    problems, sent = [], 0
    for target in targets:
        found, count = fuzz(world, target)
        problems += found
        sent += count
    assert sent or world.backend == "postgresql"  # PostgreSQL: only the values the database decides
    assert not problems, f"{endpoint}: {len(problems)} of {sent} cases\n" + "\n".join(problems[:60])


@pytest.mark.parametrize("action", sorted(ACTION_PLANS))
def test_an_action_form_answers_hostile_input_without_a_500_and_a_refusal_writes_nothing(world, action):
    problems, sent = fuzz(world, action_target(world, action))
    assert sent >= 5 or world.backend == "postgresql"
    assert not problems, f"console.act {action}: {len(problems)} of {sent} cases\n" + "\n".join(problems[:60])


def rule_of(world: World, endpoint: str, method: str):
    return next(r for r in world.app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods)


def get_targets(world: World) -> list[Target]:
    return [t for endpoint, targets in sorted(world.targets.items()) for t in targets if t.method == "GET"]


def test_filter_forms_and_phone_pages_answer_hostile_queries_without_a_500(world):
    """Filter forms and query parameters get the values of their fields; pages naming a row in their path (the
    phone's event page, the desk's, the task's…) get hostile ids."""
    targets = get_targets(world) + [query_target(world, endpoint, params) for endpoint, params in QUERY_ONLY.items()]
    targets += [Target(endpoint, "GET", call.url, who, Form("get", call.url, False))
                for who, call, endpoint in page_urls(world) if "<" in rule_of(world, endpoint, "GET").rule]
    problems, sent = [], 0
    for target in targets:
        found, count = fuzz(world, target)
        problems += found
        sent += count
    assert sent >= 50
    assert not problems, f"{len(problems)} of {sent} cases\n" + "\n".join(problems[:80])


# Query parameters no form sends (links of pagers that need more rows than the world has, the audit check).
QUERY_ONLY = {"mobile.my_events": {"page": "1"}, "admin.audit": {"page": "1", "verify": ""},
              "dashboard.events": {"page": "1"},
              "tasks.index": {"view": "active"}, "dispatch.supervised": {"all": "1"}}


def query_target(world: World, endpoint: str, params: dict) -> Target:
    access = TABLE[(endpoint, "GET")]
    who = next(r for r in PAGE_ROLES if r in access.roles)
    path = world.app.url_map.bind("localhost").build(endpoint)
    from tests.integration.hostile import Control

    form = Form("get", path, False, [Control(name, "number" if value.isdigit() else "text", value)
                                     for name, value in params.items()])
    return Target(endpoint, "GET", path, who, form, valid=dict(params))


def bare_target(world: World, endpoint: str) -> Target:
    """A route no page shows a form for: its URL as the matrix fills it, an empty form."""
    rule = rule_of(world, endpoint, "POST")
    access = TABLE[(endpoint, "POST")]
    who = next(r for r in PAGE_ROLES if r in access.roles)
    with world.app.app_context():
        from tests.integration.test_authz_matrix import fill

        path = fill(rule, {"job_id": "no-such-job", "outbox_id": 1, "user_id": world.victim})
    return Target(endpoint, "POST", path, who, Form("post", path, False, []))


# Downloads whose format has no place for some text the forms accept (control characters in a spreadsheet).
DOWNLOADS = ("/dashboard/export/events.xlsx", "/dashboard/export/report.xlsx", "/dashboard/export/events.csv")


def test_every_page_still_answers_after_the_hostile_input_the_forms_accepted(world):
    """Runs after the fuzzing of this module: what the forms stored (names, notes, descriptions, calendar notes,
    departments, time limits…) must not break a page, a download, the Open311 list or a dispatch later."""
    problems = []
    calls = [(who, call.url) for who, call, _ in page_urls(world)]
    calls += [("admin", path) for path in DOWNLOADS]
    calls += [("anonymous", f"/open311/v2/requests.{fmt}") for fmt in ("json", "xml")]
    for who, url in calls:
        response = world.sessions[who].client.get(url)
        response.get_data()  # a streamed download fails while it is written
        if response.status_code >= 500:
            problems.append(f"{who} GET {url}: {response.status_code}")
        if url.endswith(".xml"):
            try:
                ET.fromstring(response.data)
            except ET.ParseError as exc:
                problems.append(f"{who} GET {url}: {exc}")
    # The work still flows in the category whose time limits were fuzzed (switched on again: the last case may
    # have left it off), whatever limits the accepted cases left: a report there is dispatched with a deadline.
    code = world.targets["admin.update_category"][0].path.rsplit("/", 1)[1]
    with world.app.app_context():
        from gridgov.models import Category

        db.session.get(Category, code).active = True
        db.session.commit()
        db.session.remove()
    event_id = ready_event(world, ActionPlan("dispatcher", TO_DISPATCHED), category=code)
    with world.app.app_context():
        assert db.session.get(Event, event_id).deadline is not None
        db.session.remove()
    assert len(calls) > 30
    assert not problems, "\n".join(problems)
