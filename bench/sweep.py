"""Benchmark: one deadline-sweep pass on PostgreSQL with 1,000,000 events, 100,000 of them open.

Target: the pass (gridgov.jobs.sweep.run_sweep: marking + outbox rows + reminders, one transaction)
takes ≤ 2 s, and ≤ 1.5× a single hand-written SQL UPDATE doing the same marking, measured in the
same run on the same data (marks and outbox reset between runs; median of 5 runs each).

Creates the scratch database `gridgov_bench_sweep` with the app's migrations and drops it at the end.
Run: python bench/sweep.py   (GRIDGOV_BENCH_PG_URL overrides the admin URL; default local postgres)
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from bench.table import table_row  # noqa: E402
from sqlalchemy import text  # noqa: E402

ADMIN_URL = os.environ.get("GRIDGOV_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "gridgov_bench_sweep"
TOTAL, OPEN = 1_000_000, 100_000
RUNS = int(os.environ.get("GRIDGOV_BENCH_RUNS", "5"))
TARGET_SECONDS, TARGET_RATIO = 2.0, 1.5
NOW = datetime(2026, 11, 22, 10, 0, 30)

# Open events: 70% dispatched, 20% in progress (the deadline clock runs), 10% handled awaiting
# verification. Dispatched up to 6 days ago with a time limit of 2 hours to 10 days: a county with
# most work on time, some warned, some overdue, a few long overdue.
GENERATE = """
INSERT INTO events (number, workflow, category_code, description, urgency, source, lon, lat, orig_crs,
    address, county_code, township_code, village_code, grid_code, reporter_id, state, version,
    department_code, deadline, deadline_level, paused_seconds, rework_count, supervision_level,
    extension_pending, verified, self_resolved, reported_at, registered_at, dispatched_at, handled_at,
    closed_at, updated_at)
SELECT 'B' || lpad(g::text, 9, '0'), 'default', '0102', '', 1, 'grid_worker', 120.05, 30.62, 'wgs84', '',
    :county, :township, :village, :grid, :reporter,
    CASE WHEN g > :open THEN 'closed' WHEN g % 10 < 7 THEN 'dispatched' WHEN g % 10 < 9 THEN 'in_progress'
         ELSE 'handled' END,
    1, :department,
    d.dispatched + (120 + hashint(g * 7) % (60 * 24 * 10 - 120)) * interval '1 minute',
    0, 0, 0, 0, false, (g % 3 = 0), false,
    d.dispatched - interval '30 minutes', d.dispatched - interval '5 minutes', d.dispatched,
    CASE WHEN g <= :open AND g % 10 >= 9 THEN d.dispatched + interval '1 day' END,
    CASE WHEN g > :open THEN d.dispatched + interval '2 days' END,
    d.dispatched
FROM generate_series(1, :total) AS g,
     LATERAL (SELECT CAST(:now AS timestamp) - (hashint(g) % (60 * 24 * 6)
                     + CASE WHEN g > :open THEN 60 * 24 * 30 ELSE 0 END) * interval '1 minute' AS dispatched) AS d
"""

BASELINE = """
UPDATE events SET deadline_level = CASE WHEN deadline <= :escalate_before THEN 3
                                        WHEN deadline <= :now THEN 2 ELSE 1 END
WHERE state IN ('dispatched', 'in_progress') AND deadline IS NOT NULL
  AND :now >= dispatched_at + (deadline - dispatched_at) * :share
  AND deadline_level < CASE WHEN deadline <= :escalate_before THEN 3 WHEN deadline <= :now THEN 2 ELSE 1 END
"""


def admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def scratch_url() -> str:
    return ADMIN_URL.rpartition("/")[0] + "/" + DB_NAME


def vacuum() -> None:
    with psycopg.connect(scratch_url(), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) events")
        conn.execute("VACUUM (ANALYZE) outbox")


def build(app, db) -> dict:
    from flask_migrate import upgrade

    from gridgov.demo.load import load_demo
    from gridgov.models import User

    upgrade()
    load_demo(seed=7, password="bench-pass-123", event_count=0)
    worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
    handler = db.session.scalar(db.select(User).where(User.username == "demo_handler"))
    # A stable integer hash in SQL, so the data is the same on every run.
    db.session.execute(text("CREATE FUNCTION hashint(bigint) RETURNS bigint IMMUTABLE LANGUAGE sql AS "
                            "$$ SELECT abs(hashtextextended($1::text, 42)) $$"))
    started = time.perf_counter()
    db.session.execute(text(GENERATE), {
        "county": worker.area_code[:6], "township": worker.area_code[:9], "village": worker.area_code, "grid": worker.area_code + "001",
        "reporter": worker.id, "department": handler.department_code, "open": OPEN, "total": TOTAL, "now": NOW,
    })
    db.session.commit()
    generated = time.perf_counter() - started
    vacuum()
    counts = dict(db.session.execute(text("SELECT state, count(*) FROM events GROUP BY state")).all())
    return {"generated_s": generated, "states": counts}


def reset(db) -> None:
    db.session.execute(text("UPDATE events SET deadline_level = 0 WHERE deadline_level <> 0"))
    db.session.execute(text("DELETE FROM outbox"))
    db.session.commit()
    vacuum()


def levels(db) -> dict:
    return dict(db.session.execute(text(
        "SELECT deadline_level, count(*) FROM events WHERE deadline_level > 0 GROUP BY 1")).all())


def main() -> int:
    from tests.conftest import build_app  # the same settings the test-suite uses

    from gridgov.extensions import db
    from gridgov.jobs.sweep import Thresholds, run_sweep

    keep = "--keep" in sys.argv  # leave the scratch database for EXPLAIN sessions
    admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DB_NAME}"')
    tmp = Path("/tmp") / f"{DB_NAME}-{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    try:
        app = build_app(scratch_url(), tmp)
        with app.app_context():
            facts = build(app, db)
            t = Thresholds.from_config(NOW, app.config)
            params = {"now": NOW, "escalate_before": t.escalate_before, "share": t.warning_share}
            print(f"data: {sum(facts['states'].values()):,} events, states {facts['states']} "
                  f"(generated in {facts['generated_s']:.1f} s)")
            plan = db.session.execute(text("EXPLAIN " + BASELINE), params).scalars().all()
            print("baseline plan:", " | ".join(line.strip() for line in plan if "Scan" in line or "Update" in line))

            sweep_times, baseline_times, sweep_levels, baseline_levels, outbox_rows = [], [], None, None, None
            for run in range(RUNS):
                order = ("sweep", "baseline") if run % 2 == 0 else ("baseline", "sweep")
                for which in order:
                    reset(db)
                    started = time.perf_counter()
                    if which == "sweep":
                        result = run_sweep(NOW, relay=False)
                        sweep_times.append(time.perf_counter() - started)
                        sweep_levels = levels(db)
                        outbox_rows = result.deadline_rows + result.reminder_rows
                    else:
                        db.session.execute(text(BASELINE), params)
                        db.session.commit()
                        baseline_times.append(time.perf_counter() - started)
                        baseline_levels = levels(db)
            assert sweep_levels == baseline_levels, (sweep_levels, baseline_levels)
            db.session.remove()
            db.engine.dispose()
    finally:
        if not keep:
            admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    sweep_median, baseline_median = statistics.median(sweep_times), statistics.median(baseline_times)
    ratio = sweep_median / baseline_median
    marked = sum(sweep_levels.values())
    print(f"marked per pass: {marked:,} events (levels {dict(sorted(sweep_levels.items()))}); "
          f"outbox rows written by the sweep: {outbox_rows:,}")
    print(f"sweep pass  (run_sweep: marking + outbox + reminders): median {sweep_median:.3f} s  "
          f"runs {[round(x, 3) for x in sweep_times]}")
    print(f"baseline    (one hand-written UPDATE, marking only):    median {baseline_median:.3f} s  "
          f"runs {[round(x, 3) for x in baseline_times]}")
    print(f"target: sweep ≤ {TARGET_SECONDS:.1f} s and ≤ {TARGET_RATIO}× baseline; ratio {ratio:.2f}×")
    ok = sweep_median <= TARGET_SECONDS and ratio <= TARGET_RATIO
    print("PASS" if ok else "FAIL")
    table_row(f"sweep: {TOTAL:,} events, {OPEN:,} open",
              figure=f"one pass {sweep_median:.3f} s (marking + outbox + reminders, median of {len(sweep_times)})",
              target=f"≤ {TARGET_SECONDS:.0f} s and ≤ {TARGET_RATIO}× one hand-written UPDATE",
              baseline=f"hand-written UPDATE {baseline_median:.3f} s", ratio=f"{ratio:.2f}×", verdict=ok)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
