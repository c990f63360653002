"""Load the demo county into an empty database, deterministically for a given seed."""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field

from geo.synthetic import make_county
from gridgov.demo.catalog import CATEGORIES, DEPARTMENTS
from gridgov.extensions import db
from gridgov.models import Area, Category, Department, GridDepartment, User
from gridgov.services import areas as area_service

DEMO_COUNTY = "330521"
DEMO_CENTER = (120.05, 30.62)


class DemoAlreadyLoaded(Exception):
    pass


@dataclass
class DemoResult:
    county_code: str
    townships: int
    villages: int
    grids: int
    events: int
    password: str
    users: list[tuple[str, str]] = field(default_factory=list)


def department_code(suffix: str) -> str:
    return f"{DEMO_COUNTY}-{suffix}"


def load_demo(*, seed: int = 2026, password: str | None = None, event_count: int = 300) -> DemoResult:
    if db.session.scalar(db.select(Area.code).limit(1)) is not None:
        raise DemoAlreadyLoaded("数据库中已有区域数据 / the database already holds areas; use a fresh database")
    rng = random.Random(seed)
    password = password or secrets.token_urlsafe(9)

    records = make_county(seed=seed, county_code=DEMO_COUNTY, townships=5, center=DEMO_CENTER)
    area_service.store_records(records, commit=False)
    db.session.flush()
    counts = {level: sum(1 for r in records if r.level == level) for level in ("township", "village", "grid")}

    for suffix, name, name_en in DEPARTMENTS:
        db.session.add(Department(code=department_code(suffix), name=name, name_en=name_en,
                                  level="county", area_code=DEMO_COUNTY))
    townships = sorted(r.code for r in records if r.level == "township")
    for code in townships:  # each township runs its own comprehensive law-enforcement team
        db.session.add(Department(code=f"{code}-ZF", name="综合行政执法队", name_en="Township enforcement team",
                                  level="township", area_code=code))
    db.session.flush()
    for r in records:
        if r.level == "grid":
            db.session.add(GridDepartment(area_code=r.code, department_code=f"{r.code[:9]}-ZF"))

    for order, (code, zh, en, pinyin, dept, limit, unit) in enumerate(CATEGORIES):
        db.session.add(Category(
            code=code, parent_code=code[:2] if len(code) == 4 else None, name_zh=zh, name_en=en,
            pinyin=pinyin, default_department_code=department_code(dept) if dept else None,
            time_limit=limit or 0, time_unit=unit or "working_days", sort_order=order,
            urgent_time_limit=(limit / 2 if limit else None),
        ))

    first_township = townships[0]
    first_village = sorted(r.code for r in records if r.level == "village" and r.parent_code == first_township)[0]
    demo_users = [
        ("demo_worker", "grid_worker", first_village, None, "演示网格员"),
        ("demo_dispatcher", "dispatcher", first_township, None, "演示调度员"),
        ("demo_handler", "handler", DEMO_COUNTY, department_code("CG"), "演示处置人员"),
        ("demo_supervisor", "supervisor", DEMO_COUNTY, None, "演示督查员"),
        ("demo_admin", "admin", DEMO_COUNTY, None, "演示管理员"),
    ]
    result = DemoResult(DEMO_COUNTY, counts["township"], counts["village"], counts["grid"], 0, password)
    for username, role, area, dept, display in demo_users:
        user = User(username=username, role=role, area_code=area, department_code=dept, display_name=display)
        user.set_password(password)
        db.session.add(user)
        result.users.append((username, role))
    db.session.commit()

    from gridgov.demo import events as demo_events

    result.events = demo_events.generate(rng, event_count)
    return result
