"""Authorization matrix: every route × every role × own/foreign jurisdiction, generated from the route table.

The routes come from `app.url_map`, the expectations from tests/integration/authz_table.py; a route
without an entry fails `test_every_route_has_an_entry`, so a new route cannot be missed. For each route
and each person (anonymous; per role a user whose jurisdiction covers the matrix's event and one whose
does not) the answer must be exactly what the table says, never a 500, and a refused POST must change
nothing.
"""
from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import func, select

from gridgov import create_app
from gridgov.extensions import db
from gridgov.models import CalendarDay, Department, Event, EventLog, OutboxMessage, User
from tests.conftest import DEMO_PASSWORD, login
from tests.integration.authz_matrix_support import PASSWORD, ROLES, bearer, make_cast, url_values
from tests.integration.authz_table import EXEMPT, TABLE, missing_entries, routes_of

OK = {200, 201, 204, 302, 303}
# Lists must not show an event outside the user's jurisdiction (its number is the tell).
LISTS = {"events.list_events", "dispatch.desk", "dashboard.events", "tasks.index", "mobile.my_events",
         "dispatch.supervised", "dashboard.export_events"}
QUERY = {"geo.locate": {"lon": "120.05", "lat": "30.62"}, "events.list_events": {"per_page": "100"}}


def test_every_route_has_an_entry(app):
    assert missing_entries(app) == set(), "routes without an entry in authz_table.py"
    assert set(TABLE) <= routes_of(app), "entries for routes that no longer exist"


def test_a_new_route_without_an_entry_is_caught(tmp_path):
    fresh = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}", "SECRET_KEY": "t",
                        "INSTANCE_DIR": str(tmp_path), "TESTING": True})
    fresh.add_url_rule("/secret-report", "rogue.report", lambda: "numbers", methods=["GET"])
    assert missing_entries(fresh) == {("rogue.report", "GET")}


def _fingerprint(event_id: int) -> tuple:
    db.session.rollback()
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return (db.session.scalar(select(Event.version).where(Event.id == event_id)),
            db.session.scalar(select(func.count()).select_from(EventLog).where(EventLog.event_id == event_id)),
            count(User), count(Department), count(CalendarDay), count(OutboxMessage))


def _people(cast):
    yield "anonymous", None, None
    for role in ROLES:
        yield role, "own", cast.own[role]
        if role in cast.foreign:
            yield role, "foreign", cast.foreign[role]


def test_every_route_answers_every_role_as_the_table_says(app_ctx):
    app = app_ctx
    cast = make_cast()
    event_id, number = cast.event.id, cast.event.number
    clients, tokens = {}, {}
    for _, _, user in _people(cast):
        if user is not None:
            client = clients[user.id] = app.test_client()
            password = DEMO_PASSWORD if user.username.startswith("demo_") else PASSWORD
            assert login(client, user.username, password).status_code == 302
            tokens[user.id] = bearer(user)
    rules = sorted((r for r in app.url_map.iter_rules() if r.endpoint not in EXEMPT), key=lambda r: r.rule)
    checked, problems = 0, []
    for rule in rules:
        values = url_values(rule, cast.event, cast.own["grid_worker"].id)
        if rule.endpoint == "dashboard.export_events":
            values["fmt"] = "csv"
        with app.test_request_context():
            url = url_for(rule.endpoint, **values, **QUERY.get(rule.endpoint, {}))
        api = rule.rule.startswith("/api/v1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            access = TABLE[(rule.endpoint, method)]
            for role, side, user in _people(cast):
                if access.kind == "public" and user is not None:
                    continue  # public routes: the anonymous answer is the one that matters
                if rule.endpoint == "auth.logout" and user is not None:
                    continue  # would log the shared client out
                client = app.test_client() if user is None else clients[user.id]
                headers = tokens[user.id] if (api and user is not None) else {}
                before = _fingerprint(event_id) if method != "GET" else None
                kwargs = {"json": {}} if api and method in ("POST", "PUT") else (
                    {"data": {}} if method == "POST" else {})
                response = client.open(url, method=method, headers=headers, **kwargs)
                status, location = response.status_code, response.headers.get("Location", "")
                body = response.get_data().decode("utf-8", "replace")  # also drains streamed exports (xlsx is binary)
                response.close()
                who = f"{role}/{side}" if side else role
                checked += 1

                def problem(expected):
                    problems.append(f"{method} {rule.rule} as {who}: {status} (expected {expected})")

                if status >= 500:
                    problem("never 5xx")
                    continue
                if access.kind == "public":
                    refused = status in (401, 403) or (status == 302 and "/login" in location)
                    if refused and status not in access.ok:
                        problem("a public answer")
                    continue
                allowed = user is not None and role in access.roles
                if user is None:
                    if api and status != 401:
                        problem(401)
                    elif not api and not (status == 302 and "/login" in location):
                        problem("302 to /login")
                elif not allowed:
                    if status not in (403, 404):
                        problem("403")
                elif access.scoped and side == "foreign":
                    if status != 404:
                        problem("404: outside the jurisdiction looks absent")
                elif status not in OK | access.ok or (status == 302 and "/login" in location):
                    problem(sorted(OK | access.ok))
                elif side == "foreign" and rule.endpoint in LISTS and number in body:
                    problems.append(f"{method} {rule.rule} as {who}: lists event {number} outside the jurisdiction")
                if before is not None and (not allowed or (access.scoped and side == "foreign")):
                    if _fingerprint(event_id) != before:
                        problems.append(f"{method} {rule.rule} as {who}: a refused request changed rows")
    assert not problems, "\n".join(problems)
    assert checked > 400  # every route, every person: the matrix really ran
