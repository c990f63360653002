"""Reference rows (users, categories, departments) stay loaded across workflow commits in one session.

They change only by an administrator's hand, while a job's loop or a bulk import fires thousands of
actions in one session: re-reading the actor, the category and the department after every commit
would double the statements of an action. So a workflow commit does not expire what is loaded, and
the reference rows an action looked up are pinned for the session's lifetime (a request, a job),
because the identity map holds objects weakly and would otherwise drop a department nobody
references any more.
"""
from __future__ import annotations

from gridgov.extensions import db
from gridgov.models import Category, Department, User

REFERENCE_TYPES = (User, Category, Department)
_PINNED = "gridgov_reference_rows"


def keep_loaded(row):
    """Pin a reference row for the rest of the session; returns it."""
    if row is not None:
        db.session().info.setdefault(_PINNED, set()).add(row)
    return row


def commit_keeping_loaded(event) -> None:
    """Commit without expiring: what the action wrote is what the objects hold, and the next action
    loads its event afresh anyway (populate_existing). Only the event's collections are expired, so
    a page rendered after the action sees the new task and log row."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    session.expire(event, EVENT_COLLECTIONS)


EVENT_COLLECTIONS = ["tasks", "photos", "log", "open_task"]
