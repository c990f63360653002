"""The event aggregate: the event, its dispatches (tasks), photos, log, supervisions, extensions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON, Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text,
    UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgov.extensions import db
from gridgov.timeutil import utcnow

EVENT_STATES = (
    "reported", "registered", "dispatched", "in_progress", "handled", "closed",
    "rejected", "merged", "returned", "escalated", "visited",
)
# States in which a department's clock runs: the deadline sweep only looks at these.
DEADLINE_STATES = ("dispatched", "in_progress")
OPEN_STATES = ("reported", "registered", "dispatched", "in_progress", "handled", "returned", "escalated",
               "visited")
# A task in one of these is the event's current dispatch.
OPEN_TASK_STATUSES = ("dispatched", "in_progress", "handled")
SOURCES = ("grid_worker", "hotline", "open311", "api", "dispatcher")


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("urgency IN (1, 2, 3)", name="urgency"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("lon BETWEEN -180 AND 180 AND lat BETWEEN -90 AND 90", name="lonlat_range"),
        # The consoles' queues: state within an area, newest first.
        Index("ix_events_township_state", "township_code", "state"),
        Index("ix_events_village_state", "village_code", "state"),
        Index("ix_events_grid_state", "grid_code", "state"),
        Index("ix_events_state_deadline", "state", "deadline"),
        # The deadline sweep reads only events whose clock runs; a partial index keeps that read
        # proportional to open work, not to the whole history (deadline_level stays out of every
        # index so the sweep's marking UPDATE can be HOT on PostgreSQL).
        Index("ix_events_running_deadline", "deadline",
              postgresql_where=text("state IN ('dispatched', 'in_progress') AND deadline IS NOT NULL"),
              sqlite_where=text("state IN ('dispatched', 'in_progress') AND deadline IS NOT NULL")),
        # NULL at report time (no department yet), and queries compare it: a report writes no entry.
        Index("ix_events_department_state", "department_code", "state",
              postgresql_where=text("department_code IS NOT NULL"), sqlite_where=text("department_code IS NOT NULL")),
        Index("ix_events_duplicate_of", "duplicate_of",
              postgresql_where=text("duplicate_of IS NOT NULL"), sqlite_where=text("duplicate_of IS NOT NULL")),
        # Duplicate detection and map views prefilter by a lon/lat box.
        Index("ix_events_lon_lat", "lon", "lat"),
        Index("ix_events_category_reported", "category_code", "reported_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    client_uuid: Mapped[str | None] = mapped_column(String(64), unique=True)
    workflow: Mapped[str] = mapped_column(String(40), default="default")
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    description: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[int] = mapped_column(Integer, default=1)  # 1 normal, 2 urgent, 3 critical
    source: Mapped[str] = mapped_column(String(20), default="grid_worker")
    # WGS-84 position used everywhere, and the point exactly as the client sent it.
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    orig_lon: Mapped[float | None] = mapped_column(Float)
    orig_lat: Mapped[float | None] = mapped_column(Float)
    orig_crs: Mapped[str] = mapped_column(String(10), default="wgs84")
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300), default="")
    # One county per deployment: an index on it would never be read (migration 0008).
    county_code: Mapped[str | None] = mapped_column(String(6))
    township_code: Mapped[str | None] = mapped_column(String(9))
    village_code: Mapped[str | None] = mapped_column(String(12))
    grid_code: Mapped[str | None] = mapped_column(String(15))
    grid_distance_m: Mapped[float | None] = mapped_column(Float)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    caller_name: Mapped[str | None] = mapped_column(String(100))
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(20), default="reported")
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The department holding the open task, denormalised for the workbench and statistics.
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    deadline: Mapped[datetime | None] = mapped_column(DateTime)
    # 0 normal, 1 warned, 2 overdue, 3 escalated for lateness: set by the sweep, once per level.
    deadline_level: Mapped[int] = mapped_column(Integer, default=0)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # Set while the event is `returned`: that time is not charged to the department.
    paused_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set once escalated: from then on the county, not the township, is the responsible area.
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    supervision_level: Mapped[int] = mapped_column(Integer, default=0)
    extension_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    self_resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    # Working seconds from registration to closure (returned time excluded), fixed at closing so
    # statistics average a column instead of replaying the calendar over every event.
    handling_working_seconds: Mapped[int | None] = mapped_column(Integer)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("events.id"))  # ix_events_duplicate_of, partial
    reported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    registered_at: Mapped[datetime | None] = mapped_column(DateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # The head of the hash chain (seq and hash of the last log row). Appending reads it here instead
    # of querying the log, and `audit verify` compares it with the chain, which catches a tail of
    # rows deleted behind the app's back (the chain alone cannot tell a short chain from a cut one).
    log_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    log_hash: Mapped[str | None] = mapped_column(String(64))
    # How many dispatches (tasks) the event has had: the next task's seq, without reading the tasks.
    task_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    category = relationship("Category", lazy="joined")
    reporter = relationship("User", foreign_keys=[reporter_id])
    tasks = relationship("Task", back_populates="event", order_by="Task.seq")
    photos = relationship("Photo", back_populates="event", order_by="Photo.id")
    log = relationship("EventLog", back_populates="event", order_by="EventLog.seq")
    # The dispatch a department is working on (at most one at a time); loaded with the event in the
    # same query when an action is fired.
    open_task = relationship(
        "Task", viewonly=True, uselist=False, lazy="select",
        primaryjoin=f"and_(Task.event_id == Event.id, Task.status.in_({OPEN_TASK_STATUSES!r}))",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def __repr__(self) -> str:
        return f"<Event {self.number} {self.state} v{self.version}>"


class Task(db.Model):
    """One dispatch of an event to a department, with its own deadline (派遣/工单)."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("event_id", "seq", name="uq_tasks_event_seq"),
        Index("ix_tasks_department_status", "department_code", "status"),
        CheckConstraint(
            "status IN ('dispatched','in_progress','handled','returned','reworked','done','cancelled')",
            name="status",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))  # uq_tasks_event_seq leads with event_id
    seq: Mapped[int] = mapped_column(Integer)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    status: Mapped[str] = mapped_column(String(20), default="dispatched")
    dispatched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deadline: Mapped[datetime | None] = mapped_column(DateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    dispatcher_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    result: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")

    event = relationship("Event", back_populates="tasks")
    department = relationship("Department")


class Photo(db.Model):
    """A stored picture; files are content-addressed so a retried upload is stored once."""

    __tablename__ = "photos"
    __table_args__ = (
        CheckConstraint("kind IN ('report','progress','result','verify','other')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    kind: Mapped[str] = mapped_column(String(10), default="report")
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    mime: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    exif_lon: Mapped[float | None] = mapped_column(Float)
    exif_lat: Mapped[float | None] = mapped_column(Float)
    exif_taken_at: Mapped[datetime | None] = mapped_column(DateTime)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    event = relationship("Event", back_populates="photos")


class EventLog(db.Model):
    """Append-only, hash-chained per event (流转记录, 防篡改)."""

    __tablename__ = "event_log"
    __table_args__ = (UniqueConstraint("event_id", "seq", name="uq_event_log_event_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))  # uq_event_log_event_seq leads with event_id
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # no query selects log rows by time
    comment: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    event = relationship("Event", back_populates="log")
    actor = relationship("User")


class Supervision(db.Model):
    """A supervisor's order on an event (督办), kept as history."""

    __tablename__ = "supervisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    note: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[datetime | None] = mapped_column(DateTime)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)


class Extension(db.Model):
    """A handler's request for more time (延期) and the dispatcher's decision."""

    __tablename__ = "extensions"
    __table_args__ = (
        CheckConstraint("status IN ('pending','approved','refused')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_deadline: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
