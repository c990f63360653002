"""Outbox kinds → handler functions. A handler gets the OutboxMessage and must be idempotent.

Handlers run in a worker (rq) or inline after commit; either way `gridgov.jobs.tasks.execute` calls
them inside a fresh app context and commits after they return.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from gridgov.extensions import db
from gridgov.jobs.outbox import KINDS
from gridgov.models import Event, OutboxMessage
from gridgov.models.events import DEADLINE_STATES
from gridgov.notify import recipients
from gridgov.notify.deliver import notify_users
from gridgov.services.workflow import fire_action

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


def deadline_key(event: Event, level: int) -> str:
    """Once per event, level and deadline: a new deadline (extension, re-dispatch) announces again."""
    return f"deadline:{event.id}:{level}:{event.deadline:%Y%m%d%H%M%S}"


def _running_events(event_ids: list[int], level: int) -> list[Event]:
    """The batch's events still at (or past) the level; others changed since the sweep and are stale."""
    found = []
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start:start + 500]
        found += db.session.scalars(select(Event).where(
            Event.id.in_(chunk), Event.state.in_(DEADLINE_STATES), Event.deadline_level >= level,
            Event.deadline.is_not(None)).order_by(Event.id))
    return found


@handles("deadline")
def deadline(message: OutboxMessage) -> None:
    """The sweep raised these events to a level: tell each one's department and township dispatchers."""
    level = int(message.payload["level"])
    audience = ["department", "township_dispatchers"] + (["county_dispatchers"] if level >= 3 else [])
    for event in _running_events(message.payload["event_ids"], level):
        notify_users(recipients.users_for_event(event, audience), key=deadline_key(event, level),
                     topic=f"deadline_{level}", event=event)


@handles("escalate")
def escalate(message: OutboxMessage) -> None:
    """Overdue beyond the margin: escalate each event to the county through the workflow (system actor)."""
    for event in _running_events(message.payload["event_ids"], 3):
        if event.escalated_at is not None:
            continue  # already with the county: a re-run job must not escalate twice
        fire_action(event.id, "escalate", user=None, commit=False,
                    inputs={"reason": "超期未处置，系统自动上报县级 / overdue beyond the margin, escalated"})


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
