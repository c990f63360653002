"""The admin's changes to departments, the category tree (time limits, default departments) and the
working-day calendar overrides. One function, one transaction, one admin audit row in it."""
from __future__ import annotations

import math
import re
from datetime import date

from gridgov.errors import AppError
from gridgov.extensions import db
from gridgov.models import Area, CalendarDay, Category, Department
from gridgov.models.categories import TimeUnit
from gridgov.services import admin_audit

DEPARTMENT_CODE = re.compile(r"^[0-9A-Za-z-]{2,20}$")
# In the category's own unit: 1000 working days is four years, 1000 hours six weeks. NaN broke the audit row and
# SQLite's NOT NULL (a 500); a limit like 1e308 was stored and then every dispatch of the category computed a
# deadline past year 9999 (a 500 each time).
MAX_TIME_LIMIT = 1000
TIME_UNITS = tuple(u.value for u in TimeUnit)


class CatalogError(AppError):
    status, code = 422, "invalid_catalog"


DEPARTMENT_FIELDS = ("name", "name_en", "level", "area_code", "active")
CATEGORY_FIELDS = ("time_limit", "time_unit", "urgent_time_limit", "default_department_code", "active")


def _fields(row, names) -> dict:
    return {name: getattr(row, name) for name in names}


def save_department(*, code: str, name: str, name_en: str = "", level: str = "county", area_code: str,
                    active: bool = True, actor=None) -> Department:
    code = (code or "").strip()
    if not DEPARTMENT_CODE.match(code):
        raise CatalogError("部门编码只能含字母、数字和连字符（2–20 位）", "Department codes hold 2–20 letters, digits or -")
    if not (name or "").strip():
        raise CatalogError("请填写部门名称", "Give the department a name")
    if level not in ("county", "township"):
        raise CatalogError("部门层级应为区县或乡镇", "Level must be county or township")
    if db.session.get(Area, area_code) is None:
        raise CatalogError(f"未知辖区编码：{area_code}", f"Unknown area code: {area_code}")
    existing = db.session.get(Department, code)
    before = _fields(existing, DEPARTMENT_FIELDS) if existing else {}
    department = existing or Department(code=code)
    department.name, department.name_en = name.strip()[:100], (name_en or "").strip()[:100]
    department.level, department.area_code, department.active = level, area_code, bool(active)
    db.session.add(department)
    admin_audit.record("department.update" if existing else "department.create", actor=actor,
                       target_type="department", target_id=code,
                       data={"changes": admin_audit.changes(before, _fields(department, DEPARTMENT_FIELDS))})
    db.session.commit()
    return department


def update_category(code: str, *, time_limit: str, time_unit: str, urgent_time_limit: str = "",
                    default_department_code: str = "", active: bool = True, actor=None) -> Category:
    category = db.session.get(Category, code)
    if category is None:
        raise CatalogError("找不到该分类", "No such category", status=404, code="not_found")
    try:
        limit = float(time_limit)
        urgent = float(urgent_time_limit) if str(urgent_time_limit).strip() else None
    except ValueError:
        raise CatalogError("时限必须是数字", "Time limits must be numbers") from None
    limits = [value for value in (limit, urgent) if value is not None]
    if not all(math.isfinite(value) for value in limits):  # "nan", "inf", or a number float() rounds to inf
        raise CatalogError("时限必须是有限的数字", "Time limits must be finite numbers")
    if any(value <= 0 for value in limits):
        raise CatalogError("时限必须大于 0", "Time limits must be positive")
    if any(value > MAX_TIME_LIMIT for value in limits):
        raise CatalogError(f"时限不能超过 {MAX_TIME_LIMIT}", f"Time limits may not exceed {MAX_TIME_LIMIT}")
    if time_unit not in TIME_UNITS:
        raise CatalogError("未知的时限单位", "Unknown time unit")
    if default_department_code and db.session.get(Department, default_department_code) is None:
        raise CatalogError(f"未知部门编码：{default_department_code}", f"Unknown department: {default_department_code}")
    before = _fields(category, CATEGORY_FIELDS)
    category.time_limit, category.time_unit, category.urgent_time_limit = limit, time_unit, urgent
    category.default_department_code = default_department_code or None
    category.active = bool(active)
    admin_audit.record("category.update", actor=actor, target_type="category", target_id=code,
                       data={"changes": admin_audit.changes(before, _fields(category, CATEGORY_FIELDS))})
    db.session.commit()
    return category


def set_calendar_day(day: str, *, is_workday: bool, note: str = "", actor=None) -> CalendarDay:
    try:
        parsed = date.fromisoformat((day or "").strip())
    except ValueError:
        raise CatalogError("日期格式应为 YYYY-MM-DD", "Dates look like YYYY-MM-DD") from None
    existing = db.session.get(CalendarDay, parsed)
    before = {"is_workday": existing.is_workday, "note": existing.note} if existing else None
    row = existing or CalendarDay(day=parsed)
    row.is_workday, row.note = bool(is_workday), (note or "").strip()[:100]
    db.session.add(row)
    admin_audit.record("calendar.override", actor=actor, target_type="calendar_day", target_id=parsed.isoformat(),
                       data={"is_workday": row.is_workday, "note": row.note, "previous": before})
    db.session.commit()
    return row


def delete_calendar_day(day: str, *, actor=None) -> bool:
    try:
        parsed = date.fromisoformat((day or "").strip())
    except ValueError:
        raise CatalogError("日期格式应为 YYYY-MM-DD", "Dates look like YYYY-MM-DD") from None
    row = db.session.get(CalendarDay, parsed)
    if row is not None:
        admin_audit.record("calendar.delete", actor=actor, target_type="calendar_day", target_id=parsed.isoformat(),
                           data={"previous": {"is_workday": row.is_workday, "note": row.note}})
        db.session.delete(row)
        db.session.commit()
    return row is not None
