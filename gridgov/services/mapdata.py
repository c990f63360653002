"""Simplified area polygons as GeoJSON: the base layer of the report maps (no tile server needed).

Built once per (area version, parent, levels) and kept in the process: the polygons only change
when an import bumps the area version, and every phone of a township asks for the same layer.
"""
from __future__ import annotations

import threading

import shapely
import shapely.geometry

from gridgov.extensions import db
from gridgov.models import Area
from gridgov.services.areas import area_version

# Degrees; ~20 m for villages and ~5 m for grids: invisible at street zoom, a tenth of the bytes.
TOLERANCE = {"township": 0.0005, "village": 0.0002, "grid": 0.00005}
_cache: dict[tuple, dict] = {}
_lock = threading.Lock()


def area_layer(parent_code: str, levels: tuple[str, ...] = ("village", "grid")) -> dict:
    """A FeatureCollection of the areas of `levels` inside `parent_code` (properties: code, name, level)."""
    key = (str(db.engine.url), area_version(), parent_code, levels)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    rows = db.session.execute(
        db.select(Area.code, Area.name, Area.level, Area.geometry)
        .where(Area.level.in_(levels), Area.code.startswith(parent_code)).order_by(Area.level, Area.code)
    ).all()
    features = []
    for code, name, level, wkb in rows:
        if wkb is None:
            continue
        geometry = shapely.from_wkb(wkb).simplify(TOLERANCE[level], preserve_topology=True)
        features.append({"type": "Feature", "properties": {"code": code, "name": name, "level": level},
                         "geometry": shapely.geometry.mapping(geometry)})
    layer = {"type": "FeatureCollection", "features": features}
    with _lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = layer
    return layer


def area_names(codes) -> dict[str, str]:
    codes = sorted({c for c in codes if c})
    if not codes:
        return {}
    return dict(db.session.execute(db.select(Area.code, Area.name).where(Area.code.in_(codes))).all())
