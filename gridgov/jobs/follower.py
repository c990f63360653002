"""The relay follower: `flask jobs relay --follow` sends outbox rows as soon as they are committed, off
the request path.

Without it, every commit that wrote outbox rows relays them itself (`setup._after_commit`): a second
transaction and a Redis pipeline inside the request. With a follower running, the web and job
processes skip that step: on PostgreSQL a trigger on `outbox` NOTIFYs the follower at commit (no extra
statement in the writing transaction), elsewhere it polls. The follower's heartbeat in Redis is how
the other processes know it is there; if it stops, within HEARTBEAT_TTL_S + ALIVE_CACHE_S they go
back to relaying after their own commits, and the periodic pass (`jobs cron`) sweeps up in between.

Once woken, the follower relays in rounds COALESCE_S apart for as long as rounds find rows, holding an
advisory lock that tells the trigger not to NOTIFY meanwhile: a notification per commit costs every
writing transaction a database-wide lock at commit and the follower a wake-up, for rows the next round
claims anyway. When a round finds nothing it lets the lock go, checks that no transaction that may
have skipped its NOTIFY is still open (else it relays again shortly and checks again), relays once
more, and only then sleeps (migration 0007_outbox_notify_when_idle holds the trigger's half of this).
"""
from __future__ import annotations

import logging
import threading
import time

import psycopg
import redis
from flask import Flask

from gridgov.jobs import queueing, relay

log = logging.getLogger(__name__)

CHANNEL = "gridgov_outbox"
# Advisory locks shared with the trigger (migration 0007_outbox_notify_when_idle): the follower holds
# AWAKE while it relays (writers then skip their NOTIFY); writers hold INFLIGHT shared until commit.
LOCK_CLASS, AWAKE_KEY, INFLIGHT_KEY = 7461, 1, 2
HEARTBEAT_TTL_S = 15
# Between two relay rounds, while rows keep coming: a stream of reports then costs one round (one
# claim, one Redis pipeline, about 2 ms of the follower's CPU and a statement) per COALESCE_S, not one
# per commit; a row waits at most this long (plus the round) before its job is queued.
COALESCE_S = 0.1
HEARTBEAT_EVERY_S = 3.0
ALIVE_CACHE_S = 5.0

_alive_cache: dict[str, tuple[float, bool]] = {}
_alive_lock = threading.Lock()


def heartbeat_key(app: Flask) -> str:
    return f"gridgov:relay-follower:{app.config['RQ_QUEUE']}"


def follower_alive(app: Flask) -> bool:
    """True when a follower has beaten recently (cached per process for ALIVE_CACHE_S)."""
    url = app.config.get("REDIS_URL")
    if not url:
        return False
    key = heartbeat_key(app)
    now = time.monotonic()
    with _alive_lock:
        seen = _alive_cache.get(key)
        if seen is not None and now - seen[0] < ALIVE_CACHE_S:
            return seen[1]
    alive = False
    if not queueing.is_backing_off(url):
        try:
            alive = bool(queueing.connection(url).exists(key))
        except redis.RedisError:
            queueing.note_down(url)
    with _alive_lock:
        _alive_cache[key] = (now, alive)
    return alive


def forget_alive_cache() -> None:
    with _alive_lock:
        _alive_cache.clear()


def _beat(app: Flask) -> None:
    try:
        queueing.connection(app.config["REDIS_URL"]).set(heartbeat_key(app), "1", ex=HEARTBEAT_TTL_S)
    except redis.RedisError as exc:  # the app processes then relay themselves; nothing is lost
        log.warning("relay follower: heartbeat failed (%s)", exc)


def _stop_beating(app: Flask) -> None:
    try:
        queueing.connection(app.config["REDIS_URL"]).delete(heartbeat_key(app))
    except redis.RedisError:
        pass


def _listen(app: Flask) -> psycopg.Connection | None:
    """A LISTENing connection on PostgreSQL; None elsewhere (the follower polls)."""
    from gridgov.extensions import db

    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() != "postgresql":
        return None
    conn = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False),
                           autocommit=True, connect_timeout=5)
    conn.execute(f"LISTEN {CHANNEL}")
    return conn


def _take_awake(listener: psycopg.Connection) -> bool:
    """Hold AWAKE (writers stop notifying) if nobody holds it shared right now: a writer that has
    just decided to notify, or another follower. Not waiting: the next round tries again."""
    return bool(listener.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, AWAKE_KEY)).fetchone()[0])


def _let_go(listener: psycopg.Connection) -> None:
    """Release AWAKE: from now on writers notify again."""
    listener.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, AWAKE_KEY))


def _writers_in_flight(listener: psycopg.Connection) -> bool:
    """True while a writer holds INFLIGHT, i.e. may have skipped its NOTIFY and not committed yet.
    Asked without waiting: a queued exclusive request would hold up every writer behind it, for as
    long as the slowest open transaction that wrote an outbox row."""
    return not listener.execute("SELECT pg_try_advisory_xact_lock(%s, %s)",
                                (LOCK_CLASS, INFLIGHT_KEY)).fetchone()[0]  # autocommit: released at once


def _drain(listener: psycopg.Connection, timeout: float) -> bool:
    """Consume the queued notifications, waiting up to `timeout` for the first; True if there was one."""
    woken = any(True for _ in listener.notifies(timeout=timeout, stop_after=1))
    if woken:
        for _ in listener.notifies(timeout=0.001):
            pass
    return woken


def follow(app: Flask, *, poll_seconds: float = 2.0, stop: threading.Event | None = None) -> None:
    """Relay until `stop` is set (or forever): at each notification, and every `poll_seconds` anyway;
    while rows keep coming, every COALESCE_S."""
    if not app.config.get("REDIS_URL"):
        raise RuntimeError("REDIS_URL is unset: commits run their jobs inline, there is nothing to follow")
    stop = stop or threading.Event()
    listener = None
    awake = False  # this follower holds AWAKE on the listener's session
    last_beat = 0.0
    try:
        while not stop.is_set():
            if time.monotonic() - last_beat >= HEARTBEAT_EVERY_S:
                _beat(app)
                last_beat = time.monotonic()
            try:
                if listener is None:
                    listener, awake = _listen(app), False
                if listener is not None and not awake:
                    awake = _take_awake(listener)
                result = relay.relay_pending(app)
                if result.waiting:  # Redis is down: rows wait; try again after the backoff
                    stop.wait(queueing.BACKOFF_S)
                    continue
                if listener is None:
                    stop.wait(poll_seconds)
                    continue
                if result.sent:  # busy: the next round after COALESCE_S, without notifications
                    stop.wait(COALESCE_S)
                    continue
                # Nothing came: sleep — once no writer that may have skipped its NOTIFY is still in
                # flight, and after one more round for the rows such writers committed meanwhile.
                if awake:
                    _let_go(listener)
                    awake = False
                if _writers_in_flight(listener):
                    stop.wait(COALESCE_S)
                    continue
                if relay.relay_pending(app).sent:
                    continue
                _drain(listener, 0)  # notifications of rows the rounds above relayed
                if _drain(listener, poll_seconds):
                    awake = _take_awake(listener)
                    stop.wait(COALESCE_S)  # gather the rest of a burst into the first round
            except (psycopg.Error, OSError) as exc:  # the database restarts: reconnect and carry on
                log.warning("relay follower: database unavailable (%s); retrying", exc)
                if listener is not None:
                    listener.close()  # its session's locks go with it
                listener, awake = None, False
                stop.wait(1.0)
            except Exception:  # noqa: BLE001 - a follower must outlive one bad round
                log.exception("relay follower: relay round failed")
                stop.wait(1.0)
    finally:
        if listener is not None:
            listener.close()
        _stop_beating(app)
