"""A request whose database goes away answers 503 with Retry-After — also when the error page itself
would need the database to find the user's language (the soak run's PostgreSQL restart caught both)."""
from __future__ import annotations

import psycopg
import pytest
from flask_login import current_user

from gridgov.extensions import db
from gridgov.models import User
from gridgov.services.tokens import issue_token
from tests.conftest import build_app, create_pg_database, drop_pg_database, pg_admin_url, upgrade_schema

pytestmark = pytest.mark.postgres


def _assert_503(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"]["code"] == "database_unavailable"


def test_bearer_request_while_database_unreachable_answers_503(tmp_path):
    """The token lookup fails; the 503 page must not look the user up again for its language."""
    broken = build_app("postgresql://postgres@127.0.0.1:1/nowhere", tmp_path)  # nothing listens on port 1
    client = broken.test_client()
    for path in ("/api/v1/events", "/api/v1/stats?group_by=township"):
        _assert_503(client.get(path, headers={"Authorization": "Bearer some-token"}))
    with broken.app_context():
        db.engine.dispose()


@pytest.fixture()
def pg_app(tmp_path):
    url = create_pg_database("gridgov_outage")
    app = build_app(url, tmp_path)
    upgrade_schema(app)
    with app.app_context():
        from gridgov.demo.load import load_demo

        load_demo(seed=3, password="demo-pass-123", event_count=0)
        worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
        token, _ = issue_token(worker, 1)
        db.session.remove()
    yield app, url, token
    with app.app_context():
        db.engine.dispose()
    drop_pg_database(url)


def test_connection_cut_after_the_user_loaded_answers_503(pg_app):
    """As in `pg_ctl restart -m fast`: the user is loaded, then the server cuts every connection and
    refuses new ones. The handler's rollback expires the user; reading its language must not 500."""
    app, url, token = pg_app
    name = url.rpartition("/")[2]

    @app.before_request
    def _restart_database_now():
        assert current_user.is_authenticated  # the bearer token was looked up on the old connection
        with psycopg.connect(pg_admin_url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    try:
        _assert_503(app.test_client().get("/api/v1/events", headers={"Authorization": f"Bearer {token}"}))
    finally:
        with psycopg.connect(pg_admin_url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def test_connection_cut_after_the_answer_was_made_still_answers(pg_app):
    """The restart cuts the connection after the view answered: the session's closing ROLLBACK fails
    at teardown. That must not turn the finished request into a 500 (nor break the next one)."""
    app, url, token = pg_app
    name = url.rpartition("/")[2]
    cut = {"done": False}

    @app.after_request
    def _restart_database_now(response):
        if not cut["done"]:
            cut["done"] = True
            with psycopg.connect(pg_admin_url(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        return response

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    first = client.get("/api/v1/events", headers=headers)
    assert first.status_code == 200 and first.get_json()["total"] == 0
    assert client.get("/api/v1/events", headers=headers).status_code == 200  # a fresh connection


def test_an_action_on_a_cut_connection_writes_nothing_and_the_next_one_reconnects(pg_app):
    """An action fired on plain rows (statements sent through the driver, driver_sql.py) on a pooled
    connection the server has cut: SQLAlchemy's OperationalError marked as an invalidated connection
    (what the 503 handler looks for), nothing written, and the pool starts afresh for the next action."""
    import shapely
    from sqlalchemy.exc import OperationalError

    from gridgov.models import Area, Event, EventLog
    from gridgov.services.reporting import report_event
    from gridgov.services.workflow import fire_action

    app, url, _ = pg_app
    name = url.rpartition("/")[2]
    with app.app_context():
        worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
        dispatcher = db.session.scalar(db.select(User).where(User.username == "demo_dispatcher"))
        dispatcher_id = dispatcher.id
        grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like(f"{worker.area_code}%")))
        point = shapely.from_wkb(grid.geometry).representative_point()
        event_id = report_event(user=worker, category="0102", description="路边垃圾", lon=point.x, lat=point.y,
                                client_uuid="cut-1").event.id
        db.session.commit()  # the pooled connection goes back, alive for now
        with psycopg.connect(pg_admin_url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        with pytest.raises(OperationalError) as caught:
            fire_action(event_id, "register", user=dispatcher)
        assert caught.value.connection_invalidated
        db.session.remove()
        assert db.session.get(Event, event_id).version == 1
        assert db.session.scalar(db.select(db.func.count()).select_from(EventLog)
                                 .where(EventLog.event_id == event_id)) == 1
        dispatcher = db.session.get(User, dispatcher_id)
        assert fire_action(event_id, "register", user=dispatcher).state == "registered"


def test_action_and_report_while_the_database_refuses_connections_answer_503(pg_app):
    """As during `pg_ctl restart`: no connection to be had at all. An action and a report take their
    connection straight from the pool (driver_sql.py); the failed connect must be SQLAlchemy's error,
    which is answered 503 with Retry-After, not the driver's (a 500: the soak run's restart caught it)."""
    import shapely
    from sqlalchemy.exc import OperationalError

    from gridgov.models import Area, Event
    from gridgov.services.reference_rows import commit_keeping_loaded
    from gridgov.services.reporting import report_event
    from gridgov.services.workflow import fire_action

    app, url, token = pg_app
    name = url.rpartition("/")[2]
    with app.app_context():
        worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
        dispatcher = db.session.scalar(db.select(User).where(User.username == "demo_dispatcher"))
        grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like(f"{worker.area_code}%")))
        point = shapely.from_wkb(grid.geometry).representative_point()
        event_id = report_event(user=worker, category="0102", description="路边垃圾", lon=point.x, lat=point.y,
                                client_uuid="refused-1").event.id
        commit_keeping_loaded()  # the users stay loaded; no transaction holds a connection
        refuse = f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'
        with psycopg.connect(pg_admin_url(), autocommit=True) as admin:
            admin.execute(refuse)
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        db.engine.dispose()  # no pooled connection left: the action must connect, and is refused
        try:
            with pytest.raises(OperationalError) as caught:
                fire_action(event_id, "register", user=dispatcher)
            assert "accepting connections" in str(caught.value.orig)
            db.session.remove()

            @app.before_request
            def _refuse_connections_now():
                assert current_user.is_authenticated
                with psycopg.connect(pg_admin_url(), autocommit=True) as admin:
                    admin.execute(refuse)
                    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                                  (name,))

            with psycopg.connect(pg_admin_url(), autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')  # for the token lookup
            body = {"category": "0102", "description": "路边垃圾", "lon": point.x, "lat": point.y,
                    "client_uuid": "refused-2"}
            app.config["API_FASTPATH"] = False  # the view's path: the hook above runs before it
            _assert_503(app.test_client().post("/api/v1/events", json=body,
                                               headers={"Authorization": f"Bearer {token}"}))
        finally:
            with psycopg.connect(pg_admin_url(), autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        db.session.remove()
        assert db.session.get(Event, event_id).state == "reported"
        assert db.session.scalar(db.select(db.func.count()).select_from(Event)
                                 .where(Event.client_uuid == "refused-2")) == 0


def test_a_fast_path_report_while_the_database_refuses_connections_answers_503(pg_app):
    """The report fast path (gridgov/api/report_fastpath.py), its token answered from this process's
    cache, meets a database that refuses connections: Flask's handlers answer its error, 503 with
    Retry-After, and nothing is written."""
    import shapely

    from gridgov.models import Area, Event

    app, url, token = pg_app
    name = url.rpartition("/")[2]
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert client.get("/api/v1/events", headers=headers).status_code == 200  # the token is cached now
    with app.app_context():
        grid = db.session.scalar(db.select(Area).where(Area.level == "grid").order_by(Area.code).limit(1))
        point = shapely.from_wkb(grid.geometry).representative_point()
        db.session.remove()
        db.engine.dispose()
    body = {"category": "0102", "description": "路边垃圾", "lon": point.x, "lat": point.y, "client_uuid": "refused-3"}
    try:
        with psycopg.connect(pg_admin_url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        from flask import request, request_started
        from sqlalchemy.exc import OperationalError

        from gridgov.api.report_fastpath import REFUSAL

        seen = []

        def note(sender, **extra):
            seen.append(request.environ)

        request_started.connect(note, app)
        try:
            _assert_503(client.post("/api/v1/events", json=body, headers=headers))
        finally:
            request_started.disconnect(note, app)
        # The fast path met the error and handed it to Flask's handlers (not the view, on a retry).
        assert len(seen) == 1 and isinstance(seen[0].get(REFUSAL), OperationalError)
    finally:
        with psycopg.connect(pg_admin_url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    answer = client.post("/api/v1/events", json=body, headers=headers)  # the phone retries: stored once
    assert answer.status_code == 201, answer.get_json()
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Event)
                                 .where(Event.client_uuid == "refused-3")) == 1
