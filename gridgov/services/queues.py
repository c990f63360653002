"""The dispatcher desk's queues (what needs a decision now), its filters and sort orders, as SQL clauses.

Every query starts from `visible_events_clause(user)`, so a queue can never show an event outside the
user's jurisdiction.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func

from gridgov.access import visible_events_clause
from gridgov.extensions import db
from gridgov.models import Event, User
from gridgov.models.events import DEADLINE_STATES, OPEN_STATES
from gridgov.routing import row_id
from gridgov.timeutil import utcnow


def _running():
    return Event.state.in_(DEADLINE_STATES)


# name → (Chinese label, clause builder). Order is the order on the desk.
QUEUES = {
    "new": ("新上报", lambda now: Event.state == "reported"),
    "to_dispatch": ("待派遣", lambda now: Event.state.in_(("registered", "escalated"))),
    "unmapped": ("未落网格", lambda now: and_(Event.grid_code.is_(None), Event.state.in_(OPEN_STATES))),
    "returned": ("退回待改派", lambda now: Event.state == "returned"),
    "extension": ("延期申请", lambda now: and_(Event.extension_pending.is_(True), _running())),
    "to_close": ("待结案", lambda now: and_(Event.state == "handled", Event.verified.is_(True))),
    "overdue": ("已超期", lambda now: and_(_running(), Event.deadline < now)),
    "supervised": ("督办中", lambda now: and_(Event.supervision_level > 0, Event.state.in_(OPEN_STATES))),
    "open": ("全部在办", lambda now: Event.state.in_(OPEN_STATES)),
}

SORTS = {
    "newest": (Event.reported_at.desc(), Event.id.desc()),
    "oldest": (Event.reported_at.asc(), Event.id.asc()),
    "deadline": (Event.deadline.is_(None), Event.deadline.asc(), Event.id.asc()),
    "urgency": (Event.urgency.desc(), Event.reported_at.asc(), Event.id.asc()),
}


@dataclass
class DeskFilters:
    township: str = ""
    village: str = ""
    category: str = ""
    urgency: str = ""
    deadline_status: str = ""
    source: str = ""

    @classmethod
    def from_args(cls, args) -> "DeskFilters":
        return cls(**{name: (args.get(name) or "").strip()[:20] for name in cls.__dataclass_fields__})

    def clauses(self, now) -> list:
        clauses = []
        if self.township:
            clauses.append(Event.township_code == self.township)
        if self.village:
            clauses.append(Event.village_code == self.village)
        if self.category:
            clauses.append(Event.category_code.startswith(self.category, autoescape=True))
        urgency = row_id(self.urgency)  # a number the column can hold, or no filter
        if urgency is not None:
            clauses.append(Event.urgency == urgency)
        if self.source:
            clauses.append(Event.source == self.source)
        if self.deadline_status:
            clauses.extend(deadline_status_clauses(self.deadline_status, now))
        return clauses


def deadline_status_clauses(status: str, now) -> list:
    """normal / warning / overdue in SQL: the sweep keeps deadline_level current, overdue is read against now."""
    if status == "overdue":
        return [_running(), Event.deadline < now]
    if status == "warning":
        return [_running(), Event.deadline >= now, Event.deadline_level >= 1]
    if status == "normal":
        return [_running(), Event.deadline >= now, Event.deadline_level == 0]
    return []


def queue_counts(user: User, filters: DeskFilters | None = None) -> dict[str, int]:
    now = utcnow()
    base = [visible_events_clause(user)] + (filters.clauses(now) if filters else [])
    columns = [func.count().filter(build(now)).label(name) for name, (_label, build) in QUEUES.items()]
    row = db.session.execute(db.select(*columns).select_from(Event).where(*base)).one()
    return {name: int(row._mapping[name] or 0) for name in QUEUES}


def queue_events(user: User, queue: str, filters: DeskFilters, sort: str = "newest", limit: int = 200) -> list[Event]:
    now = utcnow()
    build = QUEUES.get(queue, QUEUES["new"])[1]
    query = (db.select(Event).where(visible_events_clause(user), build(now), *filters.clauses(now))
             .order_by(*SORTS.get(sort, SORTS["newest"])).limit(limit))
    return list(db.session.scalars(query))
