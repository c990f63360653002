"""Profile one report in-process: SQL statements and milliseconds per POST /api/v1/events.

No HTTP server and no concurrency: one Flask app (as a gunicorn worker would build it) on a scratch
PostgreSQL database `gridgov_bench_ingest_profile` with the demo county, the Flask test client posting
N JSON reports with a bearer token, one after another, exactly the bodies bench/ingest.py sends. It
prints the statements each report ran (counted by a SQLAlchemy `before_cursor_execute` listener, with
the first report's statements listed) and the mean milliseconds per report; `--cprofile` adds the
functions that cost most and the profiled time per report by package, with the web framework's
share of the time spent in Python. Compare with a bare Flask route (`bench/bare_ingest.py`) called the same way.

Run: python bench/profile_ingest.py [--reports 1000] [--cprofile] [--relay-after-commit]
     (GRIDGOV_API_FASTPATH=0 posts every report through Flask's dispatch, the view's path.)
     (GRIDGOV_BENCH_PROFILE_DB names the scratch database, so two runs on one server do not collide.)
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import make_bodies, random_points  # noqa: E402
from bench.scratch import ScratchDatabase  # noqa: E402

REDIS_URL = os.environ.get("GRIDGOV_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SCRATCH = ScratchDatabase(os.environ.get("GRIDGOV_BENCH_PROFILE_DB", "gridgov_bench_ingest_profile"))


def build(tmp: Path, relay_after_commit: bool):
    import shapely
    from flask_migrate import upgrade
    from sqlalchemy import event

    from gridgov import create_app
    from gridgov.demo.load import load_demo
    from gridgov.extensions import db
    from gridgov.models import Area, User
    from gridgov.services.tokens import issue_token

    app = create_app({"SQLALCHEMY_DATABASE_URI": SCRATCH.url, "REDIS_URL": REDIS_URL,
                      "RQ_QUEUE": "gridgov-profile-ingest", "INSTANCE_DIR": str(tmp),
                      "UPLOAD_DIR": str(tmp / "uploads"), "SECRET_KEY": "bench",
                      "OUTBOX_RELAY_AFTER_COMMIT": relay_after_commit})
    with app.app_context():
        upgrade()
        load_demo(seed=7, password="bench-pass-123", event_count=0)
        worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
        token, _ = issue_token(worker, 24)
        grids = [shapely.from_wkb(g) for g in
                 db.session.scalars(db.select(Area.geometry).where(Area.level == "grid").order_by(Area.code))]
        points = random_points(grids, 2000)
        db.session.remove()
        engine = db.engine
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, *a):
        statements.append((statement, parameters))

    @contextlib.contextmanager
    def watching():
        """Count statements meanwhile. A watched engine sends the report statement through SQLAlchemy
        (so listeners see it), not straight through the driver: the timed rounds run unwatched."""
        event.listen(engine, "before_cursor_execute", listener)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", listener)

    return app, token, points, watching


def bare_client():
    """The baseline route of bench/ingest.py, called the same way (its own table, one INSERT)."""
    import psycopg

    from bench.bare_ingest import CREATE

    os.environ["BARE_DATABASE_URL"] = SCRATCH.url
    with psycopg.connect(SCRATCH.url, autocommit=True) as conn:
        conn.execute(CREATE)
    from bench.bare_ingest import app as bare_app

    return bare_app.test_client()


def timed(post, bodies) -> tuple[float, float]:
    """(wall, CPU) seconds to post the bodies one after another; any answer but 201 stops the run."""
    cpu_started, started = time.process_time(), time.perf_counter()
    for body in bodies:
        response = post(body)
        if response.status_code != 201:
            raise SystemExit(f"status {response.status_code}: {response.get_data(as_text=True)}")
    return time.perf_counter() - started, time.process_time() - cpu_started


# The web framework around a view. A plain report takes the fast path in front of Flask
# (gridgov/api/report_fastpath.py), so what is left of it is mostly werkzeug's Response and the
# test client's own calls into werkzeug; GRIDGOV_API_FASTPATH=0 profiles the view's path instead.
FRAMEWORK = ("flask", "werkzeug", "flask_login", "flask_smorest", "flask_limiter", "flask_wtf", "flask_sqlalchemy",
             "blinker")


def package_of(filename: str) -> str:
    """The profile's own-time bucket of a function's file."""
    if filename.startswith("~") or filename.startswith("<"):
        return "C functions (builtins)"
    if filename.endswith(("werkzeug/test.py", "flask/testing.py")) or f"{os.sep}bench{os.sep}" in filename:
        return "test client (not the server's work)"
    if filename.endswith("psycopg/connection.py"):
        return "psycopg connection (waiting for PostgreSQL)"
    if "site-packages" in filename:
        return filename.split("site-packages" + os.sep, 1)[1].split(os.sep, 1)[0]
    relative = Path(filename).resolve()
    if relative.is_relative_to(ROOT):
        return "/".join(relative.relative_to(ROOT).parts[:2])
    return "standard library"


def print_by_package(stats: pstats.Stats, reports: int) -> None:
    """Own time per report by package, under the profiler (which inflates Python's share alike)."""
    totals: dict[str, float] = {}
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():
        bucket = package_of(filename)
        totals[bucket] = totals.get(bucket, 0.0) + own
    print("own time per report by package, under the profiler:")
    for bucket, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        if seconds * 1000 / reports >= 0.005:
            print(f"    {seconds * 1000 / reports:7.3f} ms  {bucket}")
    python = sum(seconds for bucket, seconds in totals.items()
                 if not bucket.startswith(("test client", "psycopg connection")))
    framework = sum(totals.get(name, 0.0) for name in FRAMEWORK)
    print(f"web framework ({', '.join(FRAMEWORK)}): {framework * 1000 / reports:.3f} ms of "
          f"{python * 1000 / reports:.3f} ms in Python per report ({framework / python:.0%}), not counting "
          f"the test client and the wait for PostgreSQL")


def explain(statements) -> None:
    """EXPLAIN ANALYZE each statement with its parameters, rolled back."""
    import psycopg

    with psycopg.connect(SCRATCH.url) as conn:
        for statement, parameters in statements:
            print("EXPLAIN", " ".join(statement.split())[:100])
            if isinstance(parameters, dict) and parameters.get("client_uuid"):
                old = parameters["client_uuid"]
                parameters = {k: v.replace(old, old + "-x") if isinstance(v, str) else v for k, v in parameters.items()}
            for (line,) in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters):
                print("   ", line)
            conn.rollback()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--relay-after-commit", action="store_true",
                        help="relay each commit's outbox rows to Redis in the request (no follower)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the last report's statements")
    args = parser.parse_args()

    SCRATCH.recreate()
    try:
        app, token, points, watching = build(Path(tempfile.mkdtemp(prefix="gridgov-profile-")),
                                             args.relay_after_commit)
        headers = {"Authorization": f"Bearer {token}"}
        client = app.test_client()
        warm = make_bodies(points, 200, "w")
        for body in warm:
            client.post("/api/v1/events", data=body, headers=headers, content_type="application/json")
        bodies = make_bodies(points, args.reports, "p")
        with watching() as statements:
            first = client.post("/api/v1/events", data=bodies[0], headers=headers, content_type="application/json")
            assert first.status_code == 201, first.get_data(as_text=True)
            first_statements = [s for s, _ in statements]
            statements.clear()
            # Statements per report over a sample of the same kind of reports (duplicates come and go).
            counted = make_bodies(points, min(200, args.reports), "c")
            for body in counted:
                client.post("/api/v1/events", data=body, headers=headers, content_type="application/json")
            per_report = len(statements) / len(counted)
            last_statements = statements[-3:]
        bare = bare_client()

        def post_app(body):
            return client.post("/api/v1/events", data=body, headers=headers, content_type="application/json")

        def post_bare(body):
            return bare.post("/bare", data=body, content_type="application/json")

        timed(post_bare, make_bodies(points, 100, "bw"))
        # Interleaved rounds, so a busy moment on the shared machine weighs on both; medians reported.
        rounds = args.rounds
        chunk = max(1, (len(bodies) - 1) // rounds)
        app_runs, bare_runs = [], []
        profiler = cProfile.Profile() if args.cprofile else None
        for r in range(rounds):
            part = bodies[1 + r * chunk: 1 + (r + 1) * chunk]
            if profiler:
                profiler.enable()
            app_runs.append(timed(post_app, part))
            if profiler:
                profiler.disable()
            bare_runs.append(timed(post_bare, [b.replace(b'"p-', b'"pb-') for b in part]))

        def median_ms(runs, i):
            return sorted(run[i] for run in runs)[len(runs) // 2] / chunk * 1000

        n = chunk * rounds
        app_wall, app_cpu, bare_wall, bare_cpu = (median_ms(app_runs, 0), median_ms(app_runs, 1),
                                                  median_ms(bare_runs, 0), median_ms(bare_runs, 1))
        print(f"reports: {n} in {rounds} rounds; median per report in-process: app {app_wall:.2f} ms wall, "
              f"{app_cpu:.2f} ms CPU; bare {bare_wall:.2f} ms wall, {bare_cpu:.2f} ms CPU; "
              f"CPU ratio app/bare {app_cpu / bare_cpu:.2f}")
        print(f"SQL statements per report: {per_report:.2f} "
              f"(relay after commit: {'on' if args.relay_after_commit else 'off'})")
        print("statements of one report:")
        for s in first_statements:
            print("   ", " ".join(s.split())[:160])
        print("answer:", json.dumps(first.get_json(), ensure_ascii=False)[:300])
        from gridgov.services import report_statement
        for plan in report_statement._plans.values():
            print(f"report statement: {len(plan.sql)} characters")
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
            print_by_package(pstats.Stats(profiler), n)
        if args.explain:
            explain(last_statements)
        with app.app_context():
            from gridgov.extensions import db
            for row in db.session.execute(db.text(
                    "SELECT left(regexp_replace(statement, '\\s+', ' ', 'g'), 60), generic_plans, custom_plans "
                    "FROM pg_prepared_statements")):
                print("prepared:", tuple(row))
            db.session.rollback()
        with app.app_context():
            from gridgov.extensions import db
            db.session.remove()
            db.engine.dispose()
    finally:
        SCRATCH.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
