"""The engine's behaviour in the domain's words: who may do what, the closed loop, and the mechanics of
binding a shared machine to plain objects and SQLAlchemy rows."""

import threading

import pytest

from wf_helpers import GOOD_INPUTS, Ev
from workflows import registry
from workflows.definition import WorkflowDef
from workflows.engine import Actor, Engine
from workflows.errors import (InvalidInput, MissingInput, NotAllowed, UnknownAction, UnknownWorkflow,
                              WorkflowError, WrongState)

dispatcher = Actor("dispatcher", in_area=True)
handler = Actor("handler", holds_task=True)
worker = Actor("grid_worker", in_grid=True)
supervisor = Actor("supervisor", in_area=True)


def inputs(*names, **extra):
    return {**{n: GOOD_INPUTS[n] for n in names}, **extra}


def test_the_closed_loop_from_report_to_close(default_engine):
    e, ev, flags = default_engine, Ev(), set()
    e.fire(ev, "register", dispatcher)
    e.fire(ev, "dispatch", dispatcher, inputs("department", "deadline"))
    e.fire(ev, "accept", handler)
    e.fire(ev, "submit_result", handler, inputs("comment", "photos"))
    assert ev.state == "handled"
    out = e.fire(ev, "verify_pass", worker, inputs("photos"))
    assert ev.state == "handled" and out.effects == ("mark_verified",) and not out.changed_state
    flags.add("verified")
    out = e.fire(ev, "close", dispatcher, flags=flags)
    assert ev.state == "closed" and "mark_closed" in out.effects


def test_handler_cannot_close_own_task(default_engine):
    ev = Ev("handled")
    with pytest.raises(NotAllowed) as err:
        default_engine.fire(ev, "close", Actor("handler", holds_task=True, in_area=True), flags={"verified"})
    assert err.value.http_status == 403 and ev.state == "handled"


def test_close_requires_the_grid_workers_verification(default_engine):
    ev = Ev("handled")
    with pytest.raises(WrongState) as err:
        default_engine.fire(ev, "close", dispatcher)
    assert err.value.http_status == 409 and "核查" in err.value.message_zh


def test_verification_failure_sends_the_task_back_for_rework(default_engine):
    ev = Ev("handled")
    out = default_engine.fire(ev, "verify_fail", worker, inputs("reason", "photos"))
    assert ev.state == "dispatched" and "count_rework" in out.effects and "reopen_task" in out.effects


def test_reporter_may_verify_outside_own_grid_but_not_a_stranger(default_engine):
    default_engine.fire(Ev("handled"), "verify_pass", Actor("grid_worker", is_reporter=True), inputs("photos"))
    with pytest.raises(NotAllowed):
        default_engine.fire(Ev("handled"), "verify_pass", Actor("grid_worker"), inputs("photos"))


def test_self_resolved_event_is_closed_in_the_reporting_transaction(default_engine):
    ev = Ev()  # a newly created event starts in the initial state
    assert ev.state == default_engine.definition.initial
    out = default_engine.fire(ev, "self_resolve", worker, inputs("comment", "photos"))
    assert ev.state == "closed"
    assert out.effects == ("stamp_registered", "mark_self_resolved", "mark_closed")


def test_self_resolve_needs_photos(default_engine):
    with pytest.raises(MissingInput) as err:
        default_engine.fire(Ev(), "self_resolve", worker, {"comment": "修好了"})
    assert err.value.field == "photos" and err.value.http_status == 422


def test_handler_returns_a_misdirected_task_and_dispatcher_redispatches(default_engine):
    ev = Ev("in_progress")
    out = default_engine.fire(ev, "return", handler, inputs("reason"))
    assert ev.state == "returned" and "pause_clock" in out.effects
    with pytest.raises(NotAllowed):
        default_engine.fire(ev, "redispatch", handler, inputs("department"))
    out = default_engine.fire(ev, "redispatch", dispatcher, inputs("department"))
    assert ev.state == "dispatched" and out.effects[0] == "resume_clock"


def test_extension_is_a_flag_not_a_state(default_engine):
    ev = Ev("in_progress")
    out = default_engine.fire(ev, "request_extension", handler, inputs("reason", "deadline"))
    assert ev.state == "in_progress" and out.effects == ("flag_extension",)
    with pytest.raises(WrongState):  # one request at a time
        default_engine.fire(ev, "request_extension", handler, inputs("reason", "deadline"),
                            flags={"extension_pending"})
    with pytest.raises(WrongState):  # nothing to approve
        default_engine.fire(ev, "approve_extension", dispatcher)
    out = default_engine.fire(ev, "approve_extension", dispatcher, flags={"extension_pending"})
    assert out.effects == ("extend_deadline", "clear_extension") and ev.state == "in_progress"


def test_supervision_leaves_the_state_alone(default_engine):
    for state in ("registered", "dispatched", "in_progress", "handled", "returned", "escalated"):
        ev = Ev(state)
        out = default_engine.fire(ev, "supervise", supervisor, inputs("comment", "level"))
        assert ev.state == state and out.effects == ("record_supervision",)
    with pytest.raises(WrongState):
        default_engine.fire(Ev("closed"), "supervise", supervisor, inputs("comment"))


def test_escalated_event_is_dispatched_by_the_county(default_engine):
    ev = Ev("in_progress")
    out = default_engine.fire(ev, "escalate", supervisor, inputs("reason"))
    assert ev.state == "escalated" and "escalate_to_county" in out.effects
    # After escalation the service computes in_area against the county: a township dispatcher is outside.
    with pytest.raises(NotAllowed):
        default_engine.fire(ev, "dispatch", Actor("dispatcher", in_area=False), inputs("department", "deadline"))
    default_engine.fire(ev, "dispatch", Actor("dispatcher", in_area=True), inputs("department", "deadline"))
    assert ev.state == "dispatched"


def test_reopen_needs_a_reason_and_goes_back_to_registered(default_engine):
    ev = Ev("closed")
    with pytest.raises(MissingInput):
        default_engine.fire(ev, "reopen", dispatcher, {"reason": "   "})
    out = default_engine.fire(ev, "reopen", dispatcher, inputs("reason"))
    assert ev.state == "registered" and "clear_verified" in out.effects


def test_naive_deadline_is_refused(default_engine):
    import datetime as dt
    with pytest.raises(InvalidInput) as err:
        default_engine.fire(Ev("registered"), "dispatch", dispatcher,
                            {"department": "CGJ", "deadline": dt.datetime(2025, 6, 3, 17, 30)})
    assert err.value.field == "deadline" and isinstance(err.value, MissingInput)


def test_unknown_action_and_state(default_engine):
    with pytest.raises(UnknownAction):
        default_engine.fire(Ev(), "to_closed", dispatcher)
    ev = Ev("limbo")
    with pytest.raises(WrongState):
        default_engine.fire(ev, "register", dispatcher)
    assert ev.state == "limbo"
    assert default_engine.allowed_actions(ev, dispatcher) == []


BOUND = Engine(registry.get_workflow("default"), bind_models=True)


@pytest.fixture(params=["direct", "bound"])
def either_engine(request, default_engine):
    """The registry's engine (direct trigger) and one firing through add_model/remove_model."""
    return default_engine if request.param == "direct" else BOUND


def test_no_auto_transitions_or_leftover_attributes(either_engine):
    ev = Ev()
    either_engine.fire(ev, "register", dispatcher)
    with pytest.raises(WrongState):
        either_engine.fire(ev, "register", dispatcher)
    with pytest.raises(NotAllowed):
        either_engine.fire(ev, "dispatch", handler, inputs("department", "deadline"))
    assert vars(ev) == {"state": "registered"}
    assert not hasattr(ev, "to_closed") and either_engine.machine.models == []


def test_errors_are_bilingual_and_typed(default_engine):
    try:
        default_engine.fire(Ev("reported"), "close", dispatcher)
    except WorkflowError as err:
        assert err.code == "wrong_state" and "结案" in err.message_zh and "Close" in err.message_en
        assert err.to_dict("en")["message"] == err.message_en


def test_allowed_actions_are_the_buttons(default_engine):
    names = lambda ev, actor, flags=(): [a.name for a in default_engine.allowed_actions(ev, actor, flags=flags)]
    assert names(Ev("reported"), dispatcher) == ["register", "reject", "merge"]
    assert names(Ev("reported"), worker) == ["self_resolve"]
    assert names(Ev("handled"), dispatcher) == []
    assert names(Ev("handled"), dispatcher, {"verified"}) == ["close"]
    assert names(Ev("dispatched"), handler) == ["accept", "return", "request_extension"]
    assert names(Ev("dispatched"), handler, {"extension_pending"}) == ["accept"]
    assert default_engine.may(Ev("reported"), "register", dispatcher)
    assert not default_engine.may(Ev("reported"), "nonsense", dispatcher)


def test_check_raises_what_fire_would_without_changing_anything(default_engine):
    ev = Ev("registered")
    with pytest.raises(MissingInput):
        default_engine.check(ev, "dispatch", dispatcher, {"department": "CGJ"})
    assert default_engine.check(ev, "dispatch", dispatcher, inputs("department", "deadline")).name == "dispatch"
    assert ev.state == "registered"


def test_replay_of_outcomes_reaches_the_final_state(default_engine):
    ev, log = Ev(), []
    log.append(default_engine.fire(ev, "register", dispatcher))
    log.append(default_engine.fire(ev, "supervise", supervisor, inputs("comment")))
    log.append(default_engine.fire(ev, "dispatch", dispatcher, inputs("department", "deadline")))
    assert default_engine.replay(log) == ev.state == "dispatched"
    with pytest.raises(WrongState):
        default_engine.replay(log[1:])


def test_registry(default_engine):
    assert registry.get_engine("default") is default_engine
    assert set(registry.names()) >= {"default", "hotline"}
    with pytest.raises(UnknownWorkflow):
        registry.get_workflow("nope")
    data = default_engine.definition.to_dict()
    data["name"] = "county_test"
    engine = registry.register(data)
    try:
        assert registry.get_engine("county_test") is engine
        with pytest.raises(WorkflowError):
            registry.register(WorkflowDef.from_dict(data))
    finally:
        registry.unregister("county_test")


# -- SQLAlchemy rows and threads --------------------------------------------------------------------------

sa = pytest.importorskip("sqlalchemy")
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column  # noqa: E402


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(20))
    version: Mapped[int] = mapped_column(default=1)

    def close(self):  # a model method sharing an action's name must survive
        return "model's own close"


def test_fires_on_a_mapped_row_and_leaves_no_attributes_behind(either_engine):
    default_engine = either_engine
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(EventRow(id=1, state="reported"))
        session.commit()
        row = session.get(EventRow, 1)
        before = set(vars(row))
        default_engine.fire(row, "register", dispatcher)
        assert row.state == "registered" and set(vars(row)) == before
        assert row.close() == "model's own close"
        assert sa.inspect(row).attrs.state.history.added == ["registered"]
        with pytest.raises(WrongState):
            default_engine.fire(row, "close", dispatcher, flags={"verified"})
        session.commit()
        session.expire(row)  # state not loaded: the engine's read loads it, and nothing is left over
        default_engine.fire(row, "dispatch", dispatcher, inputs("department", "deadline"))
        session.commit()
    with Session(engine) as session:
        assert session.get(EventRow, 1).state == "dispatched"


class SameRow:
    """Instances equal by id, like models that define __eq__ on the primary key."""

    def __init__(self, id, state):
        self.id, self.state = id, state

    def __eq__(self, other):
        return isinstance(other, SameRow) and other.id == self.id

    def __hash__(self):
        return hash(self.id)


def test_shared_machine_is_safe_across_threads(either_engine):
    default_engine = either_engine
    errors, done = [], []

    def work():
        try:
            for _ in range(300):
                ev = SameRow(7, "reported")  # every thread holds its own instance of "row 7"
                default_engine.fire(ev, "register", dispatcher)
                default_engine.fire(ev, "dispatch", dispatcher, inputs("department", "deadline"))
                assert ev.state == "dispatched" and set(vars(ev)) == {"id", "state"}
            done.append(1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(done) == 8 and default_engine.machine.models == []


def test_engine_builds_from_any_valid_definition():
    data = registry.get_workflow("default").to_dict()
    engine = Engine(WorkflowDef.from_dict(data))
    ev = Ev()
    engine.fire(ev, "register", dispatcher)
    assert ev.state == "registered"
