"""gunicorn settings for the web processes: `gunicorn -c config/gunicorn.conf.py wsgi:app`.

Chosen by measurement with bench/ingest.py (see README, Operations). Override per host with
GUNICORN_CMD_ARGS or command-line flags (`-w`, `-b`).
"""
import multiprocessing
import os

bind = os.environ.get("GRIDGOV_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GRIDGOV_WORKERS", multiprocessing.cpu_count()))
worker_class = "sync"
threads = 1
