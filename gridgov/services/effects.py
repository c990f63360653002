"""What each named workflow effect does to the event's rows.

The workflow definitions (workflows/) name effects; this module is the only place that knows what they
mean for the database. Each function gets the same `EffectContext` and may add to `ctx.log_data`, which
becomes part of the action's hash-chained log row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from gridgov.access import can_see
from gridgov.errors import AppError
from gridgov.extensions import db
from gridgov.services.deadlines import default_deadline
from gridgov.services.reference_rows import keep_loaded
from gridgov.services.suggestions import department_serves
from gridgov.models import Department, Event, Extension, Supervision, Task, User
from gridgov.timeutil import as_aware_utc, to_naive_utc
from workflows.calendar import WorkCalendar


@dataclass
class EffectContext:
    event: Event
    action: str
    user: User | None
    inputs: dict
    now: datetime  # naive UTC
    calendar: WorkCalendar
    # Where new rows go: the session, or (an action fired on plain rows) a list written in one statement.
    add: Callable[[object], None]
    log_data: dict = field(default_factory=dict)
    notify: list[tuple[str, list[str]]] = field(default_factory=list)  # (topic, audiences)

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None


EFFECTS: dict[str, Callable[[EffectContext], None]] = {}
# Effects that change rows other than the event, its open task and new rows (extensions, supervisions),
# so they need the ORM's unit of work: an action naming one is not fired on plain rows (event_rows.py).
SESSION_EFFECTS: set[str] = set()


def effect(name: str, *, needs_session: bool = False):
    def register(function):
        EFFECTS[name] = function
        if needs_session:
            SESSION_EFFECTS.add(name)
        return function
    return register


def apply(names, ctx: EffectContext) -> None:
    for name in names:
        try:
            EFFECTS[name](ctx)
        except KeyError:
            raise AppError(f"流程定义引用了未知的效果：{name}", f"The workflow names an unknown effect: {name}",
                           status=500, code="unknown_effect") from None


def current_task(event: Event) -> Task | None:
    """The dispatch in hand, as loaded with the event (`load_visible_event` joins it in)."""
    return event.open_task


def _next_task_seq(event: Event) -> int:
    """Counted on the event row, so a dispatch reads no tasks; the event's version check keeps two
    dispatches of one event from taking the same number."""
    event.task_seq = (event.task_seq or 0) + 1
    return event.task_seq


def _deadline_input(ctx: EffectContext) -> datetime:
    return to_naive_utc(ctx.inputs["deadline"])


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@effect("stamp_registered")
def stamp_registered(ctx):
    ctx.event.registered_at = ctx.event.registered_at or ctx.now


@effect("mark_rejected")
def mark_rejected(ctx):
    ctx.notify.append(("rejected", ["reporter"]))


@effect("link_master")
def link_master(ctx):
    master_id = ctx.inputs["master_event"]
    master = db.session.get(Event, int(master_id)) if str(master_id).isdigit() else None
    # The master's id comes from the request body, past the URL's jurisdiction check: one the user
    # may not see is refused exactly like a missing one, so a merge can neither tie an event to
    # another jurisdiction's nor probe which ids exist and in what state.
    if master is None or master.id == ctx.event.id or (ctx.user is not None and not can_see(ctx.user, master)):
        raise AppError("找不到要合并到的主事件", "The event to merge into was not found", status=422, code="bad_master")
    if master.state in ("merged", "rejected"):
        raise AppError("不能合并到已合并或不予立案的事件", "Cannot merge into a merged or rejected event",
                       status=409, code="bad_master")
    ctx.event.duplicate_of = master.id
    ctx.log_data["master_event"] = master.id
    ctx.log_data["master_number"] = master.number


@effect("set_deadline")
def set_deadline(ctx):
    before = ctx.event.deadline
    ctx.event.deadline = _deadline_input(ctx)
    ctx.event.dispatched_at = ctx.now
    ctx.event.deadline_level = 0  # a new deadline earns new warnings
    ctx.log_data["deadline_before"] = _stamp(before)
    ctx.log_data["deadline_after"] = _stamp(ctx.event.deadline)


@effect("open_task")
def open_task(ctx):
    code = ctx.inputs["department"]
    department = keep_loaded(db.session.get(Department, code))
    if department is None or not department.active:
        raise AppError(f"未知或已停用的部门：{code}", f"Unknown or inactive department: {code}", status=422,
                       code="bad_department")
    if not department_serves(department, ctx.event):
        raise AppError(f"部门 {code} 不负责该事件所在的乡镇", f"Department {code} does not serve the event's township",
                       status=422, code="bad_department")
    task = Task(event_id=ctx.event.id, seq=_next_task_seq(ctx.event), department_code=code, status="dispatched",
                dispatched_at=ctx.now, deadline=ctx.event.deadline, dispatcher_id=ctx.user_id)
    ctx.add(task)
    ctx.event.department_code = code
    ctx.log_data["department"] = code
    if ctx.inputs.get("override_reason"):
        ctx.log_data["override_reason"] = ctx.inputs["override_reason"]
    ctx.notify.append(("task_new", ["department"]))


@effect("resume_clock")
def resume_clock(ctx):
    event = ctx.event
    if event.paused_at is not None:
        paused = ctx.calendar.working_seconds_between(as_aware_utc(event.paused_at), as_aware_utc(ctx.now))
        event.paused_seconds = (event.paused_seconds or 0) + int(paused)
        event.paused_at = None
        ctx.log_data["paused_working_seconds"] = int(paused)


@effect("pause_clock")
def pause_clock(ctx):
    ctx.event.paused_at = ctx.now


@effect("accept_task")
def accept_task(ctx):
    task = current_task(ctx.event)
    if task is not None:
        task.status = "in_progress"
        task.accepted_at = ctx.now
        task.handler_id = ctx.user_id


@effect("close_task")
def close_task(ctx):
    task = current_task(ctx.event)
    outcome = {"return": "returned", "escalate": "cancelled"}.get(ctx.action, "done")
    if task is not None:
        task.status = outcome
        task.ended_at = ctx.now
        if ctx.inputs.get("reason"):
            task.note = ctx.inputs["reason"]
    if outcome in ("returned", "cancelled"):
        # Nobody holds the event until the next dispatch; closed events keep theirs for statistics.
        ctx.event.department_code = None
    if ctx.action == "return":
        ctx.notify.append(("returned", ["township_dispatchers"]))


@effect("complete_task")
def complete_task(ctx):
    task = current_task(ctx.event)
    if task is not None:
        task.status = "handled"
        task.handled_at = ctx.now
        task.result = ctx.inputs.get("comment", "")
    ctx.event.handled_at = ctx.now
    ctx.notify.append(("verify_requested", ["grid_workers", "reporter"]))


@effect("mark_verified")
def mark_verified(ctx):
    ctx.event.verified = True
    ctx.notify.append(("verified", ["township_dispatchers"]))


@effect("count_rework")
def count_rework(ctx):
    ctx.event.rework_count = (ctx.event.rework_count or 0) + 1
    task = current_task(ctx.event)
    if task is not None:
        task.status = "reworked"
        task.ended_at = ctx.now


@effect("reopen_task")
def reopen_task(ctx):
    """Rework goes back to the department that handled it, with a fresh time limit."""
    last = db.session.scalar(db.select(Task).where(Task.event_id == ctx.event.id).order_by(Task.seq.desc()).limit(1))
    department = last.department_code if last else ctx.event.department_code
    deadline = ctx.inputs.get("deadline")
    if deadline is None:
        deadline = default_deadline(ctx.event, as_aware_utc(ctx.now), ctx.calendar)
    ctx.inputs["deadline"] = deadline
    set_deadline(ctx)
    ctx.event.verified = False
    ctx.event.handled_at = None
    ctx.inputs["department"] = department
    open_task(ctx)
    ctx.notify[-1] = ("rework", ["department"])


@effect("mark_closed")
def mark_closed(ctx):
    event = ctx.event
    event.closed_at = ctx.now
    event.closed_on_time = event.deadline is None or ctx.now <= event.deadline
    start = event.registered_at or event.reported_at
    worked = ctx.calendar.working_seconds_between(as_aware_utc(start), as_aware_utc(ctx.now))
    event.handling_working_seconds = max(int(worked) - int(event.paused_seconds or 0), 0)
    ctx.log_data["closed_on_time"] = event.closed_on_time
    ctx.notify.append(("closed", ["reporter"]))


@effect("mark_self_resolved")
def mark_self_resolved(ctx):
    ctx.event.self_resolved = True
    ctx.event.verified = True


@effect("escalate_to_county")
def escalate_to_county(ctx):
    ctx.event.escalated_at = ctx.now
    ctx.event.department_code = None
    ctx.notify.append(("escalated", ["county_dispatchers"]))


def _pending_extension(event: Event) -> Extension | None:
    return db.session.scalar(
        db.select(Extension).where(Extension.event_id == event.id, Extension.status == "pending")
        .order_by(Extension.id.desc()).limit(1)
    )


@effect("flag_extension", needs_session=True)
def flag_extension(ctx):
    requested = _deadline_input(ctx)
    if ctx.event.deadline is not None and requested <= ctx.event.deadline:
        raise AppError("延期后的时限必须晚于当前时限", "The requested deadline must be later than the current one",
                       status=422, code="bad_deadline")
    task = current_task(ctx.event)
    ctx.add(Extension(event_id=ctx.event.id, task_id=task.id if task else None, requested_by=ctx.user_id,
                      reason=ctx.inputs.get("reason", ""), requested_deadline=requested, status="pending",
                      created_at=ctx.now))
    ctx.event.extension_pending = True
    ctx.log_data["requested_deadline"] = _stamp(requested)
    ctx.notify.append(("extension_requested", ["township_dispatchers"]))


@effect("extend_deadline", needs_session=True)
def extend_deadline(ctx):
    pending = _pending_extension(ctx.event)
    new_deadline = to_naive_utc(ctx.inputs["deadline"]) if ctx.inputs.get("deadline") else (
        pending.requested_deadline if pending else None)
    if new_deadline is None or (ctx.event.deadline and new_deadline <= ctx.event.deadline):
        raise AppError("延期后的时限必须晚于当前时限", "The new deadline must be later than the current one",
                       status=422, code="bad_deadline")
    ctx.log_data["deadline_before"] = _stamp(ctx.event.deadline)
    ctx.event.deadline = new_deadline
    ctx.event.deadline_level = 0
    task = current_task(ctx.event)
    if task is not None:
        task.deadline = new_deadline
    if pending is not None:
        pending.status = "approved"
        pending.decided_by = ctx.user_id
        pending.decided_at = ctx.now
    ctx.log_data["deadline_after"] = _stamp(new_deadline)
    ctx.notify.append(("extension_approved", ["department"]))


@effect("clear_extension", needs_session=True)
def clear_extension(ctx):
    pending = _pending_extension(ctx.event)
    # approve_extension's extend_deadline has already decided it: the query (no autoflush) still finds the row
    # as pending in the database, but the identity map hands back the object already marked approved.
    if pending is not None and pending.status == "pending":
        pending.status = "refused"
        pending.decided_by = ctx.user_id
        pending.decided_at = ctx.now
        if ctx.action == "refuse_extension":
            ctx.notify.append(("extension_refused", ["department"]))
    ctx.event.extension_pending = False


@effect("record_supervision", needs_session=True)
def record_supervision(ctx):
    level = int(ctx.inputs.get("level") or 1)
    if level not in (1, 2, 3):
        raise AppError("督办级别应为 1、2 或 3", "Supervision level must be 1, 2 or 3", status=422, code="bad_level")
    deadline = to_naive_utc(ctx.inputs["deadline"]) if ctx.inputs.get("deadline") else None
    ctx.add(Supervision(event_id=ctx.event.id, level=level, note=ctx.inputs.get("comment", ""),
                        deadline=deadline, supervisor_id=ctx.user_id, created_at=ctx.now))
    ctx.event.supervision_level = max(ctx.event.supervision_level or 0, level)
    ctx.log_data["supervision_level"] = level
    ctx.notify.append(("supervision", ["department", "township_dispatchers"]))


@effect("record_visit")
def record_visit(ctx):
    # On the 1–5 scale the statistics use (4 and up counts as satisfied, as 12345 bulletins count
    # 满意 and 基本满意 together).
    scores = {"satisfied": 5, "basically_satisfied": 4, "dissatisfied": 1}
    ctx.event.satisfaction = scores[ctx.inputs["satisfaction"]]
    ctx.log_data["satisfaction"] = ctx.inputs["satisfaction"]


@effect("clear_closed")
def clear_closed(ctx):
    ctx.event.closed_at = None
    ctx.event.closed_on_time = None
    ctx.event.handling_working_seconds = None


@effect("clear_verified")
def clear_verified(ctx):
    ctx.event.verified = False
