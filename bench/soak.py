"""Soak: a county's day, compressed, against the real production stack, with faults; nothing may be lost.

The run starts its own stack on loopback (bench/soak_stack.py): a private PostgreSQL 15 cluster (initdb in
a temporary directory, fsync on), a private redis-server without persistence, the app's migrations and
the demo county, gunicorn (wsgi:app, GRIDGOV_ENV=production), two rq workers, the cron scheduler and the
relay follower when the app has one. It creates the county's staff (300 grid workers, 20 dispatchers,
50 handlers, 5 supervisors) and replays their day through the JSON API and the dashboard
(bench/soak_load.py) while it breaks things:
  kill -9 one gunicorn worker (the master respawns it), `pg_ctl restart -m fast`, Redis stopped for 60 s,
  kill -9 one rq worker with its work horse (restarted, as systemd would).
After the day the phones flush what they still hold, the workers drain, and the end checks
(bench/soak_app.py, `flask audit verify`) decide PASS or FAIL:
  every report that got a 2xx is stored exactly once under its client UUID (retries and replays too);
  no 500 and no 503 without Retry-After (503 + Retry-After during the restart is the documented answer);
  no half-written rows; every outbox row sent and its notifications made; one notification per dedupe
  key; every SMS delivered and seen by the gateway (a resend only after a killed worker); audit intact.

Run:  python bench/soak.py [--minutes 10] [--no-faults] [--report-rate 3] [--keep]
      python bench/soak.py --short          # 45 s day, compressed faults (tests/ops/test_soak_short.py)
Needs /usr/lib/postgresql/15/bin/{initdb,pg_ctl} and redis-server; as root, initdb runs as `postgres`.
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.soak_load import ACCEPTABLE, REPORT_ROUTE, Day, LoadConfig, SmsGateway, percentile, wait_until_serving  # noqa: E402
from bench.soak_stack import Stack, missing_prerequisites  # noqa: E402
from bench.table import table_row  # noqa: E402


RESTART_GRACE_S = 30  # requests that were waiting on the old connections finish within this


def log(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------- faults
def fault_plan(args) -> list[tuple[float, str]]:
    """(share of the day, fault): spread so each one's recovery is over before the next begins."""
    if not args.faults:
        return []
    plan = [(0.15, "kill_web_worker"), (0.30, "restart_postgres"), (0.50, "stop_redis"), (0.75, "kill_rq_worker")]
    return [step for step in plan if step[1] != "stop_redis" or args.redis_down > 0]


class Faults:
    def __init__(self, stack: Stack, plan: list[tuple[float, str]], day_seconds: float, redis_down: float,
                 rq_kill_group: bool):
        self.stack, self.plan, self.day_seconds = stack, plan, day_seconds
        self.redis_down, self.rq_kill_group = redis_down, rq_kill_group
        self.done: list[str] = []
        self.errors: list[str] = []
        self.hard_rq_kills = 0
        self.pg_restarts: list[tuple[float, float]] = []  # (began, back) in seconds of the day
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="faults", daemon=True)

    def start(self, t0: float) -> None:
        self.t0 = t0
        self.thread.start()

    def note(self, text: str) -> None:
        line = f"  [t={time.monotonic() - self.t0:6.1f}s] {text}"
        self.done.append(line)
        log(line)

    def _run(self) -> None:
        for share, name in self.plan:
            if self.stop.wait(max(0.0, self.t0 + share * self.day_seconds - time.monotonic())):
                return
            try:
                getattr(self, name)()
            except Exception as exc:  # noqa: BLE001 - a fault that could not be made is reported, not fatal
                self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                self.note(f"FAULT FAILED {name}: {exc}")

    def kill_web_worker(self) -> None:
        before = set(self.stack.web_worker_pids())
        victim = self.stack.kill_web_worker()
        started = time.monotonic()
        while time.monotonic() - started < 30:
            now = set(self.stack.web_worker_pids())
            if len(now) >= len(before) and victim not in now:
                break
            time.sleep(0.2)
        self.note(f"kill -9 gunicorn worker {victim}; master had a new one after {time.monotonic() - started:.1f} s")

    def restart_postgres(self) -> None:
        self.note("pg_ctl restart -m fast …")
        began = time.monotonic() - self.t0
        took = self.stack.restart_postgres()
        self.pg_restarts.append((began, began + took))
        # A job that sent its SMS and then lost the database before recording it sends it again on retry
        # (at-least-once to an outside gateway; the payload's id lets the gateway drop the repeat).
        self.hard_rq_kills += 1
        self.note(f"PostgreSQL is back ({took:.1f} s restart)")

    def stop_redis(self) -> None:
        self.stack.stop_redis()
        self.note(f"Redis stopped (for {self.redis_down:.0f} s; no persistence: it comes back empty)")
        self.stop.wait(self.redis_down)
        self.stack.start_redis()
        self.note("Redis started again")

    def kill_rq_worker(self) -> None:
        pid = self.stack.kill_rq_worker("rq-worker-1", whole_group=self.rq_kill_group)
        if pid is not None:  # with or without its horse: a job cut between send and record is sent again
            self.hard_rq_kills += 1
        what = "with its work horse" if self.rq_kill_group else "(its work horse, if any, finishes its job)"
        self.note(f"kill -9 rq worker {pid} {what}; the supervisor restarts it")


# ---------------------------------------------------------------- draining
def backlog(stack: Stack) -> dict:
    import psycopg
    import redis
    from rq import Queue
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    out = {}
    with psycopg.connect(stack.database_url, connect_timeout=5) as conn:
        out["outbox_unsent"] = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
        out["sms_undelivered"] = conn.execute(
            "SELECT count(*) FROM notifications WHERE channel <> 'inapp' AND delivered_at IS NULL").fetchone()[0]
        has_done = conn.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'outbox' "
                                "AND column_name = 'done_at'").fetchone()
        if has_done:  # sent to rq but its job has not run to the end (yet, or Redis lost it)
            out["outbox_not_done"] = conn.execute(
                "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL AND done_at IS NULL").fetchone()[0]
            out["outbox_done"] = conn.execute("SELECT count(*) FROM outbox WHERE done_at IS NOT NULL").fetchone()[0]
    connection = redis.Redis.from_url(stack.redis_url, socket_timeout=5)
    queue = Queue("gridgov", connection=connection)
    out["queued"] = queue.count
    out["running"] = StartedJobRegistry(queue=queue).get_job_count(cleanup=False)
    out["scheduled"] = ScheduledJobRegistry(queue=queue).get_job_count(cleanup=False)
    out["failed_jobs"] = FailedJobRegistry(queue=queue).get_job_count(cleanup=False)
    connection.close()
    return out


def drain(stack: Stack, stall_timeout: float, cap: float = 3600.0) -> tuple[bool, dict, float, float]:
    """Wait until the outbox is sent and done, the queue and registries are empty and every SMS went out.
    Gives up when nothing moved for `stall_timeout` seconds (or after `cap`). Returns also the rate at
    which outbox jobs finished meanwhile (jobs/s)."""
    started = last_progress = time.monotonic()
    quiet, state, left, done_at_start = 0, {}, None, None
    while time.monotonic() - started < cap and time.monotonic() - last_progress < stall_timeout:
        try:
            state = backlog(stack)
        except Exception as exc:  # noqa: BLE001
            state = {"error": str(exc)}
        if "error" not in state:
            if done_at_start is None:
                done_at_start = state.get("outbox_done", 0)
                log(f"backlog when the phones were done: {state}")
            now_left = sum(state.get(k, 0) for k in WORK_LEFT)
            if left is None or now_left < left:
                last_progress = time.monotonic()
            left = now_left
        quiet = quiet + 1 if "error" not in state and left == 0 else 0
        if quiet >= 3:
            break
        time.sleep(1.0)
    took = time.monotonic() - started
    rate = (state.get("outbox_done", 0) - (done_at_start or 0)) / took if took and "error" not in state else 0.0
    return quiet >= 3, state, took, rate


WORK_LEFT = ("outbox_unsent", "outbox_not_done", "sms_undelivered", "queued", "running", "scheduled")


def failed_job_samples(stack: Stack, limit: int = 3) -> list[str]:
    import redis
    from rq import Queue
    from rq.registry import FailedJobRegistry

    connection = redis.Redis.from_url(stack.redis_url, socket_timeout=5)
    registry = FailedJobRegistry(queue=Queue("gridgov", connection=connection))
    out = []
    for job in registry.get_job_ids()[:limit]:
        from rq.job import Job

        try:
            exc = (Job.fetch(job, connection=connection).latest_result().exc_string or "").strip().splitlines()
            out.append(f"{job}: {exc[-1] if exc else '?'}")
        except Exception as err:  # noqa: BLE001
            out.append(f"{job}: {err}")
    return out


# ---------------------------------------------------------------- report
def route_table(day: Day, seconds: float) -> list[str]:
    rec = day.recorder
    lines = [f"  {'route':48s} {'count':>7s} {'req/s':>6s} {'p50 ms':>8s} {'p99 ms':>8s}  statuses"]
    for route in sorted(rec.statuses):
        counts = rec.statuses[route]
        total = sum(counts.values())
        lat = rec.latencies.get(route, [])
        lines.append(f"  {route:48s} {total:7d} {total / seconds:6.2f} {percentile(lat, 0.5) * 1000:8.0f} "
                     f"{percentile(lat, 0.99) * 1000:8.0f}  "
                     + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return lines


def bad_timeline(day: Day, bucket: float = 10.0) -> list[str]:
    buckets: dict[int, Counter] = {}
    for t, _route, outcome in day.recorder.timeline:
        buckets.setdefault(int(t // bucket), Counter())[outcome] += 1
    return [f"  t={int(b * bucket):4d}–{int((b + 1) * bucket):4d}s  " + ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
            for b, c in sorted(buckets.items())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the compressed day")
    parser.add_argument("--faults", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--short", action="store_true",
                        help="the test suite's variant: 45 s day, fewer people, faults compressed (no Redis stop)")
    parser.add_argument("--report-rate", type=float, default=None, help="reports per second (default 3; short 2)")
    parser.add_argument("--workers", type=int, default=None, help="grid workers (default 300)")
    parser.add_argument("--dispatchers", type=int, default=None, help="default 20")
    parser.add_argument("--handlers", type=int, default=None, help="default 50")
    parser.add_argument("--supervisors", type=int, default=None, help="default 5")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn -w (README: 2 × cores)")
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument("--demo-events", type=int, default=None, help="history the demo county starts with")
    parser.add_argument("--redis-down", type=float, default=None,
                        help="seconds Redis stays stopped (default 60; 0 = no Redis fault, the short default)")
    parser.add_argument("--drain-timeout", type=float, default=None,
                        help="give up draining after this many seconds without progress (default 300; short 120)")
    parser.add_argument("--pg-port", type=int, default=55433)
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--json-out", default=None, help="also write the figures and checks as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, cluster)")
    args = parser.parse_args()
    short = args.short
    if short and args.minutes == 10.0:
        args.minutes = 0.75
    pick = lambda value, full, small: value if value is not None else (small if short else full)  # noqa: E731
    args.report_rate = pick(args.report_rate, 3.0, 2.0)
    args.workers = pick(args.workers, 300, 40)
    args.dispatchers = pick(args.dispatchers, 20, 5)
    args.handlers = pick(args.handlers, 50, 10)
    args.supervisors = pick(args.supervisors, 5, 2)
    args.demo_events = pick(args.demo_events, 300, 20)
    args.redis_down = pick(args.redis_down, 60.0, 0.0)
    # A job whose worker was killed mid-run counts as abandoned only when its heartbeat lapses (the
    # job-monitoring interval + 60 s), is retried by the next periodic pass, then waits its retry
    # interval: up to ~3 minutes in which nothing else may move once the rest has drained.
    args.drain_timeout = pick(args.drain_timeout, 300.0, 240.0)
    if short:
        args.web_workers = min(args.web_workers, 2)

    missing = missing_prerequisites()
    if missing:
        log("SKIP: missing " + ", ".join(missing))
        return 77

    workdir = Path(tempfile.mkdtemp(prefix="gridgov-soak-"))
    (workdir / "logs").mkdir()
    gateway = SmsGateway()
    gateway.start()
    stack = Stack(workdir, web_workers=args.web_workers, rq_workers=args.rq_workers,
                  cron_interval=10 if short else 60, pg_port=args.pg_port, redis_port=args.redis_port,
                  sms_gateway_url=gateway.url, log=log,
                  # the short run's day is too short for the production retry waits (10, 60, 300 s)
                  job_retry_intervals="5,15,30" if short else "")

    def terminate(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    passed = False
    summary: dict = {}
    try:
        passed, summary = run(args, stack, gateway, workdir)
    except Exception as exc:  # noqa: BLE001 - a run that could not finish is a FAIL with its reason
        traceback.print_exc()
        log(f"FAIL: the run could not finish: {type(exc).__name__}: {exc}")
        summary = {"passed": False, "error": f"{type(exc).__name__}: {exc}", "checks": []}
    finally:
        try:
            stack.stop_all()
        finally:
            gateway.stop()
            if args.keep:
                log(f"work directory kept: {workdir} (cluster in pgdata/, logs in logs/)")
            elif not passed:
                shutil.rmtree(stack.pgdata, ignore_errors=True)
                log(f"logs kept for a look: {workdir / 'logs'} (plan.json, run.json, checks.json beside them)")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
    print_table_row(args, passed, summary)
    return 0 if passed else 1


def print_table_row(args, passed: bool, summary: dict) -> None:
    if "routes" not in summary:
        table_row("soak", figure=summary.get("error", "did not finish"), target="nothing lost, no 500",
                  baseline="—", ratio="—", verdict=False)
        return
    statuses = summary["statuses"]
    errors_5xx = {k: v for k, v in statuses.items() if str(k).startswith("5")}
    report = summary["routes"].get(summary["report_route"], {})
    faults = "gunicorn worker kill, PostgreSQL restart" + (", Redis stopped 60 s" if not args.short else "") \
        + ", rq worker kill" if args.faults else "none"
    table_row(f"soak: {args.minutes:g}-minute county day, faults: {faults}",
              figure=f"{summary['requests'] / summary['seconds']:.1f} req/s; {summary['acked']:,} reports acknowledged "
                     f"and stored once; reports p50 {report.get('p50_ms', 0):.0f} ms, p99 {report.get('p99_ms', 0):.0f} ms;"
                     f" 5xx {errors_5xx or 'none'}; {len(summary['checks'])} end checks",
              target="nothing accepted lost; no 500; 503 + Retry-After only during the PostgreSQL restart",
              baseline="—", ratio="—", verdict=passed)


def run(args, stack: Stack, gateway: SmsGateway, workdir: Path) -> tuple[bool, dict]:
    t_setup = time.monotonic()
    log(f"gridgov soak: {args.minutes:g} min day, faults {'on' if args.faults else 'off'}, "
        f"{args.workers} grid workers / {args.dispatchers} dispatchers / {args.handlers} handlers / "
        f"{args.supervisors} supervisors, {args.report_rate:g} reports/s; work directory {workdir}")
    timings = {}
    mark = time.monotonic()
    stack.ask_for_relay_follower()
    stack.init_postgres()
    stack.start_postgres()
    stack.start_redis()
    stack.create_database()
    timings["cluster"] = time.monotonic() - mark
    for step in (("db", "upgrade"), ("demo", "load", "--seed", "7", "--password", "soak-pass-123",
                                     "--events", str(args.demo_events))):
        mark = time.monotonic()
        result = stack.flask(*step)
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(step)} failed:\n{result.stdout}\n{result.stderr}")
        timings[" ".join(step[:2])] = time.monotonic() - mark
    mark = time.monotonic()
    plan_file = workdir / "plan.json"
    result = subprocess.run([sys.executable, "-m", "bench.soak_app", "setup", str(plan_file),
                             "--workers", str(args.workers), "--dispatchers", str(args.dispatchers),
                             "--handlers", str(args.handlers), "--supervisors", str(args.supervisors)],
                            cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"soak setup failed:\n{result.stdout}\n{result.stderr}")
    plan = json.loads(plan_file.read_text())
    timings["staff and tokens"] = time.monotonic() - mark
    mark = time.monotonic()
    stack.start_web(wait=False)
    stack.start_background()
    stack.start_supervisor()
    if not wait_until_serving(*stack.base_url):
        raise RuntimeError("the app does not answer /healthz")
    log(f"stack: PostgreSQL 15 private cluster on :{stack.pg_port} (fsync on), redis-server :{stack.redis_port} "
        f"(no persistence), gunicorn -w {args.web_workers} on :{stack.web_port}, {args.rq_workers} rq workers, "
        f"jobs cron every {stack.cron_interval} s, relay follower {'yes' if stack.relay_follower else 'no (no such command)'}; "
        f"demo county + {args.demo_events} demo events; ready in {time.monotonic() - t_setup:.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())}, processes {time.monotonic() - mark:.0f} s)")

    day_seconds = args.minutes * 60
    config = LoadConfig(host=stack.base_url[0], port=stack.base_url[1], plan=plan, seconds=day_seconds,
                        report_rate=args.report_rate, report_threads=16 if args.short else 24,
                        think_scale=1.0, flush_seconds=120.0 if args.short else 180.0)
    day = Day(config, log=log)
    faults = Faults(stack, fault_plan(args), day_seconds, args.redis_down, rq_kill_group=not args.short)
    log("day starts; faults:")
    day.start()
    stack.started_at = day.t0  # the supervisor's notes on the same clock as the faults
    faults.start(day.t0)
    while time.monotonic() - day.t0 < day_seconds:
        time.sleep(1.0)
    faults.stop.set()
    faults.thread.join(timeout=args.redis_down + 120)
    seconds = day.finish()
    flush_took = time.monotonic() - day.t0 - seconds
    log(f"day over after {seconds:.0f} s; phones flushed their outboxes in {flush_took:.1f} s")
    drained, state, drain_took, job_rate = drain(stack, args.drain_timeout)
    log(f"workers {'drained' if drained else 'did NOT drain'} in {drain_took:.0f} s "
        f"({job_rate:.1f} outbox jobs/s finished meanwhile): {state}")
    failed_jobs = failed_job_samples(stack) if state.get("failed_jobs") else []

    run_file = workdir / "run.json"
    run_file.write_text(json.dumps({"acked": day.acked, "failed": day.failed, "sms_received": dict(gateway.received),
                                    "hard_rq_kills": faults.hard_rq_kills}))
    stack.stop_all()  # the checks read a quiet database (and the cluster is restarted for them)
    stack.start_postgres()
    audit = stack.flask("audit", "verify", timeout=600)
    checks_file = workdir / "checks.json"
    result = subprocess.run([sys.executable, "-m", "bench.soak_app", "check", str(run_file), str(checks_file)],
                            cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"soak checks failed to run:\n{result.stdout}\n{result.stderr}")
    app_checks = json.loads(checks_file.read_text())

    # ---- the report
    rec = day.recorder
    totals = rec.totals()
    requests = sum(totals.values())
    acked = day.acked
    first_201 = sum(1 for a in acked.values() if a["first_status"] == 201)
    after_lost = sum(1 for a in acked.values() if a["first_status"] == 200)
    retried = sum(1 for a in acked.values() if a["attempts"] > 1)
    log("")
    log("faults made:")
    for line in faults.done or ["  none"]:
        log(line)
    log("")
    log(f"throughput over the {seconds:.0f} s day: {requests / seconds:.1f} requests/s, "
        f"{len(acked) / seconds:.2f} reports/s acknowledged, {sum(day.actions.values()) / seconds:.2f} workflow actions/s")
    log(f"reports: {day.reports_started} sent, {len(acked)} acknowledged ({first_201} × 201 created, {after_lost} × 200 "
        f"replay = the first answer was lost), {retried} needed retries (same UUID), "
        f"{sum(1 for a in acked.values() if a.get('replayed'))} deliberately re-sent after their 2xx, "
        f"{len(day.failed)} given up")
    log("workflow actions that succeeded: " + ", ".join(f"{k} {v}" for k, v in sorted(day.actions.items())))
    log("")
    log("per route (latency of every answered request, errors included):")
    for line in route_table(day, seconds):
        log(line)
    log("")
    log("answers by outcome: " + ", ".join(f"{k}: {v}" for k, v in sorted(totals.items())))
    server_errors = {k: v for k, v in totals.items() if k.startswith("5") and k != "503 Retry-After"}
    other_4xx = {k: v for k, v in totals.items() if k not in ACCEPTABLE and not k.startswith("5")}
    log(f"  5xx other than 503 + Retry-After: {sum(server_errors.values())} {server_errors or ''}")
    log(f"  503 with Retry-After (acceptable while the database restarts): {totals.get('503 Retry-After', 0)}")
    log(f"  broken connections (gunicorn worker killed; retried by the phones): {totals.get('connection error', 0)}")
    log(f"  409 conflicts (two people on one event; expected): {totals.get('409 conflict', 0)}")
    log(f"  other 4xx: {sum(other_4xx.values())} {other_4xx or ''}")
    if rec.timeline:
        log("non-2xx answers over time (10 s buckets):")
        for line in bad_timeline(day):
            log(line)
    if rec.samples:
        log("samples of unexpected answers:")
        for sample in rec.samples[:8]:
            log(f"  {sample['route']} → {sample['status']}: {sample['body'][:200]}")
    restarts = {name: (item.planned_exits, item.unplanned_exits) for name, item in stack.processes.items()}
    log("process exits (planned kills, other exits — the supervisor restarted each): "
        + ", ".join(f"{k} {p}/{u}" for k, (p, u) in restarts.items()))
    if failed_jobs:
        log("failed rq jobs: " + "; ".join(failed_jobs))

    checks: list[tuple[str, bool, str]] = []
    checks.append(("no 500 (or other 5xx except 503 with Retry-After)", not server_errors,
                   f"{sum(server_errors.values())} {server_errors or ''}"))
    checks.append(("no unexpected 4xx (bad request, forbidden, not found …)", not other_4xx,
                   f"{sum(other_4xx.values())} {other_4xx or ''}"))
    checks.append(("every report acknowledged in the end (the phones gave up on none)", not day.failed,
                   f"{len(day.failed)} given up" + (f", e.g. {next(iter(day.failed.values()))}" if day.failed else "")))
    # A 503 is the documented answer while the database restarts; anywhere else it means trouble.
    stray_503 = [t for t, _route, outcome in rec.timeline if outcome == "503 Retry-After"
                 and not any(began - 1 <= t <= back + RESTART_GRACE_S for began, back in faults.pg_restarts)]
    checks.append((f"503s only while PostgreSQL restarted (up to {RESTART_GRACE_S} s after it was back)",
                   not stray_503, f"{totals.get('503 Retry-After', 0)} in all, {len(stray_503)} outside"
                   + (f", first at t={stray_503[0]} s" if stray_503 else "")))
    checks.append(("replays after a 2xx answered 200 with the same event", not day.replay_mismatch,
                   f"{len(day.replay_mismatch)} mismatches"))
    checks.append(("faults made as planned", not faults.errors, "; ".join(faults.errors) or
                   f"{len(faults.done)} steps"))
    checks.append(("workers drained (outbox sent, queue and registries empty, SMS out)", drained, json.dumps(state)))
    checks.append(("no failed rq jobs", not state.get("failed_jobs"), f"{state.get('failed_jobs', '?')} failed"))
    checks.append(("flask audit verify", audit.returncode == 0, (audit.stdout or audit.stderr).strip()[-300:]))
    for item in app_checks["checks"]:
        detail = item["detail"] + (f"; e.g. {item['samples'][:3]}" if item.get("samples") and not item["ok"] else "")
        checks.append((item["name"], item["ok"], detail))
    log("")
    log(f"database after the run: {json.dumps(app_checks['figures'], ensure_ascii=False)}")
    log("end checks:")
    for name, ok, detail in checks:
        log(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    passed = all(ok for _, ok, _ in checks)
    log("PASS" if passed else "FAIL")
    summary = {
        "passed": passed, "seconds": seconds, "requests": requests, "acked": len(acked), "failed": len(day.failed),
        "retried": retried, "statuses": dict(totals), "actions": dict(day.actions), "faults": faults.done,
        "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in checks], "figures": app_checks["figures"],
        "routes": {r: {"count": sum(c.values()), "p50_ms": percentile(rec.latencies.get(r, []), 0.5) * 1000,
                       "p99_ms": percentile(rec.latencies.get(r, []), 0.99) * 1000, "statuses": dict(c)}
                   for r, c in rec.statuses.items()},
        "report_route": REPORT_ROUTE,
    }
    return passed, summary


if __name__ == "__main__":
    sys.exit(main())
