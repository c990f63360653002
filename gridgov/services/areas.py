"""Storing areas and telling every process when they changed (the geofence rebuilds on that)."""
from __future__ import annotations

from typing import Iterable

import shapely

from gridgov.extensions import db
from gridgov.models import Area, Setting
from gridgov.timeutil import utcnow

AREA_VERSION_KEY = "area_version"
LEVEL_ORDER = {"county": 0, "township": 1, "village": 2, "grid": 3}


def area_version() -> int:
    value = db.session.scalar(db.select(Setting.value).where(Setting.key == AREA_VERSION_KEY))
    return int(value) if value else 0


def bump_area_version() -> int:
    setting = db.session.get(Setting, AREA_VERSION_KEY)
    if setting is None:
        setting = Setting(key=AREA_VERSION_KEY, value="0")
        db.session.add(setting)
    setting.value = str(int(setting.value or 0) + 1)
    setting.updated_at = utcnow()
    return int(setting.value)


def store_records(records: Iterable, *, commit: bool = True) -> int:
    """Insert or replace areas, parents first. Each record has code, name, level, parent_code, geometry."""
    ordered = sorted(records, key=lambda r: (LEVEL_ORDER[r.level], r.code))
    for record in ordered:
        geometry = record.geometry
        min_lon, min_lat, max_lon, max_lat = geometry.bounds
        area = db.session.get(Area, record.code) or Area(code=record.code)
        area.level = record.level
        area.name = record.name
        area.parent_code = record.parent_code
        area.geometry = shapely.to_wkb(geometry)
        area.min_lon, area.min_lat, area.max_lon, area.max_lat = min_lon, min_lat, max_lon, max_lat
        db.session.add(area)
    bump_area_version()
    if commit:
        db.session.commit()
    return len(ordered)


def load_geometry(area: Area):
    return shapely.from_wkb(area.geometry) if area.geometry is not None else None


def preview_import(file, *, level: str = "grid") -> dict:
    """Validate an uploaded GeoJSON/Shapefile of areas and report what an import would do, importing nothing.

    TODO(geo): the real validation lives in `geo.importer` (topology, parent links, CRS), which is on another
    branch. Until it lands on main this stub only parses GeoJSON and counts features, and the admin page keeps
    the commit step disabled. Returns {"ok", "level", "features", "problems": [str], "can_commit": False}.
    """
    import json

    problems: list[str] = []
    features = 0
    try:
        data = json.loads(file.read().decode("utf-8-sig"))
        if data.get("type") == "FeatureCollection":
            features = len(data.get("features") or [])
        elif data.get("type") == "Feature":
            features = 1
        else:
            problems.append("不是 GeoJSON 要素集合 / not a GeoJSON FeatureCollection")
    except (ValueError, UnicodeDecodeError, AttributeError):
        problems.append("无法解析为 GeoJSON / could not be read as GeoJSON")
    if not problems and features == 0:
        problems.append("文件中没有要素 / the file holds no features")
    return {"ok": not problems, "level": level, "features": features, "problems": problems, "can_commit": False,
            "validator": "stub"}
