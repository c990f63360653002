"""The rq worker class that runs each job inside the app (settings, database engine).

rq forks a work horse per job; the horse inherits the parent's connection pool, which must not be
shared across processes, so the horse drops (without closing) the inherited connections first.
"""
from __future__ import annotations

import os

from flask import Flask
from rq import Worker

from gridgov.extensions import db


class AppWorker(Worker):
    app: Flask | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._parent_pid = os.getpid()

    def perform_job(self, job, queue, *args, **kwargs) -> bool:
        if self.app is None:
            return super().perform_job(job, queue, *args, **kwargs)
        with self.app.app_context():
            if os.getpid() != self._parent_pid:  # in a forked work horse
                for engine in db.engines.values():
                    engine.dispose(close=False)
            return super().perform_job(job, queue, *args, **kwargs)
