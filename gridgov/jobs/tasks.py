"""Functions rq runs (by dotted name), and the one code path shared by rq and inline execution."""
from __future__ import annotations

import logging

from flask import Flask, current_app, has_app_context

from gridgov import create_app
from gridgov.extensions import db
from gridgov.jobs.handlers import HANDLERS
from gridgov.models import OutboxMessage
from gridgov.timeutil import utcnow

log = logging.getLogger(__name__)
_process_app: Flask | None = None


def app_for_job() -> Flask:
    """The running app, or (under a plain `rq worker`) one built from the environment, once per process."""
    global _process_app
    if has_app_context():
        return current_app._get_current_object()
    if _process_app is None:
        _process_app = create_app()
    return _process_app


def execute(outbox_id: int) -> str:
    """Run one outbox row's handler in the current app context, mark the row done and commit. Same for
    rq and inline. `done_at` is what tells a finished job from one Redis lost (jobs/recovery.py)."""
    message = db.session.get(OutboxMessage, outbox_id)
    if message is None:
        return "missing"
    HANDLERS[message.kind](message)
    message.done_at = utcnow()
    db.session.commit()
    return "done"


def run_outbox_message(outbox_id: int) -> str:
    """The rq job for one outbox row (job id `<queue>-outbox-<id>`). A fresh app context = a fresh session."""
    with app_for_job().app_context():
        return execute(outbox_id)

