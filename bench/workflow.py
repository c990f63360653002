"""Benchmark: 10,000 workflow actions through the service on PostgreSQL vs bare UPDATE + INSERT.

In one run, on a scratch database `gridgov_bench_workflow` (the app's migrations, the demo county):
  service  2,000 reported events × 5 actions (register, dispatch, accept, return, redispatch) fired with
           gridgov.services.workflow.fire_action: engine check, effects, hash-chained log row, outbox
           rows, written atomically (one read and one data-modifying statement on PostgreSQL) — as deployed (REDIS_URL, a `jobs relay --follow` process
           relaying the outbox to real Redis as commits NOTIFY it); for comparison also with each
           commit relaying its own rows (no follower), and with the relay deferred altogether;
  bare     the same number of transactions (interleaved in 10 rounds with the deployed service path),
           each one `UPDATE events SET state…, version = version + 1
           WHERE id = … AND version = …` and one `INSERT INTO event_log …`.
Target: the service's cost per action (as deployed) ≤ 2× the bare SQL's. Also reports the memory of 100,000 events
loaded and ready for the workflow engine, measured in a subprocess each: as ORM objects (what pages use)
and as the plain rows actions are fired on.

Run: python bench/workflow.py [--events 2000]   (GRIDGOV_BENCH_PG_URL overrides the admin URL)
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.deployed import niced_as  # noqa: E402
from bench.scratch import ScratchDatabase  # noqa: E402
from bench.table import table_row  # noqa: E402

ADMIN_URL = os.environ.get("GRIDGOV_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("GRIDGOV_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
DB_NAME = "gridgov_bench_workflow"
TARGET_RATIO = 2.0
ROUNDS = 10
PATH = [("register", {}), ("dispatch", {"department": "330521-CG"}), ("accept", {}),
        ("return", {"reason": "非本部门职责"}), ("redispatch", {"department": "330521-SW"})]


SCRATCH = ScratchDatabase(DB_NAME, ADMIN_URL)


def make_app(redis_url):
    import tempfile

    from gridgov import create_app

    tmp = Path(tempfile.mkdtemp(prefix="gridgov-bench-"))
    return create_app({"SQLALCHEMY_DATABASE_URI": SCRATCH.url, "REDIS_URL": redis_url, "INSTANCE_DIR": str(tmp),
                       "UPLOAD_DIR": str(tmp / "uploads"), "SECRET_KEY": "bench", "RQ_QUEUE": "gridgov-bench-wf"})


def seed_events(app, count: int, prefix: str) -> list[int]:
    """Reported events inserted in bulk (not timed); each gets its first log row through the service path."""
    import shapely

    from gridgov.extensions import db
    from gridgov.models import Area, User
    from gridgov.services.reporting import report_event

    with app.app_context():
        worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
        grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like(f"{worker.area_code}%"))
                                 .limit(1))
        point = shapely.from_wkb(grid.geometry).representative_point()
        ids = [report_event(user=worker, category="0102", description="bench", lon=point.x, lat=point.y,
                            client_uuid=f"{prefix}-{i}").event.id for i in range(count)]
        db.session.remove()
        return ids


def run_service(app, ids: list[int]) -> float:
    from gridgov.extensions import db
    from gridgov.models import User
    from gridgov.services.workflow import fire_action

    with app.app_context():
        dispatcher = db.session.scalar(db.select(User).where(User.username == "demo_dispatcher"))
        handler = db.session.scalar(db.select(User).where(User.username == "demo_handler"))
        swater = None
        started = time.perf_counter()
        for event_id in ids:
            for action, inputs in PATH:
                actor = handler if action in ("accept", "return") else dispatcher
                fire_action(event_id, action, user=actor, inputs=inputs)
        elapsed = time.perf_counter() - started
        db.session.remove()
        del swater
        return elapsed


def run_bare(ids: list[int]) -> float:
    """The same number of single-action transactions, as plain SQL over one psycopg connection."""
    states = ["registered", "dispatched", "in_progress", "returned", "dispatched"]
    with psycopg.connect(SCRATCH.url) as conn:
        started = time.perf_counter()
        for event_id in ids:
            for seq, (action, state) in enumerate(zip([a for a, _ in PATH], states), start=100):
                with conn.transaction():
                    version = conn.execute(
                        "UPDATE events SET state = %s, version = version + 1, updated_at = now() "
                        "WHERE id = %s RETURNING version", (state, event_id)).fetchone()[0]
                    conn.execute(
                        "INSERT INTO event_log (event_id, seq, action, from_state, to_state, actor_id, actor_role, at,"
                        " comment, data, prev_hash, hash) VALUES (%s, %s, %s, NULL, %s, NULL, 'dispatcher', now(), '',"
                        " '{}', %s, %s)", (event_id, seq + version, action, state, "0" * 64, "0" * 64))
        return time.perf_counter() - started


@contextlib.contextmanager
def relay_follower(app):
    """A real `flask jobs relay --follow` process on the scratch database and the bench queue."""
    import redis

    from gridgov.jobs import follower

    env = {**os.environ, "DATABASE_URL": SCRATCH.url, "REDIS_URL": app.config["REDIS_URL"],
           "GRIDGOV_RQ_QUEUE": app.config["RQ_QUEUE"], "SECRET_KEY": "bench"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "relay", "--follow"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=niced_as("gridgov-relay.service"))
    conn = redis.Redis.from_url(app.config["REDIS_URL"])
    try:
        deadline = time.monotonic() + 30
        while not conn.exists(follower.heartbeat_key(app)):
            if time.monotonic() > deadline:
                raise RuntimeError("the relay follower did not start")
            time.sleep(0.1)
        follower.forget_alive_cache()
        yield
        time.sleep(1.0)  # let it send the last commits' rows
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        follower.forget_alive_cache()


def drop_queue(app) -> None:
    import redis

    conn = redis.Redis.from_url(app.config["REDIS_URL"])
    keys = list(conn.scan_iter(match=f"*{app.config['RQ_QUEUE']}*", count=1000))
    if keys:
        conn.delete(*keys)


def outbox_backlog() -> int:
    with psycopg.connect(SCRATCH.url) as conn:
        return conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]


MEMORY_PROBE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from gridgov import create_app
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[2], "SECRET_KEY": "bench", "INSTANCE_DIR": "/tmp", "UPLOAD_DIR": "/tmp/up"})
with app.app_context():
    from gridgov.extensions import db
    from gridgov.models import Event
    from gridgov.services.event_rows import EventRow
    from workflows import get_engine
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine = get_engine("default")
    if sys.argv[4] == "orm":
        events = db.session.scalars(db.select(Event).limit(int(sys.argv[3]))).all()
    else:  # the plain rows an action is fired on (gridgov/services/event_rows.py)
        columns = [c.name for c in Event.__table__.columns]
        driver = db.session.connection().connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(columns) + " FROM events LIMIT %s", (int(sys.argv[3]),))
            events = [EventRow(dict(zip(columns, row)), None) for row in cursor]
    ready = sum(1 for e in events if engine.definition.state(e.state))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"events": len(events), "bound": ready, "rss_mb": peak / 1024, "delta_mb": (peak - base) / 1024}))
"""


def memory_of_loaded_events(count: int) -> dict:
    with psycopg.connect(SCRATCH.url, autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        if have < count:  # clone existing rows to reach the count (memory only; no workflow run)
            conn.execute(
                "INSERT INTO events (number, workflow, category_code, description, urgency, source, lon, lat, orig_crs,"
                " address, county_code, township_code, village_code, grid_code, state, version, deadline_level,"
                " paused_seconds, rework_count, supervision_level, extension_pending, verified, self_resolved,"
                " reported_at, updated_at) SELECT 'M' || g, 'default', '0102', '路边暴露垃圾，需要清运', 1, 'grid_worker',"
                " 120.05, 30.62, 'wgs84', '', '330521', '330521001', '330521001001', '330521001001001', 'registered',"
                " 1, 0, 0, 0, 0, false, false, false, now(), now() FROM generate_series(1, %s) AS g", (count - have,))
    figures = {}
    for form in ("orm", "rows"):
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(ROOT), SCRATCH.url, str(count), form],
                             capture_output=True, text=True, check=True)
        figures[form] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--memory-events", type=int, default=100_000)
    args = parser.parse_args()
    actions = args.events * len(PATH)

    SCRATCH.recreate()
    try:
        from flask_migrate import upgrade

        app = make_app(REDIS_URL)
        with app.app_context():
            upgrade(directory=str(ROOT / "gridgov" / "migrations"))
            from gridgov.demo.load import load_demo

            load_demo(seed=5, password="bench-pass-1", event_count=0)
        deferred = make_app(REDIS_URL)
        deferred.config["OUTBOX_RELAY_AFTER_COMMIT"] = False

        ids_a = seed_events(app, args.events, "a")
        ids_b = seed_events(deferred, args.events, "b")
        ids_c = seed_events(app, args.events, "c")
        # Warm both paths (caches, prepared plans) on a few events, not counted.
        warm = seed_events(app, 20, "w")
        run_service(app, warm)
        run_bare(warm)

        ids_d = seed_events(app, args.events, "d")
        # The target's pair runs interleaved in rounds, so a busy moment on the machine weighs on both.
        service = bare = 0.0
        chunk = max(1, args.events // ROUNDS)
        with relay_follower(app):
            for start in range(0, args.events, chunk):
                service += run_service(app, ids_d[start:start + chunk])
                bare += run_bare(ids_c[start:start + chunk])
        relayed = outbox_backlog()
        service_self_relay = run_service(app, ids_a)
        service_deferred = run_service(deferred, ids_b)
        drop_queue(app)
        per = {name: seconds / actions * 1000 for name, seconds in
               (("service", service), ("service_self_relay", service_self_relay),
                ("service_deferred", service_deferred), ("bare", bare))}
        memory = memory_of_loaded_events(args.memory_events)
    finally:
        SCRATCH.drop()

    ratio = per["service"] / per["bare"]
    ratio_deferred = per["service_deferred"] / per["bare"]
    print(f"actions: {actions:,} per path ({args.events:,} events × {len(PATH)} actions), PostgreSQL, Redis relay")
    print(f"service as deployed (relay follower process): {service:.2f} s  {per['service']:.3f} ms/action  "
          f"{actions / service:,.0f} actions/s  (outbox rows left unsent at the end: {relayed})")
    print(f"service, each commit relaying its own rows:   {service_self_relay:.2f} s  "
          f"{per['service_self_relay']:.3f} ms/action")
    print(f"service, relay deferred to the periodic pass: {service_deferred:.2f} s  {per['service_deferred']:.3f} ms/action")
    print(f"bare SQL (UPDATE + INSERT per transaction):   {bare:.2f} s  {per['bare']:.3f} ms/action")
    print(f"ratio service/bare: {ratio:.2f}×  (self-relay: {per['service_self_relay'] / per['bare']:.2f}×, "
          f"relay deferred: {ratio_deferred:.2f}×)  target ≤ {TARGET_RATIO}×")
    orm, rows = memory["orm"], memory["rows"]
    print(f"memory: {orm['events']:,} events loaded as ORM objects, engine-ready: RSS {orm['rss_mb']:.0f} MB "
          f"(+{orm['delta_mb']:.0f} MB for the rows); as the plain rows actions are fired on: "
          f"RSS {rows['rss_mb']:.0f} MB (+{rows['delta_mb']:.0f} MB)")
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(verdict)
    table_row(f"workflow: {actions:,} actions ({args.events:,} events × {len(PATH)}), PostgreSQL",
              figure=f"{per['service']:.3f} ms/action as deployed (relay follower); self-relay "
                     f"{per['service_self_relay']:.3f} ms, relay deferred {per['service_deferred']:.3f} ms; "
                     f"{orm['events']:,} events loaded: RSS {orm['rss_mb']:.0f} MB as ORM objects, "
                     f"{rows['rss_mb']:.0f} MB as plain rows",
              target=f"≤ {TARGET_RATIO:g}× bare UPDATE + INSERT per action",
              baseline=f"bare UPDATE + INSERT {per['bare']:.3f} ms/action", ratio=f"{ratio:.2f}×",
              verdict=ratio <= TARGET_RATIO)
    return 0


if __name__ == "__main__":
    sys.exit(main())
