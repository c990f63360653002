"""Reports sent while the database is busy are committed together, and each still gets its own answer.

PostgreSQL only: the report statement, and so group commit, is PostgreSQL's (on SQLite every report
takes the ORM path, one transaction each). Each test makes the database busy on purpose, by holding a
lock the first report needs from a connection of its own, so that the reports after it queue up in
the process and go as one group when it returns; then it checks what each caller got and what was
stored.
"""

import logging
import threading

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from gridgov.extensions import db
from gridgov.models import DailyCounter, Event
from gridgov.services import group_commit, report_statement
from gridgov.services.audit import verify_all
from gridgov.services.reporting import report_event
from tests.conftest import wipe_event_data
from tests.helpers.waiting import wait_for
from tests.integration.test_api_events import a_point, auth


# Group commit sends the report statement, which is PostgreSQL's.
pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture
def pg(app_ctx, monkeypatch):
    # A report joins its session's transaction when one is open, and the per-process caches open one
    # when they load (the geofence, the county, the areas' version every 2 s, a token every 5 s): one
    # report warms them all, then the tests start from no events, and nothing is read again meanwhile
    # however slow the machine.
    monkeypatch.setitem(app_ctx.config, "AREA_VERSION_TTL_SECONDS", 3600)
    monkeypatch.setitem(app_ctx.config, "API_TOKEN_CACHE_SECONDS", 3600)
    client = app_ctx.test_client()
    assert client.post("/api/v1/events", json=a_body("预热"), headers=auth(client)).status_code == 201
    wipe_event_data()
    return app_ctx


def admin_connection(app, autocommit: bool = False):
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=autocommit)


def the_group(app) -> group_commit.StatementGroup:
    return group_commit.group_for(db.engine, report_statement._plan_for(db.engine).sql)


def in_threads(app, calls):
    """Start each call in a thread of its own (an app context each); return the threads and a results
    list filled in as they end (value or exception, in the calls' order)."""
    results = [None] * len(calls)

    def run(i, call):
        with app.app_context():
            try:
                results[i] = call()
            except Exception as exc:  # noqa: BLE001 - handed to the test to assert on
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    return threads, results


def hold_the_counter(app):
    """A connection holding the day's counter table: the next report waits in the database."""
    holder = admin_connection(app)
    holder.execute("LOCK TABLE daily_counters IN EXCLUSIVE MODE")
    return holder


def first_blocked_then_queued(app, first, rest):
    """Run `first` until it waits on the counter at the database, queue `rest` behind it in the
    process, then let the database go on. Returns the results of all, in order."""
    group = the_group(app)
    holder = hold_the_counter(app)
    threads, results = in_threads(app, [first] + rest)
    try:
        threads[0].start()
        wait_for(lambda: group._sending, 10, "the first report to reach the database", interval=0.01)
        for thread in threads[1:]:
            thread.start()
        wait_for(lambda: len(group._line) == len(rest), 10, "the other reports to queue", interval=0.01)
    finally:
        holder.rollback()
        holder.close()
    join_all(threads)
    return results


def join_all(threads) -> None:
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a report did not finish within 30 s"


def warm_token(app) -> str:
    """A bearer token the process has already looked up once: a report with a cached token finds its
    session without a transaction (a first lookup opens one, which the report then joins, alone)."""
    client = app.test_client()
    headers = auth(client)
    assert client.get("/api/v1/events", headers=headers).status_code == 200
    return headers["Authorization"].split()[1]


def post(app, token, body, key=None):
    def call():
        headers = {"Authorization": f"Bearer {token}"} | ({"Idempotency-Key": key} if key else {})
        response = app.test_client().post("/api/v1/events", json=body, headers=headers)
        return response.status_code, response.get_json()
    return call


def a_body(description, category="0102"):
    _, lon, lat = a_point()
    return {"category": category, "description": description, "lon": lon, "lat": lat}


def assert_chains_intact():
    checked, broken = verify_all()
    assert checked > 0 and broken is None


def test_reports_queued_behind_a_busy_database_are_committed_as_one_group(pg):
    token = warm_token(pg)
    before = dict(the_group(pg).sizes)
    bodies = [a_body(f"第 {i} 份") for i in range(5)]
    results = first_blocked_then_queued(pg, post(pg, token, bodies[0]), [post(pg, token, b) for b in bodies[1:]])

    assert the_group(pg).sizes[4] == before.get(4, 0) + 1  # the four queued went together
    assert [status for status, _ in results] == [201] * 5
    answers = [body for _, body in results]
    # Each caller got its own report back, numbered in the order the database took them.
    assert [a["description"] for a in answers] == [b["description"] for b in bodies]
    assert len({a["id"] for a in answers}) == 5
    suffixes = sorted(int(a["number"][-4:]) for a in answers)
    assert suffixes == list(range(1, 6))
    assert db.session.scalar(db.select(DailyCounter.value)) == 5
    assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 5
    # Bound in the client as literals, the values are stored exactly as a lone report's are.
    for answer, body in zip(answers, bodies):
        stored = db.session.get(Event, answer["id"])
        assert (stored.lon, stored.lat) == (body["lon"], body["lat"]) == (answer["lon"], answer["lat"])
        assert stored.number == answer["number"] and stored.grid_code == answer["grid"]
        assert stored.reported_at.isoformat() + "+00:00" == answer["reported_at"]
    assert_chains_intact()


def test_a_replay_in_the_same_group_finds_the_report_before_it(pg):
    token = warm_token(pg)
    body = a_body("同一份上报，两次发送")
    results = first_blocked_then_queued(pg, post(pg, token, a_body("先到的")),
                                        [post(pg, token, body, key="twice-1"), post(pg, token, body, key="twice-1")])

    # Whichever of the two joined the line first wrote the report; the other found it.
    assert results[0][0] == 201 and sorted(status for status, _ in results[1:]) == [200, 201]
    first, replay = sorted((body for _, body in results[1:]), key=lambda body: body["replay"])
    assert replay["replay"] is True and replay["id"] == first["id"] and replay["number"] == first["number"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 2
    assert db.session.scalar(db.select(DailyCounter.value)) == 2  # no number spent on the replay


@pytest.fixture
def refuse_description(pg):
    """A trigger that makes the database refuse one report's row, as a constraint would."""
    holder = admin_connection(pg)
    holder.execute("""
        CREATE FUNCTION test_refuse_report() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.description = '请拒绝我' THEN RAISE EXCEPTION 'refused by the test'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_refuse_report BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION test_refuse_report();
    """)
    holder.commit()
    yield "请拒绝我"
    db.session.remove()  # the test's reads hold a lock on events until their transaction ends
    holder.execute("DROP TRIGGER test_refuse_report ON events; DROP FUNCTION test_refuse_report()")
    holder.commit()
    holder.close()


def service_report(user_id, description, category="0102", client_uuid=None):
    def call():
        from gridgov.models import User

        user = db.session.get(User, user_id)
        _, lon, lat = a_point()
        db.session.expunge(user)  # loaded, and kept so: the commit below must not expire it
        db.session.commit()  # the report finds its session without a transaction, as a request does
        return report_event(user=user, category=category, description=description, lon=lon, lat=lat,
                            client_uuid=client_uuid).row
    return call


def demo_worker_id():
    from gridgov.models import User

    user_id = db.session.scalar(db.select(User.id).where(User.username == "demo_worker"))
    db.session.commit()
    return user_id


def test_a_refused_report_in_a_group_costs_the_others_only_a_retry(pg, refuse_description):
    worker = demo_worker_id()
    before = dict(the_group(pg).sizes)
    results = first_blocked_then_queued(pg, service_report(worker, "先到的"), [
        service_report(worker, "前一份"), service_report(worker, refuse_description), service_report(worker, "后一份")])

    assert the_group(pg).sizes[3] == before.get(3, 0) + 1, (before, the_group(pg).sizes, results)
    assert isinstance(results[2], DBAPIError) and "refused by the test" in str(results[2]), results
    assert [getattr(r, "description", r) for i, r in enumerate(results) if i != 2] == ["先到的", "前一份", "后一份"]
    stored = db.session.scalars(db.select(Event.description).order_by(Event.number)).all()
    # Nothing of the refused one. The two others are numbered in the order they joined the line,
    # which is the order their threads got there, not the order they were started.
    assert stored[0] == "先到的" and sorted(stored[1:]) == sorted(["前一份", "后一份"]), stored
    numbers = db.session.scalars(db.select(Event.number).order_by(Event.number)).all()
    assert [int(n[-4:]) for n in numbers] == [1, 2, 3]  # the group's rolled-back numbers were given again
    assert_chains_intact()


def test_a_connection_lost_mid_group_writes_no_report_twice(pg):
    """The group's backend is ended while it waits, so the client cannot know whether the group was
    committed. Reports with a client UUID are sent again alone (written once, or found as replays);
    the one without gets the error, as it would have alone, and is not written behind its back."""
    worker = demo_worker_id()
    group = the_group(pg)
    counter = hold_the_counter(pg)
    threads, results = in_threads(pg, [service_report(worker, "先到的", category="0101")]
                                  + [service_report(worker, "有标识 0", client_uuid="lost-0"),
                                     service_report(worker, "无标识"),
                                     service_report(worker, "有标识 1", client_uuid="lost-1")])
    category = admin_connection(pg)  # the group's reports (category 0102) will wait on this row
    category.execute("SELECT 1 FROM categories WHERE code = '0102' FOR UPDATE")
    try:
        threads[0].start()
        wait_for(lambda: group._sending, 10, "the first report to reach the database", interval=0.01)
        for thread in threads[1:]:
            thread.start()
        wait_for(lambda: len(group._line) == 3, 10, "the other reports to queue", interval=0.01)
        counter.rollback()
        threads[0].join(30)
        # Autocommit: within one transaction pg_stat_activity answers from the snapshot it took first.
        with admin_connection(pg, autocommit=True) as watcher:
            def group_backend():
                return watcher.execute(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'EXECUTE gridgov_group_%'"
                ).fetchone()
            pid = wait_for(group_backend, 10, "the group to wait on the category row", interval=0.01)
            watcher.execute("SELECT pg_terminate_backend(%s)", pid)
    finally:
        category.rollback()
        category.close()
        counter.close()
    join_all(threads)

    assert isinstance(results[2], OperationalError), results[2]  # answered 503 + Retry-After by the API
    assert [results[i].description for i in (0, 1, 3)] == ["先到的", "有标识 0", "有标识 1"]
    stored = db.session.scalars(db.select(Event.description).order_by(Event.number)).all()
    assert sorted(stored) == sorted(["先到的", "有标识 0", "有标识 1"])
    assert db.session.scalar(db.select(DailyCounter.value)) == 3
    assert_chains_intact()


def test_a_lone_report_goes_at_once_as_its_own_transaction(pg):
    token = warm_token(pg)
    before = dict(the_group(pg).sizes)
    status, body = post(pg, token, a_body("独自一份"))()
    assert status == 201 and body["number"].endswith("0001")
    assert the_group(pg).sizes[1] == before.get(1, 0) + 1
    assert sum(the_group(pg).sizes.values()) == sum(before.values()) + 1


def test_group_commit_can_be_turned_off(pg, monkeypatch):
    token = warm_token(pg)
    monkeypatch.setitem(pg.config, "REPORT_GROUP_COMMIT", False)
    before = dict(the_group(pg).sizes)
    assert post(pg, token, a_body("不成组"))()[0] == 201
    assert dict(the_group(pg).sizes) == before


def test_a_group_whose_prepared_statement_was_dropped_prepares_it_again(pg):
    """psycopg sends DEALLOCATE ALL on a connection where it sees a ROLLBACK, DROP or ALTER, which drops
    the group's statement too: the group prepares it again and still goes together (it went one by one,
    and the lost-connection test above then failed now and then in the full suite)."""
    token = warm_token(pg)
    first_blocked_then_queued(pg, post(pg, token, a_body("准备")), [post(pg, token, a_body("准备 2")),
                                                                  post(pg, token, a_body("准备 3"))])
    pool = db.engine.pool
    held = [db.engine.raw_connection() for _ in range(pool.checkedin())]
    assert any(the_group(pg).name in c.info.get(group_commit._PREPARED, ()) for c in held)
    for connection in held:
        connection.driver_connection.execute("DEALLOCATE ALL")
        connection.driver_connection.commit()
        connection.close()
    before = dict(the_group(pg).sizes)
    logger = logging.getLogger(group_commit.__name__)  # the app's logging config may not propagate it
    heard: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: heard.append(record.getMessage())
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    disabled, logger.disabled = logger.disabled, False  # dictConfig disables loggers it does not name
    try:
        results = first_blocked_then_queued(pg, post(pg, token, a_body("之后")),
                                            [post(pg, token, a_body(f"之后 {i}")) for i in range(3)])
    finally:
        logger.removeHandler(handler)
        logger.level, logger.disabled = level, disabled
    assert [status for status, _ in results] == [201] * 4
    assert the_group(pg).sizes[3] == before.get(3, 0) + 1
    assert not [m for m in heard if "sending each alone" in m], heard

