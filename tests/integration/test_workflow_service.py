"""The workflow service on real databases: the closed loop, conflicts, jurisdiction, the log chain."""
import threading

import pytest

from gridgov.extensions import db
from gridgov.models import Area, Event, EventLog, OutboxMessage, Task, User
from gridgov.services.audit import verify_all
from gridgov.services.reporting import report_event
from gridgov.services.workflow import allowed_actions, fire_action
from tests.helpers.images import candidates, jpeg_bytes
from workflows import MissingInput, NotAllowed, StaleVersion, WrongState
from gridgov.errors import NotFound


def user(name) -> User:
    return db.session.scalar(db.select(User).where(User.username == name))


def grid_in(area_code: str) -> Area:
    return db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like(f"{area_code}%"))
                             .order_by(Area.code).limit(1))


def centre(area: Area):
    return (area.min_lon + area.max_lon) / 2, (area.min_lat + area.max_lat) / 2


def new_event(app, worker="demo_worker", category="0102", **extra) -> Event:
    reporter = user(worker)
    import shapely

    grid = grid_in(reporter.area_code)
    point = shapely.from_wkb(grid.geometry).representative_point()
    result = report_event(user=reporter, category=category, description="路边有暴露垃圾", lon=point.x, lat=point.y,
                          **extra)
    return result.event


def test_report_maps_the_point_to_its_grid_and_logs_it(app_ctx):
    event = new_event(app_ctx)
    assert event.state == "reported" and event.number.count("-") == 1
    assert event.grid_code.startswith(event.village_code) and event.village_code.startswith(event.township_code)
    assert [row.action for row in event.log] == ["report"]


def test_the_whole_closed_loop(app_ctx):
    event = new_event(app_ctx)
    dispatcher, handler, worker = user("demo_dispatcher"), user("demo_handler"), user("demo_worker")
    fire_action(event.id, "register", user=dispatcher)
    fire_action(event.id, "dispatch", user=dispatcher, inputs={"department": handler.department_code})
    assert event.deadline is not None and event.department_code == handler.department_code
    fire_action(event.id, "accept", user=handler)
    fire_action(event.id, "submit_result", user=handler, inputs={"comment": "已清运"}, photos=candidates(app_ctx))
    fire_action(event.id, "verify_pass", user=worker, photos=candidates(app_ctx, jpeg_bytes((1, 2, 3))))
    fire_action(event.id, "close", user=dispatcher)
    db.session.refresh(event)
    assert event.state == "closed" and event.verified and event.closed_on_time is True
    assert event.handling_working_seconds is not None
    assert [r.action for r in event.log] == ["report", "register", "dispatch", "accept", "submit_result",
                                             "verify_pass", "close"]
    assert event.version == 7  # one bump per action
    assert {p.kind for p in event.photos} == {"result", "verify"}
    assert verify_all()[1] is None


def test_rework_counts_and_goes_back_to_the_department(app_ctx):
    event = new_event(app_ctx)
    dispatcher, handler, worker = user("demo_dispatcher"), user("demo_handler"), user("demo_worker")
    fire_action(event.id, "register", user=dispatcher)
    fire_action(event.id, "dispatch", user=dispatcher, inputs={"department": handler.department_code})
    fire_action(event.id, "accept", user=handler)
    fire_action(event.id, "submit_result", user=handler, inputs={"comment": "done"}, photos=candidates(app_ctx))
    fire_action(event.id, "verify_fail", user=worker, inputs={"reason": "垃圾仍在"}, photos=candidates(app_ctx))
    db.session.refresh(event)
    assert event.state == "dispatched" and event.rework_count == 1
    tasks = db.session.scalars(db.select(Task).where(Task.event_id == event.id).order_by(Task.seq)).all()
    assert [t.status for t in tasks] == ["reworked", "dispatched"]


def test_return_pauses_the_clock_and_redispatch_resumes(app_ctx):
    event = new_event(app_ctx)
    dispatcher, handler = user("demo_dispatcher"), user("demo_handler")
    fire_action(event.id, "register", user=dispatcher)
    fire_action(event.id, "dispatch", user=dispatcher, inputs={"department": handler.department_code})
    fire_action(event.id, "return", user=handler, inputs={"reason": "不属于本部门"})
    assert event.state == "returned" and event.paused_at is not None and event.department_code is None
    fire_action(event.id, "redispatch", user=dispatcher, inputs={"department": "330521-SW"})
    assert event.state == "dispatched" and event.paused_at is None and event.department_code == "330521-SW"


def test_extension_moves_the_deadline(app_ctx):
    from datetime import timedelta

    from gridgov.timeutil import as_aware_utc

    event = new_event(app_ctx)
    dispatcher, handler = user("demo_dispatcher"), user("demo_handler")
    fire_action(event.id, "register", user=dispatcher)
    fire_action(event.id, "dispatch", user=dispatcher, inputs={"department": handler.department_code})
    before = event.deadline
    fire_action(event.id, "request_extension", user=handler,
                inputs={"reason": "需要协调", "deadline": as_aware_utc(before) + timedelta(days=2)})
    assert event.extension_pending
    fire_action(event.id, "approve_extension", user=dispatcher)
    assert not event.extension_pending and event.deadline == before + timedelta(days=2)


def test_refusals_name_their_reason(app_ctx):
    event = new_event(app_ctx)
    dispatcher = user("demo_dispatcher")
    with pytest.raises(WrongState):
        fire_action(event.id, "close", user=dispatcher)
    with pytest.raises(NotAllowed):
        fire_action(event.id, "register", user=user("demo_worker"))  # a grid worker may not register
    fire_action(event.id, "register", user=dispatcher)
    with pytest.raises(MissingInput):
        fire_action(event.id, "escalate", user=dispatcher)  # escalation needs a reason
    assert event.state == "registered"
    assert {a.name for a in allowed_actions(dispatcher, event)} >= {"dispatch", "escalate", "merge"}


def test_dispatch_to_another_townships_department_is_refused_and_writes_nothing(app_ctx):
    from gridgov.errors import AppError
    from gridgov.models import Department

    event = new_event(app_ctx)
    dispatcher = user("demo_dispatcher")
    fire_action(event.id, "register", user=dispatcher)
    foreign = db.session.scalar(db.select(Department).where(Department.level == "township",
                                                             Department.area_code != event.township_code).limit(1))
    own = db.session.scalar(db.select(Department).where(Department.area_code == event.township_code).limit(1))
    before = (event.version, db.session.scalar(db.select(db.func.count()).select_from(EventLog)),
              db.session.scalar(db.select(db.func.count()).select_from(Task)))
    with pytest.raises(AppError) as refused:
        fire_action(event.id, "dispatch", user=dispatcher, inputs={"department": foreign.code})
    assert refused.value.status == 422 and "does not serve" in refused.value.message_en
    db.session.rollback()
    db.session.refresh(event)
    assert (event.version, db.session.scalar(db.select(db.func.count()).select_from(EventLog)),
            db.session.scalar(db.select(db.func.count()).select_from(Task))) == before
    fire_action(event.id, "dispatch", user=dispatcher, inputs={"department": own.code})
    assert event.department_code == own.code


def test_handler_outside_the_event_cannot_even_see_it(app_ctx):
    event = new_event(app_ctx)
    with pytest.raises(NotFound):
        fire_action(event.id, "accept", user=user("demo_handler"))


def test_stale_version_loses(app_ctx):
    event = new_event(app_ctx)
    seen = event.version
    fire_action(event.id, "register", user=user("demo_dispatcher"), expected_version=seen)
    with pytest.raises(StaleVersion):
        fire_action(event.id, "reject", user=user("demo_dispatcher"), inputs={"reason": "x"}, expected_version=seen)


def test_self_resolve_reports_and_closes_in_one_step(app_ctx):
    event = new_event(app_ctx, self_resolve=True, photos=candidates(app_ctx), resolve_comment="已现场处理")
    assert event.state == "closed" and event.self_resolved
    assert [r.action for r in event.log] == ["report", "self_resolve"]


def test_retry_with_the_same_client_uuid_returns_the_same_event(app_ctx):
    first = new_event(app_ctx, client_uuid="phone-abc-1")
    second = new_event(app_ctx, client_uuid="phone-abc-1")
    assert first.id == second.id
    assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 1


def test_audit_verify_names_the_tampered_row(app_ctx):
    event = new_event(app_ctx)
    fire_action(event.id, "register", user=user("demo_dispatcher"))
    row = db.session.scalar(db.select(EventLog).where(EventLog.event_id == event.id, EventLog.seq == 2))
    db.session.execute(db.update(EventLog).where(EventLog.id == row.id).values(comment="edited behind the app"))
    db.session.commit()
    checked, broken = verify_all()
    assert broken is not None and broken.event_id == event.id and broken.seq == 2


def test_twenty_threads_dispatch_one_event_exactly_once(app_ctx, backend):
    if backend != "postgresql":
        pytest.skip("the race needs a server database with real concurrent transactions")
    event = new_event(app_ctx)
    fire_action(event.id, "register", user=user("demo_dispatcher"))
    event_id, version = event.id, event.version
    db.session.remove()
    outcomes = []
    barrier = threading.Barrier(20)

    def attempt():
        with app_ctx.app_context():
            dispatcher = user("demo_dispatcher")
            barrier.wait()
            try:
                fire_action(event_id, "dispatch", user=dispatcher, inputs={"department": "330521-CG"},
                            expected_version=version)
                outcomes.append("won")
            except (StaleVersion, WrongState):
                outcomes.append("lost")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("won") == 1 and outcomes.count("lost") == 19
    dispatches = db.session.scalar(db.select(db.func.count()).select_from(EventLog)
                                   .where(EventLog.event_id == event_id, EventLog.action == "dispatch"))
    assert dispatches == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(Task).where(Task.event_id == event_id)) == 1


def test_audit_verify_catches_rows_cut_from_the_end_of_a_chain(app_ctx):
    event = new_event(app_ctx)
    fire_action(event.id, "register", user=user("demo_dispatcher"))
    fire_action(event.id, "dispatch", user=user("demo_dispatcher"), inputs={"department": "330521-CG"})
    assert verify_all()[1] is None
    # The chain alone still links up without its last row; the head on the event row does not.
    db.session.execute(db.delete(EventLog).where(EventLog.event_id == event.id, EventLog.seq == 3))
    db.session.commit()
    checked, broken = verify_all()
    assert checked == 2 and broken is not None and broken.event_id == event.id
    assert "head" in broken.reason and "seq 3" in broken.reason


def test_the_event_row_carries_its_log_head_and_task_count(app_ctx):
    event = new_event(app_ctx)
    dispatcher, handler = user("demo_dispatcher"), user("demo_handler")
    fire_action(event.id, "register", user=dispatcher)
    fire_action(event.id, "dispatch", user=dispatcher, inputs={"department": "330521-CG"})
    fire_action(event.id, "return", user=handler, inputs={"reason": "非本部门职责"})
    fire_action(event.id, "redispatch", user=dispatcher, inputs={"department": "330521-SW"})
    db.session.expire_all()
    event = db.session.get(Event, event.id)
    last = event.log[-1]
    assert (event.log_seq, event.log_hash) == (last.seq, last.hash) == (5, last.hash)
    assert event.task_seq == 2 and [t.seq for t in event.tasks] == [1, 2]
    assert [t.status for t in event.tasks] == ["returned", "dispatched"]
    assert event.version == 5  # reported 1, then one per action


class StatementCounter:
    def __init__(self):
        self.statements = []
        self.autocommit = []

    def __call__(self, conn, cursor, statement, *args):
        self.statements.append(statement.split(None, 3)[:3])
        self.autocommit.append(getattr(conn.connection.driver_connection, "autocommit", None))


def test_an_action_costs_two_statements_on_postgresql(app_ctx, backend, monkeypatch):
    """On PostgreSQL an action is one SELECT and one data-modifying CTE (one_statement.py); the ORM
    path elsewhere flushes the same rows one statement each."""
    from sqlalchemy import event as sa_event

    monkeypatch.setitem(app_ctx.config, "OUTBOX_RELAY_AFTER_COMMIT", False)  # count the action alone
    event_id = new_event(app_ctx).id
    dispatcher, handler = user("demo_dispatcher"), user("demo_handler")
    fire_action(event_id, "register", user=dispatcher)  # reads the log once: the report row's head
    counted, autocommit = {}, {}
    for action, actor, inputs in (("dispatch", dispatcher, {"department": "330521-CG"}), ("accept", handler, {})):
        counter = StatementCounter()
        sa_event.listen(db.engine, "before_cursor_execute", counter)
        try:
            fire_action(event_id, action, user=actor, inputs=inputs)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", counter)
        counted[action] = [words[0].upper() for words in counter.statements]
        autocommit[action] = counter.autocommit
    if backend == "postgresql":
        assert counted["accept"] == ["SELECT", "WITH"], counted
        # Each its own transaction: no BEGIN or COMMIT round trips around them (workflow._fire_on_rows).
        # (A reference row read through the session the first time, dispatch's category, is the session's.)
        assert autocommit["accept"] == [True, True], autocommit
        assert autocommit["dispatch"][0] is True and autocommit["dispatch"][-1] is True, autocommit
        # The pooled connection goes back to transactions for whoever uses it next.
        assert db.session.connection().connection.driver_connection.autocommit is False
        db.session.commit()
        # dispatch may read the category the first time this session needs it
        assert counted["dispatch"][0] == "SELECT" and counted["dispatch"][-1] == "WITH" and len(counted["dispatch"]) <= 3
    else:
        assert sorted(counted["accept"]) == ["INSERT", "SELECT", "UPDATE", "UPDATE"], counted
    db.session.expire_all()
    event = db.session.get(Event, event_id)
    assert event.state == "in_progress" and event.open_task.status == "in_progress"
    assert event.open_task.handler_id == handler.id and event.open_task.accepted_at is not None
    outbox = db.session.scalars(db.select(OutboxMessage.dedupe_key).order_by(OutboxMessage.id)).all()
    assert f"notify:{event_id}:3:task_new" in outbox
    assert verify_all()[1] is None


def test_a_stale_one_statement_write_leaves_nothing(app_ctx):
    """The loser of a compare-and-set writes no task, no log row and no outbox row (every part of the
    statement hangs on the event's UPDATE)."""
    event = new_event(app_ctx)
    dispatcher = user("demo_dispatcher")
    fire_action(event.id, "register", user=dispatcher)
    before = {t.__tablename__: db.session.scalar(db.select(db.func.count()).select_from(t))
              for t in (EventLog, Task, OutboxMessage)}
    # Another writer moves the version on between this action's read and its write.
    from gridgov.services import workflow

    original = workflow._log_and_queue

    def interfering(*args, **kwargs):
        db.session.connection().execute(db.update(Event).where(Event.id == event.id).values(version=Event.version + 1))
        return original(*args, **kwargs)

    workflow._log_and_queue = interfering
    try:
        with pytest.raises(StaleVersion):
            fire_action(event.id, "dispatch", user=dispatcher, inputs={"department": "330521-CG"})
    finally:
        workflow._log_and_queue = original
    after = {t.__tablename__: db.session.scalar(db.select(db.func.count()).select_from(t))
             for t in (EventLog, Task, OutboxMessage)}
    assert after == before
