"""Progress notes (处置进展): a handler's note on the task their department holds.

Not a workflow action — nothing changes state and nobody is asked to decide — so it does not go through the
engine: the note is appended to the open task and written to the event's hash-chained log as action `note`,
in one transaction. The event's version rises, so a note also invalidates a page opened before it.
"""
from __future__ import annotations

from gridgov.access import holds_task
from gridgov.errors import AppError, Forbidden
from gridgov.extensions import db
from gridgov.models import User
from gridgov.services.audit import append_log
from gridgov.services.effects import current_task
from gridgov.services.workflow import load_visible_event
from gridgov.timeutil import utcnow
from gridgov.formatting import local_time

MAX_NOTE = 2000
NOTE_STATES = ("dispatched", "in_progress")


def add_progress_note(event_id: int, *, user: User, text: str):
    event = load_visible_event(event_id, user)
    text = (text or "").strip()
    if not text:
        raise AppError("请填写进展说明", "Write the progress note first", status=422, code="missing_note")
    if len(text) > MAX_NOTE:
        raise AppError("进展说明过长", "The progress note is too long", status=422, code="note_too_long")
    if user.role != "handler" or not holds_task(user, event):
        raise Forbidden("只有承办部门可以填写处置进展", "Only the department holding the task can add progress notes")
    task = current_task(event)
    if event.state not in NOTE_STATES or task is None:
        raise AppError("当前状态不能填写处置进展", "Progress notes are for tasks in hand", status=409, code="wrong_state")
    now = utcnow().replace(microsecond=0)
    task.note = (task.note + "\n" if task.note else "") + f"[{local_time(now)}] {text}"
    event.updated_at = now
    # The new log head goes into the event's one UPDATE, which bumps its version (compare-and-set).
    append_log(event, action="note", from_state=event.state, to_state=event.state, actor=user, comment=text,
               data={"task_seq": task.seq}, at=now)
    db.session.commit()
    return event
