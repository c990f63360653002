"""Benchmark: the county dashboard's statistics at 1,000,000 events, and a 100,000-row Excel export.

PostgreSQL scratch database `gridgov_bench_stats`, migrated with the app's migrations, filled
set-based (INSERT … SELECT generate_series): 1M events over 2 years, 10,000 grids (20 townships ×
25 villages × 20 grids, synthetic codes, no polygons), 30 departments, 60 categories (10 major + 50
sub), 200 reporters, ~1.1 tasks per registered event. Dropped at the end (unless --keep).

Measures, in one run:
* the dashboard's full set of queries (`gridgov.web.dashboard.dashboard_data`: headline, previous
  period, child areas, departments, categories, trend, grid bins, overdue and supervised lists)
  for one month and one year, through the service — p50 of N runs;
* the same figures by hand-written SQL, one query per figure (per grouping and measure) — the
  baseline, p50 of N runs; and the ratio;
* an Excel export of 100,000 events in a subprocess: wall time and max RSS.
Targets: month p50 ≤ 300 ms, year p50 ≤ 1 s, within 1.5× of the hand-written SQL; export ≤ 20 s
and ≤ 300 MB. Prints PASS/FAIL per target.

    python bench/stats.py [--events 1000000] [--runs 7] [--keep] [--schema-only-to REVISION]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.table import table_row  # noqa: E402

DB_NAME = "gridgov_bench_stats"
ADMIN_URL = os.environ.get("GRIDGOV_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
COUNTY = "990001"
TZ = "Asia/Shanghai"
# "Now" for the data set: the last event is reported just before it.
NOW = datetime(2026, 11, 20, 4, 0)


def bench_url() -> str:
    return ADMIN_URL.rpartition("/")[0] + "/" + DB_NAME


def admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def make_app(url: str, tmp: Path):
    from gridgov import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "INSTANCE_DIR": str(tmp),
                       "UPLOAD_DIR": str(tmp / "uploads"), "REDIS_URL": None, "TESTING": True})


# --- data ----------------------------------------------------------------------------------------

REFERENCE_SQL = f"""
INSERT INTO areas (code, level, name, parent_code, updated_at) VALUES ('{COUNTY}', 'county', '基准县', NULL, now());
INSERT INTO areas (code, level, name, parent_code, updated_at)
  SELECT '{COUNTY}' || lpad(t::text, 3, '0'), 'township', '镇' || t, '{COUNTY}', now() FROM generate_series(1, 20) t;
INSERT INTO areas (code, level, name, parent_code, updated_at)
  SELECT '{COUNTY}' || lpad(t::text, 3, '0') || lpad(v::text, 3, '0'), 'village', '村' || t || '-' || v,
         '{COUNTY}' || lpad(t::text, 3, '0'), now()
  FROM generate_series(1, 20) t, generate_series(1, 25) v;
INSERT INTO areas (code, level, name, parent_code, updated_at)
  SELECT a.code || lpad(g::text, 3, '0'), 'grid', '网格' || g, a.code, now()
  FROM areas a, generate_series(1, 20) g WHERE a.level = 'village';
INSERT INTO departments (code, name, name_en, level, area_code, active)
  SELECT 'D' || lpad(d::text, 2, '0'), '部门' || d, 'Dept ' || d, 'county', '{COUNTY}', true FROM generate_series(1, 30) d;
INSERT INTO categories (code, parent_code, name_zh, name_en, pinyin, time_limit, time_unit, workflow, sort_order, active)
  SELECT lpad(m::text, 2, '0'), NULL, '大类' || m, '', '', 3, 'working_days', 'default', m, true FROM generate_series(1, 10) m;
INSERT INTO categories (code, parent_code, name_zh, name_en, pinyin, default_department_code, time_limit, time_unit,
                        workflow, sort_order, active)
  SELECT lpad(m::text, 2, '0') || lpad(s::text, 2, '0'), lpad(m::text, 2, '0'), '小类' || m || '-' || s, '', '',
         'D' || lpad((((m - 1) * 5 + s - 1) % 30 + 1)::text, 2, '0'), 3, 'working_days', 'default', 100 + m * 10 + s, true
  FROM generate_series(1, 10) m, generate_series(1, 5) s;
INSERT INTO users (username, display_name, password_hash, role, area_code, locale, active, failed_logins, created_at)
  SELECT 'w' || u, '网格员' || u, 'x', 'grid_worker', '{COUNTY}', 'zh_CN', true, 0, now() FROM generate_series(1, 200) u;
"""

# Each step derives columns from the previous one; random() is seeded for a repeatable data set.
EVENTS_SQL = """
INSERT INTO events (number, workflow, category_code, description, urgency, source, lon, lat, orig_crs, address,
  county_code, township_code, village_code, grid_code, reporter_id, state, version, department_code, deadline,
  deadline_level, paused_seconds, rework_count, supervision_level, extension_pending, verified, self_resolved,
  closed_on_time, satisfaction, handling_working_seconds, reported_at, registered_at, dispatched_at, closed_at,
  updated_at)
SELECT 'B' || lpad(i::text, 9, '0'), 'default', cat, '基准事件', 1, 'grid_worker', 120 + r1, 30 + r2, 'wgs84', '',
  %(county)s, left(grid, 9), left(grid, 12), grid, %(first_user)s + (i %% 200), state, 1,
  CASE WHEN registered_at IS NOT NULL THEN dept END, deadline,
  0, 0, CASE WHEN i %% 13 = 0 AND registered_at IS NOT NULL THEN 1 ELSE 0 END,
  CASE WHEN state <> 'closed' AND registered_at IS NOT NULL AND r3 < 0.05 THEN 1 ELSE 0 END, false,
  state = 'closed', self_resolved,
  CASE WHEN state = 'closed' THEN closed_at <= deadline OR self_resolved END,
  CASE WHEN state = 'closed' AND NOT self_resolved AND r3 < 0.6 THEN 1 + floor(r2 * 5)::int END,
  CASE WHEN state = 'closed' AND NOT self_resolved THEN (extract(epoch FROM closed_at - registered_at) * 0.3)::int END,
  reported_at, registered_at, registered_at + interval '20 minutes', CASE WHEN state = 'closed' THEN closed_at END,
  reported_at
FROM (
  SELECT *, CASE
      WHEN self_resolved THEN 'closed'
      WHEN registered_at IS NULL THEN 'rejected'
      WHEN closed_at < %(now)s AND r3 < CASE WHEN reported_at < %(now)s - interval '20 days' THEN 0.97 ELSE 0.6 END
        THEN 'closed'
      ELSE (ARRAY['dispatched', 'in_progress', 'handled'])[1 + (i %% 3)] END AS state
  FROM (
    SELECT *, CASE WHEN self_resolved THEN reported_at + interval '15 minutes'
                   ELSE registered_at + r4 * interval '12 days' END AS closed_at,
              registered_at + (1 + (i %% 10)) * interval '1 day' AS deadline
    FROM (
      SELECT *, CASE WHEN NOT self_resolved AND r5 >= 0.03 THEN reported_at + r1 * interval '4 hours' END AS registered_at
      FROM (
        SELECT i, r1, r2, r3, r4, r5, r5 < 0.10 AS self_resolved,
          %(start)s + (i - 1) * %(step)s * interval '1 second' + r2 * interval '60 seconds' AS reported_at,
          %(county)s || lpad((1 + g / 500)::text, 3, '0') || lpad((1 + (g / 20) %% 25)::text, 3, '0')
            || lpad((1 + g %% 20)::text, 3, '0') AS grid,
          lpad((1 + c / 5)::text, 2, '0') || lpad((1 + c %% 5)::text, 2, '0') AS cat,
          'D' || lpad((1 + (c * 7 + i) %% 30)::text, 2, '0') AS dept
        FROM (
          SELECT i, random() r1, random() r2, random() r3, random() r4, random() r5,
                 floor(random() * 10000)::int g, floor(random() * 50)::int c
          FROM generate_series(1, %(events)s) i
        ) a
      ) b
    ) c
  ) d
) e;
"""

TASKS_SQL = """
INSERT INTO tasks (event_id, seq, department_code, status, dispatched_at, deadline, handled_at, result, note)
  SELECT id, 1, department_code, 'reworked', registered_at, deadline,
         registered_at + (coalesce(closed_at, %(now)s) - registered_at) / 3, '', ''
  FROM events WHERE rework_count = 1;
INSERT INTO tasks (event_id, seq, department_code, status, dispatched_at, deadline, handled_at, result, note)
  SELECT id, 1 + rework_count, department_code,
         CASE state WHEN 'closed' THEN 'done' WHEN 'handled' THEN 'handled' ELSE 'in_progress' END,
         registered_at, deadline,
         CASE state WHEN 'closed' THEN closed_at - interval '1 hour'
                    WHEN 'handled' THEN registered_at + interval '1 day' END, '', ''
  FROM events WHERE registered_at IS NOT NULL AND department_code IS NOT NULL;
"""


def load_data(app, events: int) -> dict:
    from sqlalchemy import text

    from gridgov.extensions import db

    start = NOW - timedelta(days=730)
    with app.app_context():
        t0 = time.perf_counter()
        conn = db.session.connection()
        for statement in REFERENCE_SQL.strip().split(";\n"):
            if statement.strip():
                conn.execute(text(statement))
        first_user = db.session.scalar(text("SELECT min(id) FROM users"))
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:
            cur.execute("SELECT setseed(0.42)")
            cur.execute(EVENTS_SQL, {"county": COUNTY, "first_user": first_user, "now": NOW, "start": start,
                                     "events": events, "step": 730 * 86400 / events})
            for statement in TASKS_SQL.strip().split(";\n"):
                if statement.strip():
                    cur.execute(statement, {"now": NOW})
        db.session.commit()
        load_s = time.perf_counter() - t0
    admin_conn_vacuum()
    with app.app_context():
        counts = {t: db.session.scalar(text(f"SELECT count(*) FROM {t}")) for t in ("events", "tasks", "areas")}
        indexes = db.session.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename IN ('events','tasks') AND indexname LIKE '%stats%'"
        )).scalars().all()
    return {"load_s": load_s, **counts, "stats_indexes": indexes}


def admin_conn_vacuum() -> None:
    import psycopg

    with psycopg.connect(bench_url(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE events")
        conn.execute("VACUUM ANALYZE tasks")


# --- timing --------------------------------------------------------------------------------------

def p50(fn, runs: int) -> tuple[float, object]:
    result = fn()  # warm-up (plans, caches)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def service_dashboard(q, use_cache=True):
    from flask import current_app

    from gridgov.web.dashboard import dashboard_data

    current_app.config["STATS_CACHE"] = use_cache
    return dashboard_data(q)


def handwritten_dashboard(q, groupings: list[str]):
    """The same figures, one plain SQL query per figure and grouping (what a DBA would write first)."""
    from sqlalchemy import text

    from gridgov.extensions import db
    from gridgov.services.stats.periods import utc_offset_minutes

    off = utc_offset_minutes(q.period.tz, q.period.start)

    def keyexpr(grouping: str, ts: str) -> str:
        return {
            "total": "NULL", "township": "e.township_code", "village": "e.village_code", "grid": "e.grid_code",
            "department": "e.department_code", "category": "substr(e.category_code, 1, 2)",
            "day": f"to_char(e.{ts} + interval '{off} minutes', 'YYYY-MM-DD')",
            "month": f"to_char(e.{ts} + interval '{off} minutes', 'YYYY-MM')",
            "week": f"to_char(date_trunc('week', e.{ts} + interval '{off} minutes'), 'YYYY-MM-DD')",
        }[grouping]

    params = {"s": q.period.start, "e": q.period.end, "now": q.now, "area": q.area}
    out = {}
    reported = {"reported": "true", "self_resolved": "e.self_resolved"}
    registered = {
        "registered": "true",
        "due": "e.state = 'closed' OR (e.state <> 'closed' AND e.deadline < :now)",
        "closed": "e.state = 'closed'",
        "closed_on_time": "e.state = 'closed' AND e.closed_on_time",
        "overdue": "e.state IN ('reported','registered','dispatched','in_progress','handled','returned',"
                   "'escalated','visited') AND e.deadline < :now",
        "handling": "e.state = 'closed' AND e.handling_working_seconds IS NOT NULL",
    }
    for grouping in groupings:
        for name, cond in reported.items():
            k = keyexpr(grouping, "reported_at")
            out[(grouping, name)] = db.session.execute(text(
                f"SELECT {k} AS k, count(*) FROM events e WHERE e.reported_at >= :s AND e.reported_at < :e "
                f"AND e.county_code = :area AND ({cond}) GROUP BY 1"), params).all()
        for name, cond in registered.items():
            k = keyexpr(grouping, "registered_at")
            measure = "sum(e.handling_working_seconds)" if name == "handling" else "count(*)"
            out[(grouping, name)] = db.session.execute(text(
                f"SELECT {k} AS k, {measure} FROM events e WHERE e.registered_at >= :s AND e.registered_at < :e "
                f"AND e.state NOT IN ('rejected','merged') AND e.county_code = :area AND ({cond}) GROUP BY 1"),
                params).all()
        k = keyexpr(grouping, "registered_at").replace("e.registered_at", "t.handled_at")
        if grouping == "department":
            k = "t.department_code"
        for name, cond in (("tasks_handled", "true"), ("tasks_reworked", "t.status = 'reworked'")):
            out[(grouping, name)] = db.session.execute(text(
                f"SELECT {k} AS k, count(*) FROM tasks t JOIN events e ON e.id = t.event_id "
                f"WHERE t.handled_at >= :s AND t.handled_at < :e AND e.county_code = :area AND ({cond}) GROUP BY 1"),
                params).all()
    prev = q.period.previous()
    pp = dict(params, s=prev.start, e=prev.end)
    out["prev"] = db.session.execute(text(
        "SELECT count(*) FROM events e WHERE e.registered_at >= :s AND e.registered_at < :e AND e.county_code = :area"),
        pp).all()
    open_states = "('reported','registered','dispatched','in_progress','handled','returned','escalated','visited')"
    out["overdue_list"] = db.session.execute(text(
        f"SELECT * FROM events e WHERE e.county_code = :area AND e.state IN {open_states} AND e.deadline < :now "
        "ORDER BY e.deadline LIMIT 20"), params).all()
    out["supervised"] = db.session.execute(text(
        f"SELECT * FROM events e WHERE e.county_code = :area AND e.state IN {open_states} AND e.supervision_level > 0 "
        "ORDER BY e.supervision_level DESC, e.deadline LIMIT 20"), params).all()
    return out


def check_same_numbers(service_result, hand) -> None:
    """The two ways agree on the headline and township figures (or the benchmark compares apples to pears)."""
    total = service_result["data"]["total"][0]
    hand_total = {name: rows[0][1] if rows else 0 for key, rows in hand.items() if isinstance(key, tuple) and key[0] == "total" for name in [key[1]]}
    for name in ("reported", "self_resolved", "registered", "due", "closed", "closed_on_time", "overdue",
                 "tasks_handled", "tasks_reworked"):
        assert getattr(total, name) == hand_total[name], (name, getattr(total, name), hand_total[name])
    assert total.handling_seconds == (hand_total["handling"] or 0)


# --- export --------------------------------------------------------------------------------------

EXPORT_CHILD = r"""
import json, resource, sys, time
from datetime import date, datetime
sys.path.insert(0, {root!r})
from pathlib import Path
from bench.stats import make_app
from gridgov.services.stats import Period, StatsQuery
from gridgov.services.stats.exports import write_events_xlsx
app = make_app({url!r}, Path({tmp!r}))
with app.app_context():
    q = StatsQuery(period=Period(date.fromisoformat({first!r}), date.fromisoformat({last!r}), "Asia/Shanghai"),
                   area={county!r}, now=datetime.fromisoformat({now!r}))
    t0 = time.perf_counter()
    n = write_events_xlsx("reported", q, {target!r})
    seconds = time.perf_counter() - t0
print(json.dumps({{"rows": n, "seconds": seconds,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def export_period(app, rows: int):
    """The first local dates (counting back from NOW) whose period holds at least `rows` reported events."""
    from sqlalchemy import text

    from gridgov.extensions import db
    from gridgov.services.stats import Period

    with app.app_context():
        cutoff = db.session.scalar(text(
            "SELECT reported_at FROM events ORDER BY reported_at DESC OFFSET :n LIMIT 1"), {"n": rows - 1})
    last = (NOW + timedelta(hours=8)).date()
    first = (cutoff + timedelta(hours=8)).date()
    return Period(first, last, TZ)


def run_export(tmp: Path, period) -> dict:
    target = tmp / "events.xlsx"
    code = EXPORT_CHILD.format(root=str(ROOT), url=bench_url(), tmp=str(tmp), first=period.first.isoformat(),
                               last=period.last.isoformat(), county=COUNTY, now=NOW.isoformat(), target=str(target))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT))
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["file_mb"] = target.stat().st_size / 1e6
    from openpyxl import load_workbook

    wb = load_workbook(target, read_only=True)
    result["rows_in_file"] = sum(1 for _ in wb["事件清单"].iter_rows(min_row=2, values_only=True))
    return result


# --- main ----------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database instead of rebuilding")
    parser.add_argument("--schema-only-to", default="heads",
                        help="migrate only to this revision (e.g. 0002_handling_seconds: without the stats indexes)")
    parser.add_argument("--export-rows", type=int, default=100_000)
    args = parser.parse_args()

    logging_quiet()
    tmp = Path(tempfile.mkdtemp(prefix="bench-stats-"))
    if not args.reuse:
        admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        admin(f'CREATE DATABASE "{DB_NAME}"')
    app = make_app(bench_url(), tmp)
    try:
        if not args.reuse:
            from flask_migrate import upgrade

            with app.app_context():
                upgrade(revision=args.schema_only_to)
            info = load_data(app, args.events)
            print(f"data: {info['events']:,} events, {info['tasks']:,} tasks, {info['areas']:,} areas "
                  f"loaded in {info['load_s']:.1f} s; stats indexes: {info['stats_indexes'] or 'none'}")
        from gridgov.services.stats import StatsQuery, month_period
        from gridgov.services.stats.periods import Period

        month = month_period(2026, 10, TZ)
        year = Period(date(2025, 11, 1), date(2026, 10, 31), TZ)
        to_date = Period(date(2026, 11, 1), date(2026, 11, 20), TZ)
        results = {}
        with app.app_context():
            from gridgov.services.stats import cache

            cache.clear()
            for label, period in (("month", month), ("year", year), ("month to date", to_date)):
                q = StatsQuery(period=period, area=COUNTY, now=NOW)
                t0 = time.perf_counter()
                service_dashboard(q)
                cold = time.perf_counter() - t0
                svc_p50, svc = p50(lambda: service_dashboard(q), args.runs)
                live_p50, live = p50(lambda: service_dashboard(q, use_cache=False), args.runs)
                hand_p50, hand = p50(lambda: handwritten_dashboard(q, svc["groupings"]), args.runs)
                check_same_numbers(svc, hand)
                check_same_numbers(live, hand)
                total = svc["data"]["total"][0]
                results[label] = (svc_p50, hand_p50)
                print(f"dashboard {label} ({period.label()}, {total.reported:,} reported, {total.registered:,} "
                      f"registered, {total.tasks_handled:,} tasks handled, {len(svc['groupings'])} groupings + "
                      f"previous period + lists):")
                print(f"  service p50 {svc_p50 * 1000:.0f} ms (first load with empty month cache {cold * 1000:.0f} ms; "
                      f"all-live without the cache p50 {live_p50 * 1000:.0f} ms)")
                print(f"  hand-written SQL, one query per figure ({len(hand)} queries): p50 {hand_p50 * 1000:.0f} ms; "
                      f"ratio service/hand-written {svc_p50 / hand_p50:.2f}x (all-live {live_p50 / hand_p50:.2f}x)")
        period = export_period(app, args.export_rows)
        export = run_export(tmp, period)
        print(f"excel export: {export['rows']:,} events ({period.label()}) in {export['seconds']:.1f} s, "
              f"max RSS {export['max_rss_mb']:.0f} MB, file {export['file_mb']:.1f} MB, "
              f"{export['rows_in_file']:,} data rows read back")

        month_s, month_hand = results["month"]
        year_s, year_hand = results["year"]
        checks = [
            (f"dashboard month p50 {month_s * 1000:.0f} ms <= 300 ms", month_s <= 0.300),
            (f"dashboard year p50 {year_s * 1000:.0f} ms <= 1000 ms", year_s <= 1.0),
            (f"month within 1.5x of hand-written SQL ({month_s / month_hand:.2f}x)", month_s <= 1.5 * month_hand),
            (f"year within 1.5x of hand-written SQL ({year_s / year_hand:.2f}x)", year_s <= 1.5 * year_hand),
            (f"month-to-date (live, no whole month to cache) p50 {results['month to date'][0] * 1000:.0f} ms <= 300 ms",
             results["month to date"][0] <= 0.300),
            (f"excel export {export['seconds']:.1f} s <= 20 s", export["seconds"] <= 20),
            (f"excel export max RSS {export['max_rss_mb']:.0f} MB <= 300 MB", export["max_rss_mb"] <= 300),
            (f"excel export wrote {export['rows_in_file']:,} rows >= {args.export_rows:,}",
             export["rows_in_file"] >= args.export_rows),
        ]
        for text_, ok in checks:
            print(f"{verdict(ok)}  {text_}")
        passed = all(ok for _, ok in checks)
        table_row(f"stats: {args.events:,} events over 2 years",
                  figure=f"dashboard p50 month {month_s * 1000:.0f} ms, year {year_s * 1000:.0f} ms, month to date "
                         f"{results['month to date'][0] * 1000:.0f} ms; Excel export of {export['rows']:,} events "
                         f"{export['seconds']:.1f} s, max RSS {export['max_rss_mb']:.0f} MB",
                  target="month ≤ 300 ms, year ≤ 1 s, ≤ 1.5× hand-written SQL; export of 100,000 ≤ 20 s and ≤ 300 MB",
                  baseline=f"hand-written SQL, one query per figure: month {month_hand * 1000:.0f} ms, "
                           f"year {year_hand * 1000:.0f} ms",
                  ratio=f"{month_s / month_hand:.2f}× month, {year_s / year_hand:.2f}× year", verdict=passed)
        return 0 if passed else 1
    finally:
        with app.app_context():
            from gridgov.extensions import db

            db.session.remove()
            db.engine.dispose()
        if not args.keep:
            admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def logging_quiet() -> None:
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
