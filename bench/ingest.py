"""Benchmark: report ingestion through HTTP vs a bare Flask route inserting one row, same run.

Both apps run under gunicorn with the production settings of config/gunicorn.conf.py and 2 workers,
on 127.0.0.1, against one scratch PostgreSQL database `gridgov_bench_ingest` (the app's migrations,
the demo county, no events). The load generator is 32 concurrent clients (4 processes × 8 threads,
stdlib http.client, keep-alive where the server allows it) on the same machine, posting JSON reports
without photos:
  app   POST /api/v1/events with a bearer token (token lookup, validation, geofence, daily number,
        event + log + outbox rows in one transaction, the likely duplicates), deployed as in production:
        a `flask jobs relay --follow` process relays the outbox rows to Redis (rq) as commits NOTIFY
        it (while it is busy, in rounds 100 ms apart), so requests do not relay themselves
        (gridgov/jobs/follower.py); it runs on the same machine throughout the app's rounds, and its
        CPU counts against the app;
  bare  POST /bare: parse the JSON, INSERT one row, commit.
Each gets a warm-up, then N requests (default 20,000), sent in ROUNDS alternating rounds (bare, app,
bare, app …) so a busy moment on the shared machine weighs on both. Throughput is requests over the
summed seconds of a side's rounds; latencies are over all its requests. Targets: app throughput ≥ 50 %
of bare, app p99 ≤ 100 ms at 32 clients, zero errors, every report stored, the outbox relayed.

Where the CPU goes: around each round the bench reads the CPU seconds (utime + stime, /proc) of the
side's gunicorn processes, of the PostgreSQL backends connected to the scratch database, of the relay
follower (app side) and of the load generator's processes, and prints them per request. The machine
is shared, so these per-request figures are steadier than the rates.

`--relay request` runs the app without the follower instead: each request relays its outbox row after
its commit (a second transaction and a Redis pipeline in the request), to see what the follower saves.
`--without-fastpath` adds a side to the same alternating rounds: the app with GRIDGOV_API_FASTPATH=0,
every report through Flask's dispatch (gridgov/api/report_fastpath.py), to see what the fast path saves.
`--without-group-commit` adds one with GRIDGOV_REPORT_GROUP_COMMIT=0, every report committed alone
(gridgov/services/group_commit.py), to see what group commit saves.

Run: python bench/ingest.py [--reports 20000] [--clients 32] [--rounds 4] [--relay follower|request] [--without-fastpath] [--without-group-commit] [--keep]
     (GRIDGOV_BENCH_PG_URL overrides the admin URL, GRIDGOV_BENCH_REDIS_URL the Redis,
     GRIDGOV_BENCH_INGEST_DB the scratch database's name, so two runs on one server do not collide.)
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from types import SimpleNamespace
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.deployed import niced_as  # noqa: E402
from bench.scratch import ScratchDatabase  # noqa: E402
from bench.table import table_row  # noqa: E402

ADMIN_URL = os.environ.get("GRIDGOV_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("GRIDGOV_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
DB_NAME = os.environ.get("GRIDGOV_BENCH_INGEST_DB", "gridgov_bench_ingest")
TARGET_SHARE = 0.50
TARGET_P99_MS = 100.0
PROCESSES = 4


SCRATCH = ScratchDatabase(DB_NAME, ADMIN_URL)


def prepare(tmp: Path, queue: str) -> tuple[str, list[tuple[float, float]]]:
    """Migrate, load the demo county, issue a token; return it and points inside the grids."""
    import shapely
    from flask_migrate import upgrade

    from gridgov import create_app
    from gridgov.demo.load import load_demo
    from gridgov.extensions import db
    from gridgov.models import Area, User
    from gridgov.services.tokens import issue_token

    app = create_app({"SQLALCHEMY_DATABASE_URI": SCRATCH.url, "REDIS_URL": REDIS_URL, "RQ_QUEUE": queue,
                      "INSTANCE_DIR": str(tmp), "UPLOAD_DIR": str(tmp / "uploads"), "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        load_demo(seed=7, password="bench-pass-123", event_count=0)
        worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
        token, _ = issue_token(worker, 24)
        grids = [shapely.from_wkb(g) for g in
                 db.session.scalars(db.select(Area.geometry).where(Area.level == "grid").order_by(Area.code))]
        points = random_points(grids, 5000)
        db.session.remove()
        db.engine.dispose()
    with psycopg.connect(SCRATCH.url, autocommit=True) as conn:
        from bench.bare_ingest import CREATE

        conn.execute(CREATE)
    return token, points


def random_points(grids, count: int, seed: int = 11) -> list[tuple[float, float]]:
    """Points spread over the grids (a report's position is anywhere in its grid, not one spot)."""
    import random

    import shapely

    rng = random.Random(seed)
    points = []
    while len(points) < count:
        grid = grids[rng.randrange(len(grids))]
        min_x, min_y, max_x, max_y = grid.bounds
        x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
        if grid.contains(shapely.Point(x, y)):
            points.append((x, y))
    return points


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"
WORKERS = 2


def start_gunicorn(target: str, port: int, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "-w", str(WORKERS),
           "-b", f"127.0.0.1:{port}", "--log-level", "warning", target]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gunicorn {target} did not start")


@contextlib.contextmanager
def relay_follower(env: dict, queue: str):
    """A real `flask jobs relay --follow` process, as deployed beside the web workers."""
    import redis

    conn = redis.Redis.from_url(REDIS_URL)
    key = f"gridgov:relay-follower:{queue}"  # gridgov.jobs.follower.heartbeat_key
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "relay", "--follow"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=niced_as("gridgov-relay.service"))
    try:
        deadline = time.monotonic() + 30
        while not conn.exists(key):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the relay follower did not start")
            time.sleep(0.1)
        yield proc
    finally:
        stop(proc)


def gunicorn_settings() -> str:
    """The worker settings config/gunicorn.conf.py gives, for the report."""
    namespace: dict = {}
    exec(compile(GUNICORN_CONF.read_text(), str(GUNICORN_CONF), "exec"), namespace)
    threads = namespace.get("threads", 1)
    return f"worker_class={namespace.get('worker_class', 'sync')} threads={threads} workers={WORKERS}"


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def _client_process(port: int, path: str, headers: dict, bodies: list[bytes], threads: int):
    """One load-generator process: `threads` clients, each posting its share of the bodies in turn."""
    results: list[tuple[float, int]] = []
    lock = threading.Lock()
    shares = [bodies[i::threads] for i in range(threads)]

    def client(share):
        local = []
        conn = None
        for body in share:
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close" or response.will_close:
                    conn.close()
                    conn = None
            except Exception:
                status = -1
                if conn is not None:
                    conn.close()
                conn = None
            local.append((time.perf_counter() - started, status))
        with lock:
            results.extend(local)

    start = time.time()
    pool = [threading.Thread(target=client, args=(share,)) for share in shares]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return start, time.time(), results


def run_load(pool: ProcessPoolExecutor, port: int, path: str, headers: dict, bodies: list[bytes],
             clients: int, cpu: "CpuMeter | None" = None) -> tuple[float, list, dict]:
    """One round: (seconds from the first request to the last answer, [(latency, status)], CPU seconds
    per process group during the round)."""
    per_process = clients // PROCESSES
    chunks = [bodies[i::PROCESSES] for i in range(PROCESSES)]
    before = cpu.read() if cpu else {}
    futures = [pool.submit(_client_process, port, path, headers, chunk, per_process) for chunk in chunks]
    outcomes = [f.result() for f in futures]
    spent = cpu.spent_since(before) if cpu else {}
    start = min(o[0] for o in outcomes)
    end = max(o[1] for o in outcomes)
    return end - start, [r for o in outcomes for r in o[2]], spent


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3, the state, is index 0)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except OSError:
        return None


def process_cpu(pid: int) -> float:
    fields = _proc_stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def session_pids(sid: int) -> list[int]:
    """The processes of a session (gunicorn's master and workers were started in a session of their own)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _proc_stat(int(entry))
            if fields is not None and int(fields[3]) == sid:
                pids.append(int(entry))
    return pids


class CpuMeter:
    """CPU seconds spent by named groups of processes between two readings (pids listed afresh each time)."""

    def __init__(self, groups: dict):
        self.groups = groups  # name → function giving the group's current pids

    def read(self) -> dict:
        return {name: {pid: process_cpu(pid) for pid in pids()} for name, pids in self.groups.items()}

    def spent_since(self, before: dict) -> dict:
        after = self.read()
        return {name: sum(cpu - before[name].get(pid, 0.0) for pid, cpu in after[name].items())
                for name in after}


def database_backends(url: str):
    """The pids of the PostgreSQL backends connected to the scratch database, but the asking one."""
    conn = psycopg.connect(url, autocommit=True)

    def pids() -> list[int]:
        return [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    return conn, pids


def summary(rounds: list[tuple[float, list]]) -> dict:
    seconds = sum(r[0] for r in rounds)
    results = [x for r in rounds for x in r[1]]
    latencies = sorted(r[0] for r in results)
    errors = sum(1 for r in results if r[1] not in (200, 201))

    def pct(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {"requests": len(results), "seconds": seconds, "rps": len(results) / seconds,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": latencies[-1] * 1000, "errors": errors,
            "statuses": sorted({r[1] for r in results}),
            "round_rps": [len(r[1]) / r[0] for r in rounds],
            "cpu_ms": {name: 1000 * sum(r[2].get(name, 0.0) for r in rounds) / len(results)
                       for name in rounds[0][2]}}


LEAF_CATEGORIES = ("0101", "0102", "0103", "0104", "0105", "0201", "0202", "0301", "0302", "0303", "0401", "0402",
                   "0403", "0501")


def make_bodies(points, count: int, tag: str) -> list[bytes]:
    """Reports spread over the grids and a mix of categories, as a county's day brings them."""
    bodies = []
    for i in range(count):
        lon, lat = points[i % len(points)]
        bodies.append(json.dumps({
            "category": LEAF_CATEGORIES[i % len(LEAF_CATEGORIES)], "description": f"暴露垃圾，路边堆放 #{i}", "lon": lon, "lat": lat, "urgency": 1,
            "address": "人民路", "client_uuid": f"{tag}-{uuid.uuid4().hex}", "accuracy_m": 12,
        }, ensure_ascii=False).encode())
    return bodies


def clear_queue(queue: str) -> None:
    import redis
    from rq import Queue

    Queue(queue, connection=redis.Redis.from_url(REDIS_URL)).empty()


def show(name: str, r: dict) -> None:
    print(f"  {name:5s} {r['requests']:6d} requests in {r['seconds']:6.2f} s = {r['rps']:8.1f} req/s   "
          f"p50 {r['p50_ms']:6.1f} ms   p99 {r['p99_ms']:6.1f} ms   max {r['max_ms']:7.1f} ms   "
          f"errors {r['errors']}  statuses {r['statuses']}   rounds: "
          + " ".join(f"{x:.0f}" for x in r["round_rps"]) + " req/s")
    if r["cpu_ms"]:
        parts = [f"{k} {v:.2f}" for k, v in r["cpu_ms"].items() if v > 0 or k != "relay"]
        print(f"        CPU ms per request: {', '.join(parts)}; total {sum(r['cpu_ms'].values()):.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", "--requests", dest="requests", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--relay", choices=("follower", "request"), default="follower",
                        help="who relays the outbox: a `jobs relay --follow` process (as deployed) or each request")
    parser.add_argument("--without-fastpath", action="store_true",
                        help="also run the app with GRIDGOV_API_FASTPATH=0 (every report through Flask's dispatch) "
                             "as a third side of the same alternating rounds, to show what the report fast path saves")
    parser.add_argument("--without-group-commit", action="store_true",
                        help="also run the app with GRIDGOV_REPORT_GROUP_COMMIT=0 (every report committed alone) "
                             "as another side of the same alternating rounds, to show what group commit saves")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and leave servers' logs")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="gridgov-bench-ingest-"))
    queue = f"gridgov-bench-ingest-{uuid.uuid4().hex[:8]}"
    SCRATCH.recreate()
    token, points = prepare(tmp, queue)
    env = dict(os.environ, DATABASE_URL=SCRATCH.url, BARE_DATABASE_URL=SCRATCH.url, REDIS_URL=REDIS_URL,
               GRIDGOV_RQ_QUEUE=queue, GRIDGOV_INSTANCE_DIR=str(tmp), SECRET_KEY="bench-secret")
    app_port, bare_port = free_port(), free_port()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    bare_bodies = make_bodies(points, args.requests, "b")
    app_bodies = make_bodies(points, args.requests, "a")
    chunk = -(-args.requests // args.rounds)
    bare_rounds, app_rounds = [], []
    print(f"ingest: gunicorn -c config/gunicorn.conf.py ({gunicorn_settings()}), PostgreSQL {DB_NAME}, "
          f"{args.clients} clients, {args.requests} JSON reports each in {args.rounds} alternating rounds, "
          f"{os.cpu_count()} CPUs shared by servers, relay follower, database and load generator")
    if args.relay == "follower":
        print("  outbox: a `flask jobs relay --follow` process relays it (as deployed); requests do not relay")
    else:
        print("  outbox: no follower; each request relays its row after its commit")
    with contextlib.ExitStack() as stack:
        stack.callback(clear_queue, queue)
        app_proc = start_gunicorn("wsgi:app", app_port, env)
        stack.callback(stop, app_proc)
        bare_proc = start_gunicorn("bench.bare_ingest:app", bare_port, env)
        stack.callback(stop, bare_proc)
        # The app with one feature off, as further sides: (label, what it saves, env, tag of its reports).
        wanted = []
        if args.without_fastpath:
            wanted.append(("app, fast path off", "the report fast path", {"GRIDGOV_API_FASTPATH": "0"}, "o"))
        if args.without_group_commit:
            wanted.append(("app, group commit off", "group commit", {"GRIDGOV_REPORT_GROUP_COMMIT": "0"}, "g"))
        variants = []
        for label, feature, overrides, tag in wanted:
            port = free_port()
            proc = start_gunicorn("wsgi:app", port, dict(env, **overrides))
            stack.callback(stop, proc)
            variants.append(SimpleNamespace(label=label, feature=feature, tag=tag, port=port, proc=proc, rounds=[]))
        follower = stack.enter_context(relay_follower(env, queue)) if args.relay == "follower" else None
        pool = stack.enter_context(ProcessPoolExecutor(PROCESSES))
        run_load(pool, bare_port, "/bare", headers, make_bodies(points, args.warmup, "wb"), args.clients)
        run_load(pool, app_port, "/api/v1/events", headers, make_bodies(points, args.warmup, "wa"), args.clients)
        for variant in variants:
            run_load(pool, variant.port, "/api/v1/events", headers, make_bodies(points, args.warmup, "w" + variant.tag),
                     args.clients)
        backends_conn, backends = database_backends(SCRATCH.url)
        stack.callback(backends_conn.close)
        load = lambda: list(pool._processes)  # noqa: E731 - the load generator's processes
        bare_cpu = CpuMeter({"server": lambda: session_pids(bare_proc.pid), "database": backends, "load": load})
        app_groups = {"server": lambda: session_pids(app_proc.pid), "database": backends, "load": load}
        if follower is not None:
            app_groups["relay"] = lambda: session_pids(follower.pid)
        app_cpu = CpuMeter(app_groups)
        for variant in variants:
            variant.cpu = CpuMeter(dict(app_groups, server=lambda pid=variant.proc.pid: session_pids(pid)))
            variant.bodies = make_bodies(points, args.requests, variant.tag)
        for start in range(0, args.requests, chunk):
            bare_rounds.append(run_load(pool, bare_port, "/bare", headers, bare_bodies[start:start + chunk],
                                        args.clients, bare_cpu))
            app_rounds.append(run_load(pool, app_port, "/api/v1/events", headers, app_bodies[start:start + chunk],
                                       args.clients, app_cpu))
            for variant in variants:
                variant.rounds.append(run_load(pool, variant.port, "/api/v1/events", headers,
                                               variant.bodies[start:start + chunk], args.clients, variant.cpu))
        time.sleep(2.0)  # the follower's last round
    with psycopg.connect(SCRATCH.url) as conn:
        stored = conn.execute("SELECT count(*) FROM events WHERE client_uuid LIKE 'a-%'").fetchone()[0]
        unsent = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
    if not args.keep:
        SCRATCH.drop()

    bare, app = summary(bare_rounds), summary(app_rounds)
    share = app["rps"] / bare["rps"]
    print("results:")
    show("bare", bare)
    show("app", app)
    for variant in variants:
        off = summary(variant.rounds)
        show(variant.label, off)
        print(f"  {variant.feature}: CPU per report {sum(off['cpu_ms'].values()):.2f} → {sum(app['cpu_ms'].values()):.2f} ms "
              f"(server {off['cpu_ms']['server']:.2f} → {app['cpu_ms']['server']:.2f}, database "
              f"{off['cpu_ms']['database']:.2f} → {app['cpu_ms']['database']:.2f}), "
              f"{off['rps']:.1f} → {app['rps']:.1f} req/s, p99 {off['p99_ms']:.1f} → {app['p99_ms']:.1f} ms (same rounds)")
    print(f"  events stored by the measured run: {stored} (expected {args.requests}); "
          f"outbox rows left unsent: {unsent}")
    checks = [
        (f"throughput app/bare = {share:.1%} (target ≥ {TARGET_SHARE:.0%})", share >= TARGET_SHARE),
        (f"app p99 = {app['p99_ms']:.1f} ms (target ≤ {TARGET_P99_MS:.0f} ms at {args.clients} clients)",
         app["p99_ms"] <= TARGET_P99_MS),
        (f"errors = {app['errors']} app, {bare['errors']} bare (target 0)", app["errors"] == 0 and bare["errors"] == 0),
        (f"rows = {stored} (target {args.requests})", stored == args.requests),
        (f"outbox relayed: {unsent} unsent (target 0)", unsent == 0),
    ]
    for text, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    passed = all(ok for _, ok in checks)
    print("PASS" if passed else "FAIL")
    table_row(f"ingest: {args.requests:,} JSON reports, {args.clients} clients, gunicorn -w 2"
              + ("" if args.relay == "follower" else ", requests relay"),
              figure=f"{app['rps']:.1f} req/s, p50 {app['p50_ms']:.0f} ms, p99 {app['p99_ms']:.0f} ms, "
                     f"{app['errors']} errors, {stored:,} rows",
              target=f"≥ {TARGET_SHARE:.0%} of the bare route's throughput, p99 ≤ {TARGET_P99_MS:.0f} ms, zero errors",
              baseline=f"bare one-row insert route {bare['rps']:.1f} req/s, p99 {bare['p99_ms']:.0f} ms",
              ratio=f"{share:.1%}", verdict=passed)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
