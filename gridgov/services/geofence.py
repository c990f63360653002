"""The process-wide geofence: one grid index per process, rebuilt when the stored areas change.

Every lookup first checks the `area_version` setting (a primary-key read, at most every couple of
seconds per process: `recent_area_version`); only when it differs from the version the index was
built from does the process reload the grids and rebuild.
"""
from __future__ import annotations

import threading

import shapely
from flask import current_app

from geo.crs import to_wgs84
from geo.areas import AreaRecord
from geo.index import GridIndex
from gridgov.extensions import database_key, db
from gridgov.models import Area
from gridgov.services.areas import recent_area_version


_lock = threading.Lock()
_cache: dict[str, tuple[int, GridIndex]] = {}


def _load_index() -> GridIndex:
    rows = db.session.execute(
        db.select(Area.code, Area.parent_code, Area.geometry).where(Area.level == "grid")
    ).all()
    records = [AreaRecord(code, "", "grid", parent, shapely.from_wkb(wkb)) for code, parent, wkb in rows if wkb]
    return GridIndex.from_areas(records, tolerance_m=current_app.config["GEOFENCE_TOLERANCE_M"])


def current_index() -> GridIndex:
    key = database_key()
    version = recent_area_version()
    cached = _cache.get(key)
    if cached and cached[0] == version:
        return cached[1]
    with _lock:
        cached = _cache.get(key)
        if cached and cached[0] == version:
            return cached[1]
        index = _load_index()
        _cache[key] = (version, index)
        return index


def locate_point(lon, lat, crs: str = "wgs84") -> dict:
    """The answer of `geo locate` and GET /api/v1/geo/locate (raises InvalidCoordinate / UnknownCRS)."""
    wlon, wlat = to_wgs84(lon, lat, crs)
    answer = current_index().locate(wlon, wlat).as_dict()
    if answer["distance_m"] == float("inf"):
        answer["distance_m"] = None
    return answer
