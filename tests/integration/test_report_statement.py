"""A plain report written by one statement (PostgreSQL) stores exactly what the ORM path stores.

Both paths run on both databases where they apply: on SQLite every report takes the ORM path, so the
shared assertions hold there too; on PostgreSQL the one-statement path is compared row by row with
the ORM path (forced by turning the statement off), and its hash chain is verified end to end.
"""

import pytest
import shapely

from gridgov.extensions import db
from gridgov.models import Area, Category, DailyCounter, Event, EventLog, OutboxMessage, User
from gridgov.services import report_statement, tokens
from gridgov.services.audit import verify_all
from gridgov.services.reporting import report_event
from gridgov.services.workflow import fire_action
from tests.conftest import DEMO_PASSWORD


def user(name) -> User:
    return db.session.scalar(db.select(User).where(User.username == name))


def grid_point(area_code="330521001001"):
    grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like(f"{area_code}%"))
                             .order_by(Area.code).limit(1))
    point = shapely.from_wkb(grid.geometry).representative_point()
    return point.x, point.y


def statements_during(app, action):
    """The SQL statements `action()` sends (a SQLAlchemy cursor listener)."""
    from sqlalchemy import event

    seen = []

    def listener(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        result = action()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return result, seen


@pytest.fixture
def orm_only(monkeypatch):
    """Turn the one-statement path off: every report goes through the ORM."""
    monkeypatch.setattr(report_statement, "supported", lambda session: False)


def stored(event_id: int):
    db.session.expire_all()
    event = db.session.get(Event, event_id)
    log = db.session.scalars(db.select(EventLog).where(EventLog.event_id == event_id)).all()
    notices = db.session.scalars(db.select(OutboxMessage).where(
        OutboxMessage.dedupe_key == f"notify:{event_id}:reported")).all()
    return event, log, notices


# Differ by nature (or by the second the report was made); the log head is recorded only by the statement.
VOLATILE = {"id", "number", "client_uuid", "reported_at", "updated_at", "log_seq", "log_hash"}


def comparable(event, log, notices):
    columns = {c.key: getattr(event, c.key) for c in Event.__mapper__.column_attrs if c.key not in VOLATILE}
    rows = [{"seq": r.seq, "action": r.action, "from": r.from_state, "to": r.to_state, "actor": r.actor_id,
             "role": r.actor_role, "comment": r.comment, "data": r.data, "prev": r.prev_hash} for r in log]
    sent = [{"kind": n.kind, "payload": {**n.payload, "event_id": "ID"}, "sent": n.sent_at is not None,
             "attempts": n.attempts, "error": n.last_error} for n in notices]
    return columns, rows, sent


def test_both_paths_store_the_same_rows(app_ctx, backend, monkeypatch):
    worker = user("demo_worker")
    lon, lat = grid_point()
    fields = dict(user=worker, category="0102", description="路边堆放 \"垃圾\" 😀", lon=lon, lat=lat, urgency=2,
                  address="人民路 1 号", accuracy_m=8.5, at=None)
    fast = report_event(client_uuid="same-rows-fast", **fields)
    monkeypatch.setattr(report_statement, "supported", lambda session: False)
    slow = report_event(client_uuid="same-rows-orm", **fields)
    assert fast.created and slow.created
    a, b = stored(fast.event.id), stored(slow.event.id)
    assert comparable(*a) == comparable(*b)
    assert a[0].reported_at == b[0].reported_at or abs((a[0].reported_at - b[0].reported_at).total_seconds()) < 5
    assert len(a[1]) == 1 and len(a[2]) == 1
    assert a[2][0].payload["event_id"] == fast.event.id and b[2][0].payload["event_id"] == slow.event.id
    # The answer's event is what was stored.
    for column in ("number", "grid_code", "village_code", "township_code", "lon", "lat", "workflow", "state", "version"):
        assert getattr(fast.event, column) == getattr(a[0], column)
    assert fast.event.category.name_zh == db.session.get(Category, "0102").name_zh
    assert verify_all()[1] is None


def test_one_statement_per_report_on_postgresql(app_ctx, backend, monkeypatch):
    monkeypatch.setitem(app_ctx.config, "OUTBOX_RELAY_AFTER_COMMIT", False)  # count the report alone
    worker = user("demo_worker")
    lon, lat = grid_point()
    report_event(user=worker, category="0102", description="预热", lon=lon, lat=lat)  # per-engine facts
    result, seen = statements_during(app_ctx, lambda: report_event(
        user=worker, category="0102", description="一条语句", lon=lon, lat=lat, client_uuid="one-statement"))
    assert result.created and result.event.number.endswith("-0002")
    if backend == "postgresql":
        assert len(seen) == 1 and seen[0].startswith("WITH prior AS")
    else:
        assert len(seen) > 1  # the ORM path


def test_the_chain_goes_on_from_a_one_statement_report(app_ctx, backend):
    event = report_event(user=user("demo_worker"), category="0102", description="链", lon=grid_point()[0],
                         lat=grid_point()[1]).event
    fire_action(event.id, "register", user=user("demo_dispatcher"))
    fire_action(event.id, "dispatch", user=user("demo_dispatcher"), inputs={"department": user("demo_handler").department_code})
    db.session.expire_all()
    rows = db.session.scalars(db.select(EventLog).where(EventLog.event_id == event.id).order_by(EventLog.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3] and rows[1].prev_hash == rows[0].hash
    assert verify_all()[1] is None


def test_a_tampered_report_row_is_caught(app_ctx, backend):
    event = report_event(user=user("demo_worker"), category="0102", description="原文", lon=grid_point()[0],
                         lat=grid_point()[1]).event
    db.session.execute(db.update(EventLog).where(EventLog.event_id == event.id).values(comment="改过"))
    db.session.commit()
    broken = verify_all()[1]
    assert broken is not None and broken.event_id == event.id and broken.seq == 1


def test_a_description_quoting_the_sentinel_is_stored_as_written(app_ctx, backend):
    text = f"编号 {report_statement.SENTINEL} 的井盖"
    event = report_event(user=user("demo_worker"), category="0102", description=text, lon=grid_point()[0],
                         lat=grid_point()[1]).event
    db.session.expire_all()
    assert db.session.get(Event, event.id).description == text
    assert db.session.scalar(db.select(EventLog.comment).where(EventLog.event_id == event.id)) == text
    assert verify_all()[1] is None


def test_replays_return_the_stored_event_and_write_nothing(app_ctx, backend):
    worker = user("demo_worker")
    lon, lat = grid_point()
    first = report_event(user=worker, category="0102", description="重试", lon=lon, lat=lat, client_uuid="replay-1")
    again = report_event(user=worker, category="0103", description="重试", lon=lon, lat=lat, client_uuid="replay-1")
    assert first.created and not again.created and again.event.id == first.event.id
    assert db.session.scalar(db.select(DailyCounter.value)) == 1  # the replay took no number
    assert db.session.scalar(db.select(db.func.count()).select_from(OutboxMessage)) == 1


def test_numbers_keep_counting_past_9999(app_ctx, backend):
    worker = user("demo_worker")
    lon, lat = grid_point()
    first = report_event(user=worker, category="0102", description="第一", lon=lon, lat=lat)
    db.session.execute(db.update(DailyCounter).values(value=9999))
    db.session.commit()
    later = report_event(user=worker, category="0102", description="第一万", lon=lon, lat=lat)
    day = first.event.number.split("-")[0]
    assert later.event.number == f"{day}-10000"


def test_likely_duplicates_are_listed_with_the_answer(client, backend):
    token = client.post("/api/v1/auth/token", json={"username": "demo_worker", "password": DEMO_PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    lon, lat = grid_point()
    body = {"category": "0102", "description": "垃圾", "lon": lon, "lat": lat}
    first = client.post("/api/v1/events", json=body, headers=headers).get_json()
    near = client.post("/api/v1/events", json=dict(body, lon=lon + 0.0001), headers=headers).get_json()
    other = client.post("/api/v1/events", json=dict(body, category="0103"), headers=headers).get_json()
    far = client.post("/api/v1/events", json=dict(body, lat=lat + 0.01), headers=headers).get_json()
    assert first["likely_duplicates"] == []
    assert near["likely_duplicates"] == [{"id": first["id"], "number": first["number"], "state": "reported"}]
    assert other["likely_duplicates"] == [] and far["likely_duplicates"] == []


def test_the_answer_is_what_the_response_schema_would_dump(client, backend):
    from gridgov.api.schemas import ReportResponse

    token = client.post("/api/v1/auth/token", json={"username": "demo_worker", "password": DEMO_PASSWORD}).get_json()
    lon, lat = grid_point()
    answer = client.post("/api/v1/events", json={"category": "0102", "description": "形状", "lon": lon, "lat": lat},
                         headers={"Authorization": f"Bearer {token['token']}"})
    assert answer.status_code == 201
    body = answer.get_json()
    assert ReportResponse().dump(body) == body and body["category_name"] and body["version"] == 1


def test_an_inactive_category_is_refused_by_both_paths(client, backend):
    token = client.post("/api/v1/auth/token", json={"username": "demo_worker", "password": DEMO_PASSWORD}).get_json()
    category = db.session.get(Category, "0104")
    category.active = False
    db.session.commit()
    try:
        lon, lat = grid_point()
        answer = client.post("/api/v1/events", json={"category": "0104", "description": "停用", "lon": lon, "lat": lat},
                             headers={"Authorization": f"Bearer {token['token']}"})
        assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "bad_category"
        assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 0
    finally:
        category = db.session.get(Category, "0104")
        category.active = True
        db.session.commit()


def _token(client, username="demo_worker"):
    return client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD}).get_json()["token"]


def test_a_cached_token_is_refused_at_once_after_revoking_it(client, backend):
    token = _token(client)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/events", headers=headers).status_code == 200  # now cached
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert client.get("/api/v1/events", headers=headers).status_code == 401


def test_a_cached_token_of_a_user_deactivated_elsewhere_cannot_report(client, backend):
    if backend != "postgresql":
        pytest.skip("the re-check is part of the PostgreSQL report statement")
    token = _token(client, "demo_worker")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/events", headers=headers).status_code == 200  # now cached
    # Another process deactivates the account (plain SQL: this process's cache does not hear of it).
    db.session.execute(db.text("UPDATE users SET active = false WHERE username = 'demo_worker'"))
    db.session.commit()
    try:
        lon, lat = grid_point()
        answer = client.post("/api/v1/events", json={"category": "0102", "description": "停用", "lon": lon, "lat": lat},
                             headers=headers)
        # The report statement re-checks the account in the same statement.
        assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "account_disabled"
        assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 0
        # The cache was dropped: the next request looks the token up again and is refused.
        assert client.get("/api/v1/events", headers=headers).status_code == 401
    finally:
        db.session.execute(db.text("UPDATE users SET active = true WHERE username = 'demo_worker'"))
        db.session.commit()
        tokens.forget_all()


def test_an_expired_token_is_refused_even_when_cached(client, backend, monkeypatch):
    from datetime import timedelta

    from gridgov.timeutil import utcnow

    token = _token(client)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/events", headers=headers).status_code == 200  # now cached
    ttl = timedelta(hours=client.application.config["API_TOKEN_TTL_HOURS"])
    later = utcnow() + ttl + timedelta(minutes=1)
    monkeypatch.setattr(tokens, "utcnow", lambda: later)  # within the cache's seconds, past the expiry
    assert client.get("/api/v1/events", headers=headers).status_code == 401


def test_a_cached_token_answers_without_a_query(client, backend):
    token = _token(client)
    headers = {"Authorization": f"Bearer {token}"}
    client.get("/api/v1/events?per_page=1", headers=headers)
    db.session.remove()
    _, seen = statements_during(client.application, lambda: client.get("/api/v1/events?per_page=1", headers=headers))
    assert not any("api_tokens" in s for s in seen)


def test_the_statement_stays_within_psycopgs_cache_limits(app_ctx, backend):
    """psycopg keeps the parsed form of a query only up to 4096 bytes and 50 parameters; past either it
    parses the statement again on every report."""
    import re

    from psycopg import _queries

    if backend != "postgresql":
        pytest.skip("the statement is PostgreSQL's")
    sql = report_statement._plan_for(db.engine).sql
    assert len(sql.encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH
    assert len(set(re.findall(r"%\((\w+)\)s", sql))) <= _queries.MAX_CACHED_STATEMENT_PARAMS
