"""The soak run's private production stack: its own PostgreSQL 15 cluster and Redis, gunicorn, rq workers,
the cron scheduler and (when the app has it) the relay follower — all on this machine's loopback, all
started and stopped here, so the faults (restart, stop, kill -9) touch nothing anyone else uses.

A supervisor thread plays systemd's `Restart=always` for the background processes (rq workers, cron,
follower) and for the gunicorn master; gunicorn's master itself respawns its workers.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.deployed import niced_as

ROOT = Path(__file__).resolve().parents[1]
PG_BIN = Path(os.environ.get("GRIDGOV_SOAK_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = os.environ.get("GRIDGOV_SOAK_REDIS_SERVER", "redis-server")
PG_OS_USER = "postgres"  # initdb refuses root; the cluster runs as this user when we are root

# Speed without cheating on durability: fsync and synchronous_commit stay on (a commit the app
# acknowledged must survive the restart); the rest is sizing for a short, write-heavy run.
PG_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "shared_buffers": "'256MB'",
    "wal_buffers": "'16MB'",
    "max_wal_size": "'2GB'",
    "checkpoint_timeout": "'15min'",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "jit": "off",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] '",
}


def missing_prerequisites() -> list[str]:
    """What this machine lacks for a soak run (empty when it can run)."""
    missing = []
    for tool in ("initdb", "pg_ctl"):
        if not (PG_BIN / tool).is_file():
            missing.append(str(PG_BIN / tool))
    if shutil.which(REDIS_SERVER) is None:
        missing.append(REDIS_SERVER)
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            missing.append("runuser (to run initdb as a non-root user)")
        try:
            import pwd

            pwd.getpwnam(PG_OS_USER)
        except KeyError:
            missing.append(f"OS user {PG_OS_USER!r} (initdb refuses root)")
    return missing


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None) -> int:
    if preferred and port_is_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def children_of(pid: int) -> list[int]:
    """Direct children of a process, from /proc (gunicorn's workers are its master's children)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces: fields after the last ')'
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


@dataclass
class Managed:
    """One long-running process of the stack; `restart` says whether the supervisor brings it back."""

    name: str
    argv: list[str]
    log: Path
    restart: bool = True
    unit: str | None = None  # its systemd unit in config/systemd, whose priority (Nice=) it runs at
    proc: subprocess.Popen | None = None
    starts: int = 0
    expected_deaths: int = 0  # deaths we are about to cause (kill -9)
    planned_exits: int = 0
    unplanned_exits: int = 0
    exits: list[tuple[float, int]] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class Stack:
    def __init__(self, workdir: Path, *, web_workers: int = 4, rq_workers: int = 2, cron_interval: int = 60,
                 pg_port: int = 55433, redis_port: int = 6391, sms_gateway_url: str = "",
                 job_retry_intervals: str = "", log=print):
        self.workdir = workdir
        self.pgdata = workdir / "pgdata"
        self.logs = workdir / "logs"
        self.instance = workdir / "instance"
        self.web_workers = web_workers
        self.rq_worker_count = rq_workers
        self.cron_interval = cron_interval
        self.pg_port = free_port(pg_port)
        self.redis_port = free_port(redis_port)
        self.web_port = free_port()
        self.sms_gateway_url = sms_gateway_url
        self.job_retry_intervals = job_retry_intervals
        self.say = log
        self.started_at = time.monotonic()
        self.redis_proc: subprocess.Popen | None = None
        self.processes: dict[str, Managed] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.relay_follower = False
        self.redis_paused = False  # while the fault holds Redis down, nothing restarts it

    # ---------- URLs and environment ----------
    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/gridgov"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def base_url(self) -> tuple[str, int]:
        return "127.0.0.1", self.web_port

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDGOV_TEST_", "FLASK_"))}
        env.update({
            "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url, "SECRET_KEY": "soak-" + "s" * 40,
            "GRIDGOV_ENV": "production", "GRIDGOV_INSTANCE_DIR": str(self.instance),
            "GRIDGOV_UPLOAD_DIR": str(self.instance / "uploads"), "GRIDGOV_RQ_QUEUE": "gridgov",
            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
        })
        if self.job_retry_intervals:
            env["GRIDGOV_JOB_RETRY_INTERVALS"] = self.job_retry_intervals
        if self.sms_gateway_url:
            env["SMS_GATEWAY_URL"] = self.sms_gateway_url
            env["SMS_GATEWAY_TOKEN"] = "soak"
        return env

    def flask(self, *args: str, timeout: float = 600, input_text: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=self.env(),
                              capture_output=True, text=True, timeout=timeout, input=input_text)

    def now(self) -> float:
        return time.monotonic() - self.started_at

    # ---------- PostgreSQL ----------
    def _as_pg_user(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", PG_OS_USER, "--", *argv] if os.geteuid() == 0 else argv

    def pg_ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = self._as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), *args])
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def init_postgres(self) -> None:
        self.workdir.chmod(0o755)  # the postgres user must reach its data directory
        self.pgdata.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.pgdata, PG_OS_USER, PG_OS_USER)
        argv = self._as_pg_user([str(PG_BIN / "initdb"), "-D", str(self.pgdata), "-A", "trust", "-U", "postgres",
                                 "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr or result.stdout}")
        settings = dict(PG_SETTINGS, port=str(self.pg_port), unix_socket_directories=f"'{self.pgdata}'")
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write("\n# gridgov soak run\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    def start_postgres(self) -> None:
        result = self.pg_ctl("start", "-w", "-t", "60", "-l", str(self.pgdata / "server.log"))
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {result.stderr or result.stdout}\n{self.pg_log_tail()}")

    def restart_postgres(self) -> float:
        """`pg_ctl restart -m fast`: every connection is cut, the server is back when this returns."""
        started = time.monotonic()
        result = self.pg_ctl("restart", "-m", "fast", "-w", "-t", "60", "-l", str(self.pgdata / "server.log"))
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {result.stderr or result.stdout}")
        return time.monotonic() - started

    def stop_postgres(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self.pg_ctl("stop", "-m", "fast", "-w", "-t", "60")

    def pg_log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.pgdata / "server.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE gridgov")

    # ---------- Redis ----------
    def start_redis(self) -> None:
        argv = [REDIS_SERVER, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir), "--daemonize", "no", "--protected-mode", "yes"]
        log = open(self.logs / "redis.log", "ab")
        self.redis_proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        if not wait_for_port(self.redis_port, 15):
            raise RuntimeError("redis-server did not start")

    def stop_redis(self) -> None:
        """Shut Redis down (no persistence: whatever it held is gone when it comes back)."""
        if self.redis_proc is None:
            return
        self.redis_proc.terminate()
        try:
            self.redis_proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.redis_proc.kill()
            self.redis_proc.wait()
        self.redis_proc = None

    # ---------- app processes ----------
    def _spawn(self, item: Managed) -> None:
        log = open(item.log, "ab")
        log.write(f"\n--- start #{item.starts + 1} at t={self.now():.1f}s ---\n".encode())
        log.flush()
        item.proc = subprocess.Popen(item.argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=niced_as(item.unit) if item.unit else None)
        log.close()
        item.starts += 1

    def _add(self, name: str, argv: list[str], restart: bool = True, unit: str | None = None) -> Managed:
        item = Managed(name=name, argv=argv, log=self.logs / f"{name}.log", restart=restart, unit=unit)
        self.processes[name] = item
        self._spawn(item)
        return item

    def ask_for_relay_follower(self) -> None:
        """Does this app have a relay process (`jobs relay --follow`)? Asked early, answered in start_background."""
        self._relay_help = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "relay", "--help"],
                                            cwd=ROOT, env=self.env(), stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, text=True)

    def start_web(self, wait: bool = True) -> None:
        argv = [sys.executable, "-m", "gunicorn", "-w", str(self.web_workers), "-b", f"127.0.0.1:{self.web_port}",
                "--timeout", "60", "--graceful-timeout", "10", "--log-level", "warning", "wsgi:app"]
        self._add("gunicorn", argv)
        if wait and not wait_for_port(self.web_port, 60):
            raise RuntimeError(f"gunicorn did not start; see {self.logs / 'gunicorn.log'}")

    def start_background(self) -> None:
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        for i in range(1, self.rq_worker_count + 1):
            self._add(f"rq-worker-{i}", [*flask, "jobs", "worker"])
        self._add("cron", [*flask, "jobs", "cron", "--interval", str(self.cron_interval)])
        # The relay may live in its own process (`jobs relay --follow`, LISTEN/NOTIFY); run it when it exists.
        if getattr(self, "_relay_help", None) is None:
            self.ask_for_relay_follower()
        help_text, _ = self._relay_help.communicate(timeout=60)
        if "--follow" in help_text:
            self.relay_follower = True
            self._add("relay-follower", [*flask, "jobs", "relay", "--follow"], unit="gridgov-relay.service")

    def start_supervisor(self) -> None:
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor.start()

    def _supervise(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                for item in self.processes.values():
                    if item.proc is None or item.proc.poll() is None:
                        continue
                    code = item.proc.returncode
                    item.exits.append((self.now(), code))
                    planned = item.expected_deaths > 0
                    if planned:
                        item.expected_deaths -= 1
                        item.planned_exits += 1
                    else:
                        item.unplanned_exits += 1
                        self.say(f"  [t={self.now():6.1f}s] {item.name} exited with {code} (not by us)")
                    if not item.restart:
                        item.proc = None
                        continue
                    # systemd's RestartSec: a short pause, longer while Redis is held down
                    time.sleep(1.0)
                    self._spawn(item)
                    if not planned:
                        self.say(f"  [t={self.now():6.1f}s] supervisor restarted {item.name} (pid {item.pid})")

    # ---------- faults ----------
    def web_worker_pids(self) -> list[int]:
        master = self.processes["gunicorn"].pid
        return children_of(master) if master else []

    def kill_web_worker(self) -> int | None:
        pids = self.web_worker_pids()
        if not pids:
            return None
        victim = pids[len(pids) // 2]
        os.kill(victim, signal.SIGKILL)
        return victim

    def kill_rq_worker(self, name: str = "rq-worker-1", *, whole_group: bool = True) -> int | None:
        """kill -9 the worker (and, with whole_group, the work horse running a job, as a dead node would)."""
        with self._lock:
            item = self.processes.get(name)
            if item is None or item.proc is None or item.proc.poll() is not None:
                return None
            item.expected_deaths += 1
            pid = item.proc.pid
            try:
                if whole_group:
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                item.expected_deaths -= 1
                return None
            return pid

    # ---------- lifecycle ----------
    def stop_all(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        with self._lock:
            items = list(self.processes.values())
        for item in items:
            if item.proc is not None and item.proc.poll() is None:
                try:
                    os.killpg(item.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for item in items:
            if item.proc is None:
                continue
            try:
                item.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(item.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                item.proc.wait()
        self.stop_redis()
        self.stop_postgres()
