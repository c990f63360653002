"""rq plumbing: one Redis connection per URL, the app's queue, job ids and the retry policy."""
from __future__ import annotations

import threading
import time

import redis
from flask import Flask
from rq import Queue, Retry

# Short timeouts: a web request that commits while Redis is down must not hang; its rows wait.
CONNECT_TIMEOUT_S = 1.0
# After a failed attempt, skip Redis for this long in this process (the rows wait in the outbox).
BACKOFF_S = 5.0

_connections: dict[str, redis.Redis] = {}
_down_until: dict[str, float] = {}
_lock = threading.Lock()


class RedisUnavailable(Exception):
    pass


def connection(url: str) -> redis.Redis:
    with _lock:
        conn = _connections.get(url)
        if conn is None:
            conn = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=5)
            _connections[url] = conn
        return conn


def is_backing_off(url: str) -> bool:
    return _down_until.get(url, 0.0) > time.monotonic()


def note_down(url: str) -> None:
    _down_until[url] = time.monotonic() + BACKOFF_S


def note_up(url: str) -> None:
    _down_until.pop(url, None)


def queue_for(app: Flask, conn: redis.Redis | None = None) -> Queue:
    url = app.config["REDIS_URL"]
    return Queue(app.config["RQ_QUEUE"], connection=conn or connection(url),
                 default_timeout=app.config["JOB_TIMEOUT_SECONDS"])


def retry_policy(app: Flask) -> Retry | None:
    if app.config["JOB_RETRY_MAX"] <= 0:
        return None
    return Retry(max=app.config["JOB_RETRY_MAX"], interval=list(app.config["JOB_RETRY_INTERVALS"]) or 0)


def job_id_for(outbox_id: int, queue_name: str = "gridgov") -> str:
    """Derived from the outbox row, so enqueuing the same row twice names the same rq job. rq's job keys
    are global to the Redis database, so the queue name is part of it: two deployments (or test runs)
    sharing one Redis must not overwrite each other's jobs. The default queue gives `gridgov-outbox-<id>`."""
    return f"{queue_name}-outbox-{outbox_id}"
