"""Shared helpers for the background-job tests: demo facts, event rows, an rq-mode app per test."""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from gridgov.extensions import db
from gridgov.models import Event, User
from tests.conftest import build_app

ROOT = Path(__file__).resolve().parents[3]
_numbers = itertools.count(1)
# One queue-name prefix per test session: parallel runs and CI never share rq keys.
SESSION_QUEUE = f"gridgov-test-{uuid.uuid4().hex[:10]}"


@dataclass
class Demo:
    worker: User
    dispatcher: User
    handler: User
    admin: User

    @property
    def township(self) -> str:
        return self.dispatcher.area_code


def demo_users() -> Demo:
    by_name = {u.username: u for u in db.session.scalars(select(User).where(User.username.like("demo_%")))}
    return Demo(by_name["demo_worker"], by_name["demo_dispatcher"], by_name["demo_handler"], by_name["demo_admin"])


def event_values(demo: Demo, **overrides) -> dict:
    """Column values for one event reported by demo_worker in its village, held by the CG department."""
    village = demo.worker.area_code
    values = dict(
        number=f"T{os.getpid()}-{next(_numbers):07d}", category_code="0102", description="暴露垃圾",
        lon=120.05, lat=30.62, county_code=village[:6], township_code=village[:9], village_code=village,
        grid_code=village + "001", reporter_id=demo.worker.id, state="reported", version=1,
        department_code=demo.handler.department_code, deadline=None, deadline_level=0, urgency=1,
        source="grid_worker", orig_crs="wgs84", address="", workflow="default", paused_seconds=0,
        rework_count=0, supervision_level=0, extension_pending=False, verified=False, self_resolved=False,
        reported_at=datetime(2026, 11, 20, 8, 0), updated_at=datetime(2026, 11, 20, 8, 0),
    )
    values.update(overrides)
    return values


def add_event(demo: Demo, **overrides) -> Event:
    event = Event(**event_values(demo, **overrides))
    db.session.add(event)
    return event


def queue_name(tag: str) -> str:
    return f"{SESSION_QUEUE}-{tag}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def rq_app(app_ctx, redis_url, tmp_path):
    """A second app on the same database, in rq mode on a queue of its own; its keys are removed after."""
    import redis

    name = queue_name("q")
    application = build_app(app_ctx.config["SQLALCHEMY_DATABASE_URI"], tmp_path, REDIS_URL=redis_url,
                            RQ_QUEUE=name, JOB_RETRY_INTERVALS=[0], JOB_RETRY_MAX=3)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    conn = redis.Redis.from_url(redis_url)
    keys = list(conn.scan_iter(match=f"*{name}*", count=1000))
    if keys:
        conn.delete(*keys)


def worker_env(application, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDGOV_TEST_PAUSE")}
    env.update({
        "DATABASE_URL": application.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": application.config["REDIS_URL"],
        "GRIDGOV_RQ_QUEUE": application.config["RQ_QUEUE"],
        "GRIDGOV_INSTANCE_DIR": application.config["INSTANCE_DIR"],
        "GRIDGOV_JOB_RETRY_INTERVALS": "0",
    })
    env.update(extra)
    return env


def start_worker(application, *, burst: bool, **extra_env) -> subprocess.Popen:
    """A real `flask --app wsgi jobs worker` process, in its own process group (so kill -9 takes the horse too)."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker"] + (["--burst"] if burst else [])
    return subprocess.Popen(command, cwd=ROOT, env=worker_env(application, **extra_env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


