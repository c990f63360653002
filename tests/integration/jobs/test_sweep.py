"""The deadline sweep marks exactly what a brute-force reading of the rules marks, once."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from gridgov.extensions import db
from gridgov.jobs.sweep import run_sweep
from gridgov.models import Event, Notification, OutboxMessage
from gridgov.models.events import DEADLINE_STATES

from tests.integration.jobs.conftest import add_event, demo_users, event_values

NOW = datetime(2026, 11, 22, 10, 0, 30)  # :30 s, while every stored time is on a whole minute:
# no event sits exactly on a threshold, so float rounding in SQL cannot flip a comparison.
STATES = ["dispatched"] * 4 + ["in_progress"] * 3 + ["handled", "closed", "reported", "returned", "escalated"]


def _generate(demo, n: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        state = rng.choice(STATES)
        dispatched = NOW - timedelta(minutes=rng.randint(1, 60 * 24 * 6))
        deadline = None if rng.random() < 0.1 else dispatched + timedelta(minutes=rng.randint(30, 60 * 24 * 7))
        handled = NOW - timedelta(minutes=rng.randint(1, 60 * 24 * 3)) if state == "handled" else None
        rows.append(event_values(
            demo, state=state, dispatched_at=None if rng.random() < 0.05 else dispatched,
            registered_at=dispatched - timedelta(minutes=5), reported_at=dispatched - timedelta(minutes=30),
            deadline=deadline, deadline_level=rng.choice([0, 0, 0, 0, 1, 2]), handled_at=handled,
            verified=rng.random() < 0.3,
        ))
    db.session.execute(insert(Event), rows)
    db.session.commit()


def _expected(rows, now, config):
    share = config["DEADLINE_WARNING_SHARE"]
    escalate_before = now - timedelta(hours=config["ESCALATE_AFTER_OVERDUE_HOURS"])
    remind_before = now - timedelta(hours=config["VERIFY_REMINDER_HOURS"])
    levels, keys = {}, set()
    for r in rows:
        levels[r.id] = r.deadline_level
        if r.state in DEADLINE_STATES and r.deadline is not None:
            start = r.dispatched_at or r.registered_at or r.reported_at
            if r.deadline <= escalate_before:
                target = 3
            elif r.deadline <= now:
                target = 2
            elif (now - start).total_seconds() >= share * (r.deadline - start).total_seconds():
                target = 1
            else:
                target = 0
            if target > r.deadline_level:
                levels[r.id] = target
                keys.add(("deadline", target, r.id))
                if target == 3:
                    keys.add(("escalate", 3, r.id))
        if r.state == "handled" and not r.verified and r.handled_at and r.handled_at <= remind_before:
            keys.add(("verify_reminder", f"verify:{r.id}:{r.handled_at.strftime('%Y%m%d%H%M%S')}", r.id))
    return levels, keys


def _outbox_facts() -> set:
    """(kind, level or dedupe key, event id) for every event named by an outbox row."""
    facts = set()
    for kind, key, payload in db.session.execute(select(OutboxMessage.kind, OutboxMessage.dedupe_key,
                                                        OutboxMessage.payload)):
        if kind == "verify_reminder":
            facts.add((kind, key, payload["event_id"]))
        else:
            for event_id in payload["event_ids"]:
                facts.add((kind, payload.get("level", 3), event_id))
    return facts


def _snapshot():
    return list(db.session.execute(select(Event.id, Event.state, Event.deadline, Event.deadline_level,
                                          Event.dispatched_at, Event.registered_at, Event.reported_at,
                                          Event.handled_at, Event.verified)))


def test_sweep_on_10000_events_matches_brute_force_and_is_idempotent(app_ctx):
    demo = demo_users()
    _generate(demo, 10_000)
    before = _snapshot()
    versions = dict(db.session.execute(select(Event.id, Event.version)).all())

    result = run_sweep(NOW, relay=False)

    levels, keys = _expected(before, NOW, app_ctx.config)
    db.session.expire_all()
    assert dict(db.session.execute(select(Event.id, Event.deadline_level)).all()) == levels
    outbox_rows = _outbox_facts()
    assert outbox_rows == keys
    # One batch row per level (all demo events share a department and township) and one for escalation.
    assert result.deadline_rows == 4 and result.reminder_rows == sum(1 for k in keys if k[0] == "verify_reminder")
    # A system mark must not make open forms stale.
    assert dict(db.session.execute(select(Event.id, Event.version)).all()) == versions

    again = run_sweep(NOW, relay=False)
    assert (again.deadline_rows, again.reminder_rows) == (0, 0)
    assert _outbox_facts() == keys
    assert dict(db.session.execute(select(Event.id, Event.deadline_level)).all()) == levels

    later = NOW + timedelta(hours=30)  # time moves on: only newly crossed thresholds announce
    before_later = _snapshot()
    run_sweep(later, relay=False)
    levels_later, keys_later = _expected(before_later, later, app_ctx.config)
    db.session.expire_all()
    assert dict(db.session.execute(select(Event.id, Event.deadline_level)).all()) == levels_later
    assert _outbox_facts() == keys | keys_later


def test_each_level_notifies_department_and_dispatchers_once(app_ctx):
    demo = demo_users()
    start = NOW - timedelta(hours=10)
    warned = add_event(demo, state="dispatched", dispatched_at=start, deadline=NOW + timedelta(hours=1))
    overdue = add_event(demo, state="in_progress", dispatched_at=start, deadline=NOW - timedelta(hours=1))
    late = add_event(demo, state="dispatched", dispatched_at=start - timedelta(days=3),
                     deadline=NOW - timedelta(hours=30))
    calm = add_event(demo, state="dispatched", dispatched_at=start, deadline=NOW + timedelta(days=3))
    db.session.commit()

    run_sweep(NOW)  # inline: the commit runs the handlers
    run_sweep(NOW)

    # Other tests may leave county dispatchers behind; they rightly hear of level 3, so look at ours.
    ours = (demo.handler.id, demo.dispatcher.id)
    got = sorted(db.session.execute(select(Notification.event_id, Notification.user_id, Notification.kind)
                                    .where(Notification.user_id.in_(ours))).all())
    expected = sorted((e.id, u.id, f"deadline_{lvl}") for e, lvl in ((warned, 1), (overdue, 2), (late, 3))
                      for u in (demo.handler, demo.dispatcher))
    assert got == expected
    assert db.session.get(Event, calm.id).deadline_level == 0
    escalation = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "escalate"))
    assert escalation.payload == {"event_ids": [late.id]} and not escalation.last_error
    escalated = db.session.get(Event, late.id)
    assert escalated.state == "escalated" and escalated.escalated_at is not None
    assert [(row.action, row.actor_role) for row in escalated.log] == [("escalate", "system")]
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.sent_at.is_(None))) == 0


def test_verification_reminder_reaches_the_grid_worker_once(app_ctx):
    demo = demo_users()
    old = add_event(demo, state="handled", handled_at=NOW - timedelta(hours=30), verified=False)
    add_event(demo, state="handled", handled_at=NOW - timedelta(hours=2), verified=False)
    add_event(demo, state="handled", handled_at=NOW - timedelta(hours=30), verified=True)
    db.session.commit()
    run_sweep(NOW)
    run_sweep(NOW + timedelta(minutes=1))
    got = db.session.execute(select(Notification.event_id, Notification.user_id, Notification.kind)).all()
    assert got == [(old.id, demo.worker.id, "verify_reminder")]
