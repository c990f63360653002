"""The relay follower: `flask jobs relay --follow` sends outbox rows as soon as they are committed, off
the request path.

Without it, every commit that wrote outbox rows relays them itself (`setup._after_commit`): a second
transaction and a Redis pipeline inside the request. With a follower running, the web and job
processes skip that step: on PostgreSQL a trigger on `outbox` NOTIFYs the follower at commit (no extra
statement in the writing transaction), elsewhere it polls. The follower's heartbeat in Redis is how
the other processes know it is there; if it stops, within HEARTBEAT_TTL_S + ALIVE_CACHE_S they go
back to relaying after their own commits, and the periodic pass (`jobs cron`) sweeps up in between.
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
HEARTBEAT_TTL_S = 15
# After a notification wakes the follower, it waits this long for more before relaying: a burst of
# reports then costs one relay round (one claim, one Redis pipeline), not one round per commit.
COALESCE_S = 0.02
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


def follow(app: Flask, *, poll_seconds: float = 2.0, stop: threading.Event | None = None) -> None:
    """Relay until `stop` is set (or forever): at each notification, and every `poll_seconds` anyway."""
    if not app.config.get("REDIS_URL"):
        raise RuntimeError("REDIS_URL is unset: commits run their jobs inline, there is nothing to follow")
    stop = stop or threading.Event()
    listener = None
    last_beat = 0.0
    try:
        while not stop.is_set():
            if time.monotonic() - last_beat >= HEARTBEAT_EVERY_S:
                _beat(app)
                last_beat = time.monotonic()
            try:
                if listener is None:
                    listener = _listen(app)
                result = relay.relay_pending(app)
                if result.waiting:  # Redis is down: rows wait; try again after the backoff
                    stop.wait(queueing.BACKOFF_S)
                    continue
                if listener is None:
                    stop.wait(poll_seconds)
                else:
                    woken = any(True for _ in listener.notifies(timeout=poll_seconds, stop_after=1))
                    if woken:  # consume what is queued and what arrives within COALESCE_S
                        for _ in listener.notifies(timeout=COALESCE_S):
                            pass
            except (psycopg.Error, OSError) as exc:  # the database restarts: reconnect and carry on
                log.warning("relay follower: database unavailable (%s); retrying", exc)
                if listener is not None:
                    listener.close()
                listener = None
                stop.wait(1.0)
            except Exception:  # noqa: BLE001 - a follower must outlive one bad round
                log.exception("relay follower: relay round failed")
                stop.wait(1.0)
    finally:
        if listener is not None:
            listener.close()
        _stop_beating(app)
