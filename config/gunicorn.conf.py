"""gunicorn settings for the web processes: `gunicorn -c config/gunicorn.conf.py wsgi:app`.

Chosen by measurement with bench/ingest.py (see README, Operations). Override per host with
GUNICORN_CMD_ARGS or command-line flags (`-w`, `-b`).

Threaded workers (gthread) rather than sync ones: a request spends part of its time waiting for
PostgreSQL (the report statement's round trip and its commit), which another thread of the same
process uses; and they keep HTTP connections alive between requests, where a sync worker closes
each one (a TCP handshake and teardown per request on both sides). On the 2-core benchmark machine,
in interleaved rounds at 32 clients, 8 threads per worker gave the most reports per second: about
1.7 times sync workers and 10 % more than 4 threads; 16 were no faster and had a longer p99. A
request uses one pooled database connection at a time (two, briefly, at a process's first report), so
8 threads stay within the pool of 10 + 10 (config/settings.py).
"""
import multiprocessing
import os

bind = os.environ.get("GRIDGOV_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GRIDGOV_WORKERS", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("GRIDGOV_THREADS", 8))
