"""The two ways of firing an action write the same rows, and random action sequences keep the service's
invariants on both databases.

On PostgreSQL the common action is fired on plain rows (workflow._fire_on_rows: one read, one
data-modifying statement); photos, extensions, supervisions and SQLite go through the ORM session
(workflow._fire_on_orm). Hypothesis draws action sequences (the right and the wrong actor, missing
inputs, photos or not); on PostgreSQL each sequence is fired on two events, once as deployed and once
with every action forced through the ORM, and the outcomes and the rows (event, tasks, log, outbox,
photos, extensions, supervisions) must match column by column. On both databases every sequence must
leave: version = 1 + the actions that succeeded, a log that replays to the stored state, intact hash
chains, and deadlines no earlier than dispatch.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gridgov.errors import AppError
from gridgov.extensions import db
from gridgov.models import Event, Extension, OutboxMessage, Photo, Supervision
from gridgov.services import workflow
from gridgov.services.audit import verify_all
from gridgov.timeutil import as_aware_utc, utcnow
from tests.helpers.images import candidates, jpeg_bytes
from tests.integration.test_workflow_service import new_event, user
from workflows import WorkflowError, get_engine

DISPATCHER, HANDLER, WORKER, SUPERVISOR = "demo_dispatcher", "demo_handler", "demo_worker", "demo_supervisor"
START = utcnow().replace(microsecond=0) - timedelta(days=20)

# (action, actor, inputs, photos?) — each also drawn with its inputs dropped, and sometimes by the wrong actor.
STEPS = [
    ("register", DISPATCHER, {}, False),
    ("reject", DISPATCHER, {"reason": "不属于受理范围"}, False),
    ("dispatch", DISPATCHER, {"department": "handler"}, False),
    ("redispatch", DISPATCHER, {"department": "330521-SW"}, False),
    ("accept", HANDLER, {}, False),
    ("return", HANDLER, {"reason": "非本部门职责"}, False),
    ("submit_result", HANDLER, {"comment": "已清运"}, True),
    ("request_extension", HANDLER, {"reason": "需协调施工单位", "deadline": "later"}, False),
    ("approve_extension", DISPATCHER, {}, False),
    ("refuse_extension", DISPATCHER, {"reason": "理由不充分"}, False),
    ("verify_pass", WORKER, {}, True),
    ("verify_fail", WORKER, {"reason": "仍有垃圾"}, True),
    ("close", DISPATCHER, {}, False),
    ("supervise", SUPERVISOR, {"comment": "请加快处置", "level": 2}, False),
    ("escalate", DISPATCHER, {"reason": "需县级协调"}, False),
    ("reopen", DISPATCHER, {"reason": "群众再次反映"}, False),
]

# Random steps alone seldom get past `dispatch`; a "next" token takes the next step of a long lawful
# path (with a return, an extension and a rework on the way), so most sequences go deep, with random
# and wrong steps in between.
LAWFUL = ["register", "dispatch", "accept", "request_extension", "approve_extension", "return", "redispatch",
          "accept", "submit_result", "verify_fail", "accept", "submit_result", "verify_pass", "close", "reopen"]
STEP_INDEX = {action: n for n, (action, *_rest) in enumerate(STEPS)}
VARIANTS = ["as listed", "as listed", "as listed", "no inputs", "wrong actor"]
step_strategy = st.one_of(st.just("next"), st.just("next"), st.just("next"),
                          st.tuples(st.integers(0, len(STEPS) - 1), st.sampled_from(VARIANTS)))


def _resolve(tokens) -> list[tuple[int, str]]:
    steps, taken = [], 0
    for token in tokens:
        if token == "next":
            token, taken = (STEP_INDEX[LAWFUL[taken % len(LAWFUL)]], "as listed"), taken + 1
        steps.append(token)
    return steps


sequences = st.lists(step_strategy, min_size=1, max_size=24).map(_resolve)

EXPECTED_ERRORS = (WorkflowError, AppError)


def fire_sequence(app, event_id: int, sequence) -> list[str]:
    """Fire the drawn steps an hour apart from START; the outcome of each: 'ok' or the error's class."""
    outcomes = []
    for n, (index, variant) in enumerate(sequence):
        action, actor, inputs, with_photos = STEPS[index]
        at = START + timedelta(hours=n + 1)
        inputs = dict(inputs)
        if inputs.get("department") == "handler":
            inputs["department"] = user(HANDLER).department_code
        if inputs.get("deadline") == "later":
            inputs["deadline"] = as_aware_utc(START + timedelta(days=60))
        if variant == "no inputs":
            inputs = {}
        if variant == "wrong actor":
            actor = WORKER if actor != WORKER else HANDLER
        photos = candidates(app, jpeg_bytes((n * 10 % 255, 90, 40))) if with_photos else ()
        try:
            workflow.fire_action(event_id, action, user=user(actor), inputs=inputs, photos=photos, at=at)
            outcomes.append("ok")
        except EXPECTED_ERRORS as exc:
            outcomes.append(type(exc).__name__)
    return outcomes


def check_invariants(event_id: int, outcomes: list[str]) -> None:
    db.session.expire_all()
    event = db.session.get(Event, event_id)
    assert event.version == 1 + outcomes.count("ok")
    log = event.log
    assert [row.seq for row in log] == list(range(1, len(log) + 1))
    assert len(log) == 1 + outcomes.count("ok")
    assert (event.log_seq, event.log_hash) in ((0, None), (log[-1].seq, log[-1].hash))
    # The log's rows are outcomes (action, from_state, to_state): the engine replays them to the state.
    assert get_engine(event.workflow).replay(log[1:], initial="reported") == event.state
    if event.state == "closed" and not event.self_resolved:
        assert event.verified
    if event.deadline is not None and event.dispatched_at is not None:
        assert event.deadline >= event.dispatched_at
    assert verify_all()[1] is None


def snapshot(event_id: int) -> dict:
    """Every row the actions wrote for the event, without the columns that differ between two events
    by construction (ids, number, the hashes that cover the event id, report-time stamps)."""
    db.session.expire_all()
    event = db.session.get(Event, event_id)

    def columns(row, skip=()):
        return {c.name: getattr(row, c.key) for c in row.__mapper__.column_attrs
                for c in c.columns if c.name not in skip}
    skip_ids = {"id", "event_id"}
    tasks = {t.id: t.seq for t in event.tasks}
    return {
        "event": columns(event, {"id", "number", "client_uuid", "updated_at", "log_hash", "reported_at"}),
        "tasks": [columns(t, skip_ids) for t in event.tasks],
        "log": [columns(r, skip_ids | {"prev_hash", "hash"}) | {"first": r.seq == 1} for r in event.log
                if r.seq > 1],
        "outbox": sorted((m.kind, m.payload.get("topic"), str(m.payload.get("audience")),
                          (m.dedupe_key or "").replace(f":{event_id}:", ":E:"))
                         for m in db.session.scalars(db.select(OutboxMessage))
                         if m.payload.get("event_id") == event_id),
        "photos": [columns(p, skip_ids | {"created_at", "task_id"}) | {"task_seq": tasks.get(p.task_id)}
                   for p in db.session.scalars(db.select(Photo).where(Photo.event_id == event_id).order_by(Photo.id))],
        "extensions": [columns(x, skip_ids | {"task_id"}) for x in
                       db.session.scalars(db.select(Extension).where(Extension.event_id == event_id)
                                          .order_by(Extension.id))],
        "supervisions": [columns(s, skip_ids) for s in
                         db.session.scalars(db.select(Supervision).where(Supervision.event_id == event_id)
                                            .order_by(Supervision.id))],
    }


@pytest.fixture
def forced_orm(monkeypatch):
    """Switch the plain-rows path off for the duration of a `with`."""
    import contextlib

    @contextlib.contextmanager
    def forced():
        with monkeypatch.context() as patch:
            patch.setattr(workflow, "_fire_on_rows", lambda *args, **kwargs: None)
            yield
    return forced


def test_random_sequences_keep_the_invariants_and_both_paths_write_the_same_rows(app_ctx, backend, forced_orm,
                                                                                  monkeypatch):
    count = {"n": 0}
    on_rows = []
    fire_on_rows = workflow._fire_on_rows

    def counted(*args, **kwargs):
        fired = fire_on_rows(*args, **kwargs)
        on_rows.append(fired is not None)
        return fired
    monkeypatch.setattr(workflow, "_fire_on_rows", counted)

    @settings(max_examples=20 if backend == "postgresql" else 12, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(sequence=sequences)
    def run(sequence):
        count["n"] += 1
        deployed = new_event(app_ctx, client_uuid=f"paths-{count['n']}-a", at=START).id
        outcomes = fire_sequence(app_ctx, deployed, sequence)
        check_invariants(deployed, outcomes)
        if backend != "postgresql":
            return
        orm = new_event(app_ctx, client_uuid=f"paths-{count['n']}-b", at=START).id
        with forced_orm():
            orm_outcomes = fire_sequence(app_ctx, orm, sequence)
        assert orm_outcomes == outcomes
        check_invariants(orm, orm_outcomes)
        assert snapshot(deployed) == snapshot(orm)

    run()
    if backend == "postgresql":  # the deployed runs did take the plain-rows path, and also fell back
        assert on_rows.count(True) > 20 and on_rows.count(False) > 0, (on_rows.count(True), on_rows.count(False))
