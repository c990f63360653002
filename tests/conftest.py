"""Test fixtures: every database test runs on SQLite and on real PostgreSQL.

PostgreSQL comes from GRIDGOV_TEST_PG_URL (CI sets it; default: the local server on 127.0.0.1).
Each test session creates its own fresh databases and drops them at the end, so parallel runs
and CI never share state. Redis comes from GRIDGOV_TEST_REDIS_URL in the same way.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
BACKENDS = ("sqlite", "postgresql")


def pg_admin_url() -> str:
    return os.environ.get("GRIDGOV_TEST_PG_URL", DEFAULT_PG_URL)


def _pg_reachable(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # report why, then skip or fail
        return f"{type(exc).__name__}: {exc}"


def create_pg_database(prefix: str = "gridgov_test") -> str:
    import psycopg

    admin = pg_admin_url()
    problem = _pg_reachable(admin)
    if problem:
        if os.environ.get("CI") or os.environ.get("GRIDGOV_TEST_PG_URL"):
            pytest.fail(f"PostgreSQL at {admin} is required but not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable ({problem})")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    return f"{base}/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    url = os.environ.get("GRIDGOV_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") or os.environ.get("GRIDGOV_TEST_REDIS_URL"):
            pytest.fail(f"Redis at {url} is required but not reachable: {exc}")
        pytest.skip(f"Redis not reachable ({exc})")
    return url


def make_database(backend: str, tmp_dir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / 'gridgov.sqlite3'}"
    return create_pg_database()


def build_app(database_url: str, tmp_dir: Path, **extra):
    from gridgov import create_app

    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "INSTANCE_DIR": str(tmp_dir),
        "UPLOAD_DIR": str(tmp_dir / "uploads"),
        "REDIS_URL": None,
        "LOGIN_RATE_LIMIT": "100000 per minute",  # tests log in far more often than people
        # The limiter is one object per process; several test apps must not hand it their Redis.
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    config.update(extra)
    return create_app(config)


def upgrade_schema(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def app(backend, tmp_path_factory):
    """An app on a migrated database holding the demo county (no events); one per backend."""
    tmp_dir = tmp_path_factory.mktemp(f"app-{backend}")
    url = make_database(backend, tmp_dir)
    application = build_app(url, tmp_dir)
    upgrade_schema(application)
    with application.app_context():
        from gridgov.demo.load import load_demo

        load_demo(seed=7, password="demo-pass-123", event_count=0)
    yield application
    with application.app_context():
        from gridgov.extensions import db

        db.session.remove()
        db.engine.dispose()
    if backend == "postgresql":
        drop_pg_database(url)


EVENT_TABLES = ("stats_month_cache", "notifications", "outbox", "extensions", "supervisions", "event_log", "photos", "tasks")


def wipe_event_data() -> None:
    """Delete every event and what hangs off it, tokens and counters (areas, users, catalog stay)."""
    from gridgov.extensions import db
    from sqlalchemy import text

    db.session.rollback()
    for table in EVENT_TABLES:
        db.session.execute(text(f"DELETE FROM {table}"))
    db.session.execute(text("UPDATE events SET duplicate_of = NULL"))
    db.session.execute(text("DELETE FROM events"))
    db.session.execute(text("DELETE FROM api_tokens"))
    db.session.execute(text("DELETE FROM daily_counters"))
    db.session.commit()
    db.session.remove()


@pytest.fixture
def app_ctx(app):
    """An app context whose event data is wiped afterwards (areas, users, catalog stay)."""
    with app.app_context():
        yield app
        wipe_event_data()


@pytest.fixture
def client(app_ctx):
    return app_ctx.test_client()


DEMO_PASSWORD = "demo-pass-123"


def login(client, username: str, password: str = DEMO_PASSWORD):
    return client.post("/login", data={"username": username, "password": password})
