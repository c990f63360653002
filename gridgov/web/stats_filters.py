"""Reading a statistics request (period, area, category, department) from URL parameters, and
deciding who may ask: shared by the dashboard, its exports and `GET /api/v1/stats`.

Parameters: `from`, `to` (local dates, inclusive) or `period` (a preset, default this_month);
`area` (any level, default the user's own area); `category` (major or sub code); `department`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_login import current_user

from gridgov.access import area_covers, area_level
from gridgov.errors import AppError
from gridgov.services.stats import PRESETS, Period, StatsQuery, preset_period
from gridgov.timeutil import EARLIEST_DAY, LATEST_DAY, utcnow

STATS_ROLES = ("supervisor", "admin", "dispatcher")
MAX_DAYS = 3 * 366
CODE = re.compile(r"^[0-9A-Za-z_-]{1,20}$")


@dataclass
class StatsFilters:
    query: StatsQuery
    preset: str | None

    def args(self, **override) -> dict:
        """URL parameters that reproduce this view (for links, shares and exports)."""
        q = self.query
        out = {"from": q.period.first.isoformat(), "to": q.period.last.isoformat()}
        if q.area:
            out["area"] = q.area
        if q.category:
            out["category"] = q.category
        if q.department:
            out["department"] = q.department
        out.update({k: v for k, v in override.items() if v is not None})
        return out


def require_stats_user():
    if not current_user.is_authenticated:
        raise AppError("请先登录", "Please log in", status=401, code="unauthorized")
    if current_user.role not in STATS_ROLES:
        raise AppError("只有督查员、调度员和管理员可以查看统计", "Only supervisors, dispatchers and admins may view "
                       "statistics", status=403, code="forbidden")
    return current_user


def _bad(zh: str, en: str, field: str) -> AppError:
    return AppError(zh, en, status=400, code="bad_request", details={"field": field})


def _date(value: str, field: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise _bad(f"日期格式应为 YYYY-MM-DD：{field}", f"{field} must be a date YYYY-MM-DD", field) from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise _bad(f"日期超出范围（{EARLIEST_DAY} 至 {LATEST_DAY}）：{field}",
                   f"{field} must lie between {EARLIEST_DAY} and {LATEST_DAY}", field)
    return day


def parse_filters(args, user) -> StatsFilters:
    tz = current_app.config["GRIDGOV_TIMEZONE"]
    now = utcnow()
    preset = None
    if args.get("from") or args.get("to"):
        if not (args.get("from") and args.get("to")):
            raise _bad("起止日期须同时给出", "Give both from and to", "from")
        period = Period(_date(args["from"], "from"), _date(args["to"], "to"), tz)
        if period.last < period.first:
            raise _bad("结束日期早于开始日期", "to is before from", "to")
        if period.days > MAX_DAYS:
            raise _bad("统计期间不能超过三年", "The period may not exceed three years", "to")
    else:
        preset = args.get("period") or "this_month"
        if preset not in PRESETS:
            raise _bad("未知的统计期间", f"Unknown period; use one of {', '.join(PRESETS)}", "period")
        period = preset_period(preset, tz, now)

    area = (args.get("area") or "").strip() or user.area_code
    try:
        area_level(area)
    except ValueError:
        raise _bad("区域代码无效", "Not an area code", "area") from None
    if user.role != "admin" and not area_covers(user.area_code, area):
        raise AppError("无权查看该区域的统计", "You may not view statistics outside your jurisdiction",
                       status=403, code="forbidden", details={"area": area, "your_area": user.area_code})
    category = (args.get("category") or "").strip() or None
    department = (args.get("department") or "").strip() or None
    for field, value in (("category", category), ("department", department)):
        if value is not None and not CODE.match(value):
            raise _bad(f"参数无效：{field}", f"Invalid {field}", field)
    return StatsFilters(StatsQuery(period=period, area=area, category=category, department=department, now=now),
                        preset)
