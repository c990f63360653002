"""Reference rows (users, categories, departments) stay loaded across workflow commits in one session.

They change only by an administrator's hand, while a job's loop or a bulk import fires thousands of
actions in one session: re-reading the actor, the category and the department after every commit
would double the statements of an action. So a workflow commit does not expire what is loaded, and
the reference rows an action looked up are pinned for the session's lifetime (a request, a job),
because the identity map holds objects weakly and would otherwise drop a department nobody
references any more.
"""
from __future__ import annotations

from sqlalchemy import inspect

from gridgov.extensions import db
from gridgov.models import Category, Department, User

REFERENCE_TYPES = (User, Category, Department)
_PINNED = "gridgov_reference_rows"


def keep_loaded(row):
    """Pin a reference row for the rest of the session; returns it."""
    if row is not None:
        db.session().info.setdefault(_PINNED, set()).add(row)
    return row


def commit_keeping_loaded(event=None) -> None:
    """Commit without expiring: what the action wrote is what the objects hold, and the next action
    loads its event afresh anyway (populate_existing). Only the event's collections are expired, so
    a page rendered after the action sees the new task and log row."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    if event is not None:
        session.expire(event, EVENT_COLLECTIONS)


def forget_loaded(model, row_id) -> None:
    """Expire the session's object for a row written behind the ORM's back (an action fired on plain
    rows), if it holds one: its next use reads the row again."""
    session = db.session()
    if not session.identity_map:
        return
    loaded = session.identity_map.get(inspect(model).identity_key_from_primary_key((row_id,)))
    if loaded is not None:
        session.expire(loaded)


EVENT_COLLECTIONS = ["tasks", "photos", "log", "open_task"]
