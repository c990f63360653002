"""bench/profile_ingest.py sorts profiled time into packages; the README quotes the framework's share."""
from __future__ import annotations

import cProfile
import re
import pstats
from pathlib import Path

import flask
import psycopg
import sqlalchemy
import werkzeug.test

from bench.profile_ingest import package_of, print_by_package

ROOT = Path(__file__).resolve().parents[2]


def test_files_fall_into_their_buckets():
    assert package_of(flask.__file__) == "flask"
    assert package_of(sqlalchemy.__file__) == "sqlalchemy"
    assert package_of(werkzeug.test.__file__) == "test client (not the server's work)"
    assert package_of(str(Path(psycopg.__file__).parent / "connection.py")) == \
        "psycopg connection (waiting for PostgreSQL)"
    assert package_of(str(ROOT / "gridgov" / "services" / "reporting.py")) == "gridgov/services"
    assert package_of(str(ROOT / "bench" / "ingest.py")) == "test client (not the server's work)"
    assert package_of("~") == "C functions (builtins)"
    assert package_of(pstats.__file__) == "standard library"


def test_a_profiled_request_shows_the_framework_share(capsys):
    app = flask.Flask(__name__)

    @app.post("/r")
    def report():
        return {"ok": True}, 201

    client = app.test_client()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(20):
        assert client.post("/r", json={"a": 1}).status_code == 201
    profiler.disable()
    print_by_package(pstats.Stats(profiler), 20)
    out = capsys.readouterr().out
    assert "ms  flask\n" in out and "ms  test client (not the server's work)\n" in out
    share = re.search(r"ms in Python per report \((\d+)%\)", out)
    assert share is not None and int(share.group(1)) > 30  # most of it, around a view that does nothing
