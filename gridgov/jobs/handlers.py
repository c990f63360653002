"""Outbox kinds → handler functions. A handler gets the OutboxMessage and must be idempotent.

Handlers run in a worker (rq) or inline after commit; either way `gridgov.jobs.tasks.execute` calls
them inside a fresh app context and commits after they return.
"""
from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable

from gridgov.extensions import db
from gridgov.jobs.outbox import KINDS
from gridgov.models import Event, OutboxMessage
from gridgov.models.events import DEADLINE_STATES
from gridgov.notify import recipients
from gridgov.notify.deliver import notify_users

# TODO(lead): once gridgov/services/workflow.py lands, replace the two lines below with
#   from gridgov.services.workflow import fire_action
# and delete the "pending" branch in `escalate`.
_WORKFLOW = (importlib.import_module("gridgov.services.workflow")
             if importlib.util.find_spec("gridgov.services.workflow") else None)
fire_action = getattr(_WORKFLOW, "fire_action", None)

ESCALATION_PENDING = "pending: gridgov.services.workflow.fire_action is not available yet"

HANDLERS: dict[str, Callable[[OutboxMessage], None]] = {}


def handles(kind: str):
    def register(function: Callable[[OutboxMessage], None]):
        HANDLERS[kind] = function
        return function
    return register


def message_key(message: OutboxMessage) -> str:
    return message.dedupe_key or f"outbox:{message.id}"


@handles("notify")
def notify(message: OutboxMessage) -> None:
    """payload: topic, and event_id with audience names and/or explicit user_ids; optional title."""
    payload = message.payload
    event = db.session.get(Event, payload["event_id"]) if payload.get("event_id") else None
    users = recipients.users_by_id(payload.get("user_ids") or [])
    if event is not None and payload.get("audience"):
        users = _unique(users + recipients.users_for_event(event, payload["audience"]))
    notify_users(users, key=message_key(message), topic=payload.get("topic", "notice"), event=event,
                 title=payload.get("title"))


@handles("deadline")
def deadline(message: OutboxMessage) -> None:
    """The sweep raised an event's deadline level: tell its department and township dispatchers once."""
    level = int(message.payload["level"])
    event = db.session.get(Event, message.payload["event_id"])
    # Stale when the event left the running states or got a new deadline (level reset) meanwhile.
    if event is None or event.state not in DEADLINE_STATES or event.deadline_level < level:
        return
    audience = ["department", "township_dispatchers"] + (["county_dispatchers"] if level >= 3 else [])
    notify_users(recipients.users_for_event(event, audience), key=message_key(message),
                 topic=f"deadline_{level}", event=event)


@handles("escalate")
def escalate(message: OutboxMessage) -> None:
    """Overdue beyond the margin: escalate to the county through the workflow (system actor)."""
    if fire_action is None:
        message.last_error = ESCALATION_PENDING
        return
    event = db.session.get(Event, message.payload["event_id"])
    if event is None or event.state not in DEADLINE_STATES:
        return
    fire_action(event.id, "escalate", user=None, inputs={"comment": message.payload.get("comment", "")})


@handles("verify_reminder")
def verify_reminder(message: OutboxMessage) -> None:
    event = db.session.get(Event, message.payload["event_id"])
    if event is None or event.state != "handled" or event.verified:
        return
    notify_users(recipients.users_for_event(event, ["grid_workers", "reporter"]), key=message_key(message),
                 topic="verify_reminder", event=event)


def _unique(users):
    seen, result = set(), []
    for user in users:
        if user.id not in seen:
            seen.add(user.id)
            result.append(user)
    return result


assert set(HANDLERS) == KINDS, f"outbox kinds without handler: {KINDS ^ set(HANDLERS)}"
