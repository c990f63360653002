"""Demo events in every state, fired through the same services the consoles use, backdated over 90 days.

Each event walks a random prefix of a realistic path (report → register → dispatch → accept → result →
verify → close, with returns, rework, extensions, supervision and escalation mixed in), so the demo's
logs, tasks, deadlines and statistics are exactly what real use would leave behind.
"""
from __future__ import annotations

import random
from datetime import timedelta

import shapely

from gridgov.extensions import db
from gridgov.models import Area, Category, User
from gridgov.services.reporting import report_event
from gridgov.services.workflow import fire_action
from gridgov.timeutil import as_aware_utc, utcnow

DESCRIPTIONS = {
    "01": ["路口堆放生活垃圾，无人清运", "小区门口有建筑垃圾", "河面漂浮垃圾较多"],
    "02": ["电线杆上张贴小广告", "店铺违规设置落地广告牌"],
    "03": ["夜间施工噪音扰民", "工地未覆盖防尘网，扬尘严重"],
    "04": ["道路出现塌陷坑，危及行车", "自来水管破裂，路面积水"],
    "05": ["流动摊贩占道经营", "店外摆放商品占用人行道"],
    "06": ["邻里因漏水发生纠纷", "工人反映被拖欠工资"],
    "07": ["发现可疑人员在小区徘徊", "夜市周边治安秩序较乱"],
    "08": ["消防通道被车辆堵塞", "餐馆燃气瓶存放不规范"],
    "09": ["独居老人需要帮扶", "路灯不亮，夜间出行不便", "井盖缺失，存在安全隐患"],
    "10": ["群众来访反映村务公开问题"],
}

# How far along the loop each demo event gets, with weights: a few hundred events in every state.
PATHS = [
    (["report"], 6),
    (["report", "register"], 5),
    (["report", "reject"], 2),
    (["report", "register", "dispatch"], 8),
    (["report", "register", "dispatch", "accept"], 8),
    (["report", "register", "dispatch", "accept", "request_extension"], 2),
    (["report", "register", "dispatch", "return"], 3),
    (["report", "register", "dispatch", "return", "redispatch", "accept", "submit_result"], 2),
    (["report", "register", "dispatch", "accept", "submit_result"], 5),
    (["report", "register", "dispatch", "accept", "submit_result", "verify_pass"], 4),
    (["report", "register", "dispatch", "accept", "submit_result", "verify_pass", "close"], 30),
    (["report", "register", "dispatch", "accept", "submit_result", "verify_fail", "accept", "submit_result",
      "verify_pass", "close"], 4),
    (["report", "register", "dispatch", "accept", "supervise", "submit_result", "verify_pass", "close"], 3),
    (["report", "register", "escalate"], 1),
    (["report", "self_resolve"], 10),
]


def _photo(rng: random.Random):
    import io

    from PIL import Image

    from gridgov.services.photos import inspect_photo

    buffer = io.BytesIO()
    colour = tuple(rng.randrange(40, 220) for _ in range(3))
    Image.new("RGB", (96, 72), colour).save(buffer, "JPEG")
    buffer.seek(0)
    return [inspect_photo(buffer, "demo.jpg")]


def generate(rng: random.Random, count: int, days: int = 90) -> int:
    if count <= 0:
        return 0
    worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
    dispatcher = db.session.scalar(db.select(User).where(User.username == "demo_dispatcher"))
    handler = db.session.scalar(db.select(User).where(User.username == "demo_handler"))
    supervisor = db.session.scalar(db.select(User).where(User.username == "demo_supervisor"))
    grids = db.session.execute(
        db.select(Area.code, Area.geometry).where(Area.level == "grid", Area.code.like(f"{dispatcher.area_code}%"))
        .order_by(Area.code)).all()
    points = [shapely.from_wkb(geometry).representative_point() for _, geometry in grids]
    leaves = [c for c in db.session.scalars(db.select(Category).order_by(Category.code)) if c.is_leaf]
    city = [c for c in leaves if c.default_department_code == handler.department_code]
    paths, weights = zip(*PATHS)
    now = utcnow()
    made = 0
    for i in range(count):
        path = rng.choices(paths, weights)[0]
        # Events that went further along the loop are, on average, older.
        age = timedelta(days=rng.uniform(0.05, days) * min(1.0, 0.25 + len(path) / 10))
        t = now - age
        category = rng.choice(city if len(path) > 2 and path[2] == "dispatch" else leaves)
        point = rng.choice(points)
        jitter = (rng.uniform(-1, 1) * 1e-4, rng.uniform(-1, 1) * 1e-4)
        text = rng.choice(DESCRIPTIONS[category.code[:2]])
        if path[-1] == "self_resolve":
            report_event(user=worker, category=category.code, description=text, lon=point.x + jitter[0],
                         lat=point.y + jitter[1], urgency=rng.choice((1, 1, 1, 2)), at=t, self_resolve=True,
                         photos=_photo(rng), resolve_comment="已现场处置", client_uuid=f"demo-{i}")
            made += 1
            continue
        event = report_event(user=worker, category=category.code, description=text, lon=point.x + jitter[0],
                             lat=point.y + jitter[1], urgency=rng.choice((1, 1, 1, 2, 3)), at=t,
                             client_uuid=f"demo-{i}").event
        for action in path[1:]:
            t += timedelta(hours=rng.uniform(0.2, 30))
            if t >= now:
                break
            actor, inputs, photos = dispatcher, {}, ()
            if action in ("accept", "submit_result", "return", "request_extension"):
                actor = handler
            if action in ("verify_pass", "verify_fail"):
                actor, photos = worker, _photo(rng)
            if action == "supervise":
                actor, inputs = supervisor, {"comment": "请加快处置进度", "level": 1}
            if action == "dispatch":
                inputs = {"department": category.default_department_code}
            if action == "redispatch":
                inputs = {"department": handler.department_code}
            if action in ("reject", "return", "escalate", "verify_fail"):
                inputs = {"reason": {"reject": "不属于受理范围", "return": "非本部门职责",
                                     "escalate": "涉及多部门，需县级协调", "verify_fail": "现场仍未整改到位"}[action]}
            if action == "submit_result":
                inputs, photos = {"comment": "已按要求处置完毕"}, _photo(rng)
            if action == "request_extension":
                inputs = {"reason": "需协调施工单位", "deadline": as_aware_utc(event.deadline) + timedelta(days=3)}
            fire_action(event.id, action, user=actor, inputs=inputs, photos=photos, at=t)
        made += 1
    return made
