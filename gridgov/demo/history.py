"""A plausible history of past events for the dashboard (statistics only: rows, not workflow runs).

The workflow's demo (`gridgov.demo.events`) fires real transitions; this writes finished facts in
bulk — states, timestamps, deadlines, tasks — so charts, rankings and maps have something to show
in a fresh demo or a browser test. Deterministic for a given seed and `now`.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import shapely
from sqlalchemy import insert, select

from gridgov.extensions import db
from gridgov.models import Area, Category, Department, Event, Task, User
from gridgov.timeutil import utcnow


def seed_history(*, seed: int = 11, count: int = 400, days: int = 120, now: datetime | None = None,
                 prefix: str = "H") -> int:
    rng = random.Random(seed)
    now = now or utcnow()
    grids = db.session.execute(
        select(Area.code, Area.geometry).where(Area.level == "grid").order_by(Area.code)).all()
    if not grids:
        return 0
    points = {code: shapely.from_wkb(geom).representative_point() for code, geom in grids}
    leaves = [c for c in db.session.scalars(select(Category).order_by(Category.code)) if len(c.code) == 4]
    departments = list(db.session.scalars(select(Department.code).order_by(Department.code)))
    reporters = list(db.session.scalars(select(User.id).where(User.role == "grid_worker"))) or [None]
    events, tasks = [], []
    for i in range(count):
        grid = rng.choice(grids)[0]
        category = rng.choice(leaves)
        department = category.default_department_code or rng.choice(departments)
        reported = now - timedelta(days=rng.uniform(0, days), minutes=rng.randint(0, 600))
        self_resolved = rng.random() < 0.15
        row = dict(
            number=f"{prefix}{seed:03d}{i:06d}", category_code=category.code,
            description="历史事件", lon=points[grid].x, lat=points[grid].y,
            county_code=grid[:6], township_code=grid[:9], village_code=grid[:12], grid_code=grid,
            reporter_id=rng.choice(reporters), reported_at=reported, updated_at=reported,
            urgency=1, source="grid_worker", version=1, self_resolved=self_resolved,
            paused_seconds=0, rework_count=0, supervision_level=0, deadline_level=0,
        )
        if self_resolved:
            row.update(state="closed", closed_at=reported + timedelta(minutes=20), closed_on_time=True,
                       verified=True)
            events.append(row)
            continue
        fate = rng.random()
        if fate < 0.05:
            row.update(state="rejected")
            events.append(row)
            continue
        registered = reported + timedelta(hours=rng.uniform(0.2, 6))
        deadline = registered + timedelta(days=rng.choice([1, 3, 5, 10]))
        row.update(registered_at=registered, dispatched_at=registered + timedelta(minutes=30),
                   deadline=deadline, department_code=department)
        reworks = 1 if rng.random() < 0.1 else 0
        closed_at = registered + timedelta(days=rng.uniform(0.3, 12))
        for seq in range(reworks + 1):
            handled = registered + (closed_at - registered) * (seq + 1) / (reworks + 2)
            status = "reworked" if seq < reworks else "done"
            tasks.append(dict(event_id=i, seq=seq + 1, department_code=department, status=status,
                              dispatched_at=registered, deadline=deadline, handled_at=handled))
        if closed_at <= now and rng.random() < 0.85:
            row.update(state="closed", closed_at=closed_at, handled_at=closed_at - timedelta(hours=1),
                       closed_on_time=closed_at <= deadline, rework_count=reworks, verified=True,
                       handling_working_seconds=int((closed_at - registered).total_seconds() * 0.35),
                       satisfaction=rng.choice([3, 4, 5, 5, None]))
        else:
            row.update(state=rng.choice(["dispatched", "in_progress", "handled"]),
                       supervision_level=1 if rng.random() < 0.2 else 0)
            tasks[-1].update(status="in_progress", handled_at=None)
            if reworks:
                tasks[-2].update(status="reworked")
        events.append(row)
    ids = db.session.scalars(insert(Event).returning(Event.id, sort_by_parameter_order=True), events).all()
    for task in tasks:  # event_id held the event's index until the ids were known
        task["event_id"] = ids[task["event_id"]]
    if tasks:
        db.session.execute(insert(Task), tasks)
    db.session.commit()
    return len(events)
