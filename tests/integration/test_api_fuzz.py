"""Schemathesis fuzzes every operation of /api/v1/openapi.json as each role, on SQLite and PostgreSQL.

Every answer must be a non-5xx with a documented status code, the documented content type and a body
that matches the documented schema (errors: the bilingual shape of gridgov.errors). Requests go to the
app in-process (WSGI, no server). Two passes share the budget:

- the coverage pass sends schemathesis' deterministic boundary and invalid cases (every field at and
  past its documented limits, missing, of the wrong type) once, as the admin (whose jurisdiction and
  actions reach furthest), on PostgreSQL;
- the fuzzing pass sends derandomized valid and invalid cases (odd text: NUL, surrogates, any script;
  any number; any date) to every operation as every role, on both databases.

The operations are collected from a database-less app built at import (the OpenAPI document needs no
database); each test sends its cases to the session's real app (`app` fixture: the demo county on
SQLite and on PostgreSQL). schemathesis.pytest.from_fixture would avoid the import-time app, but it
pokes at pytest's private `Node._nodeid`, which pytest 9.2 no longer has.
"""
from __future__ import annotations

import os
import random
import tempfile
import zlib
from pathlib import Path

import hypothesis
import pytest
import schemathesis
import shapely
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_headers_conformance,
                                 response_schema_conformance, status_code_conformance)

from gridgov.extensions import db
from gridgov.models import Area, Category, Event, User
from gridgov.services import tokens
from gridgov.services.workflow import allowed_actions
from tests.conftest import build_app, wipe_event_data

ROLES = {"grid_worker": "demo_worker", "dispatcher": "demo_dispatcher", "handler": "demo_handler",
         "supervisor": "demo_supervisor", "admin": "demo_admin"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
ACTIONS = ["register", "reject", "merge", "dispatch", "redispatch", "accept", "return", "submit_result",
           "verify_pass", "verify_fail", "close", "self_resolve", "escalate", "request_extension",
           "approve_extension", "refuse_extension", "supervise", "reopen", "callback"]
SEEDED_EVENTS = 24
FUZZ_EXAMPLES = int(os.environ.get("GRIDGOV_FUZZ_EXAMPLES", "10"))  # more for a deeper run by hand
# No example database: a run depends on the code only. Health checks off: cases go through a real app and
# database (slow by Hypothesis' measure) and use function-scoped fixtures on purpose.
FUZZ_SETTINGS = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))

# What the fuzzed county holds, for the hooks below: filled by the fixtures (`allowed`: per role).
COUNTY: dict[str, list] = {"event_ids": [0], "points": [(0.0, 0.0)], "categories": ["0102"], "allowed": []}

_DOCUMENT_DIR = tempfile.TemporaryDirectory(prefix="gridgov-openapi-")  # removed when the run ends
_DOCUMENT_APP = build_app("sqlite://", Path(_DOCUMENT_DIR.name))


# Random integers almost never name an event, random points lie outside the county, random codes name
# no category: half the cases get real ids, action names the caller may fire, points inside grids and
# real categories, the rest of the case staying fuzzed, so the fuzzer reaches the workflow, the
# geofence and the database with its odd strings, numbers and dates.
def flatmap_path_parameters(context, path_parameters):
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    options = [st.just(path_parameters)]
    if "event_id" in path_parameters and "action" not in path_parameters:
        options.append(st.sampled_from(COUNTY["event_ids"]).map(lambda i: {**path_parameters, "event_id": i}))
    if "action" in path_parameters:
        pairs = st.tuples(st.sampled_from(COUNTY["event_ids"]), st.sampled_from(ACTIONS))
        if COUNTY["allowed"]:
            pairs = st.one_of(pairs, st.sampled_from(COUNTY["allowed"]))
        options.append(pairs.map(lambda pair: {**path_parameters, "event_id": pair[0], "action": pair[1]}))
    return st.one_of(options)


def _in_county(fields: dict, point, category) -> dict:
    out = {**fields, "lon": point[0], "lat": point[1]}
    if "category" in fields:
        out["category"] = category
    if "client_uuid" in fields:
        out["client_uuid"] = None
    return out


# Action inputs whose random values are refused before the workflow runs (a deadline in year 5000,
# an unknown department); half the action bodies go without them, keeping their fuzzed text.
CHECKED_INPUTS = ("deadline", "department", "master_event", "level", "satisfaction")


def flatmap_body(context, body):
    if not isinstance(body, dict):
        return st.just(body)
    if "lon" in body and "lat" in body:
        return st.one_of(st.just(body), st.builds(_in_county, st.just(body), st.sampled_from(COUNTY["points"]),
                                                  st.sampled_from(COUNTY["categories"])))
    if context.operation is not None and context.operation.path.endswith("/actions/{action}"):
        return st.sampled_from([body, {k: v for k, v in body.items() if k not in CHECKED_INPUTS}])
    return st.just(body)


def flatmap_query(context, query):
    if not isinstance(query, dict) or "lon" not in query or "lat" not in query:
        return st.just(query)
    return st.one_of(st.just(query), st.builds(_in_county, st.just(query), st.sampled_from(COUNTY["points"]),
                                               st.none()))


def flatmap_headers(context, headers):
    # A random If-Match is a stale version (409) before the action is even tried: send none half the time.
    if not isinstance(headers, dict) or "If-Match" not in headers:
        return st.just(headers)
    return st.sampled_from([headers, {k: v for k, v in headers.items() if k != "If-Match"}])


def load_schema(*, coverage: bool):
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _DOCUMENT_APP)
    loaded.config.generation.update(modes=list(GenerationMode))
    phases = loaded.config.phases
    phases.examples.enabled = False
    phases.stateful.enabled = False
    phases.coverage.enabled = coverage
    phases.coverage.unexpected_methods = set()  # 405 for PUT/PATCH/…: Flask's routing, not ours to test
    phases.fuzzing.enabled = not coverage
    for hook in (flatmap_path_parameters, flatmap_body, flatmap_query, flatmap_headers):
        loaded.hook(hook)
    return loaded


coverage_schema = load_schema(coverage=True)
fuzzing_schema = load_schema(coverage=False)


@pytest.fixture(scope="module")
def fuzz_county(app):
    """The demo county with events in every state, and points inside its grids."""
    from gridgov.demo import events as demo_events

    with app.app_context():
        demo_events.generate(random.Random(2026), SEEDED_EVENTS)
        COUNTY["event_ids"] = list(db.session.scalars(db.select(Event.id).order_by(Event.id)))
        grids = db.session.scalars(db.select(Area.geometry).where(Area.level == "grid").order_by(Area.code)
                                   .limit(40)).all()
        COUNTY["points"] = [(round(p.x, 6), round(p.y, 6))
                            for p in (shapely.from_wkb(g).representative_point() for g in grids)]
        COUNTY["categories"] = [c.code for c in db.session.scalars(db.select(Category).order_by(Category.code))
                                if c.is_leaf]
        db.session.remove()
    yield app
    with app.app_context():
        wipe_event_data()


class Caller:
    """Sends a case as one user with a bearer token; a fresh token where the case would revoke it."""

    def __init__(self, app, username: str):
        self.app = app
        self.user = db.session.scalar(db.select(User).where(User.username == username))
        self.token = self._issue()
        # The actions this user may fire now on the seeded events (they go stale as the run acts).
        COUNTY["allowed"] = [(event.id, action.name)
                             for event in db.session.scalars(db.select(Event).order_by(Event.id))
                             for action in allowed_actions(self.user, event)]

    def _issue(self) -> str:
        return tokens.issue_token(self.user, 1)[0]

    def send(self, case):
        revokes = case.operation.method.upper() == "DELETE" and case.operation.path == "/api/v1/auth/token"
        token = self._issue() if revokes else self.token
        response = case.call_and_validate(app=self.app, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
        if os.environ.get("GRIDGOV_FUZZ_LOG"):  # what the fuzzer sent and got, for tuning the hooks
            with open(os.environ["GRIDGOV_FUZZ_LOG"], "a") as log:
                log.write(f"{case.operation.label}\t{self.user.role}\t{response.status_code}\t"
                          f"{case.meta.phase.name if case.meta else ''}\t{response.text[:200]!r}\n")
        return response


@pytest.fixture(params=list(ROLES))
def caller(request, fuzz_county):
    # Derandomized alone, every role and backend would get the very same cases (Hypothesis seeds from
    # the test function, shared by them all); a fixed seed per item keeps the run reproducible and
    # gives each role its own cases.
    hypothesis.seed(zlib.crc32(request.node.nodeid.encode()))(request.function)
    with fuzz_county.app_context():
        yield Caller(fuzz_county, ROLES[request.param])
        db.session.remove()


@pytest.fixture
def admin_caller(fuzz_county):
    with fuzz_county.app_context():
        yield Caller(fuzz_county, ROLES["admin"])
        db.session.remove()


# On PostgreSQL only, the stricter database (NUL characters, 32-bit integers): the cases are the same
# on both, and the fuzzing pass below runs on both.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@coverage_schema.parametrize()
@FUZZ_SETTINGS
def test_boundary_and_invalid_cases_answer_as_documented(case, admin_caller):
    admin_caller.send(case)


@fuzzing_schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_every_role_as_documented(case, caller):
    caller.send(case)
