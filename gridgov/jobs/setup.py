"""Wire background jobs into an app: the after-commit relay hook and the /healthz figures.

Why an `after_commit` hook rather than an explicit call in every service: a service cannot forget
it, and it fires only after the commit succeeded. `outbox.add` flags the session; the hook sees the
flag and runs the relay in a *fresh app context* — hence a fresh scoped session — because the
committing session may not emit SQL inside its own after_commit event. Commits without outbox rows
cost nothing.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from gridgov.jobs import follower, outbox, relay, status

log = logging.getLogger(__name__)
_HOOK_INSTALLED = False


def init_app(app: Flask) -> None:
    _install_hook()
    app.extensions.setdefault("gridgov_health_extras", []).append(status.health_figures)


def _install_hook() -> None:
    global _HOOK_INSTALLED
    if _HOOK_INSTALLED:
        return
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_rollback)
    _HOOK_INSTALLED = True


def _after_commit(session: Session) -> None:
    if not session.info.pop(outbox.PENDING_FLAG, False) or not has_app_context():
        return
    relay_committed_rows()


def relay_committed_rows() -> None:
    """What follows a commit that wrote outbox rows: relay them now, unless the app leaves them to
    the periodic relay or a follower sends them. Also called directly after a statement that was its
    own transaction (the report statement), where there is no session commit to hook."""
    app = current_app._get_current_object()
    if not app.config.get("OUTBOX_RELAY_AFTER_COMMIT", True):
        return  # rows wait for the periodic relay (`jobs cron`), e.g. during bulk imports
    if follower.follower_alive(app):
        return  # `jobs relay --follow` was woken by the commit (NOTIFY) and sends them
    try:
        relay.relay_pending(app)
    except Exception:  # the state change is committed; the rows wait for the next relay
        log.exception("outbox relay after commit failed")


def _after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction: its outbox rows are gone
        session.info.pop(outbox.PENDING_FLAG, None)
