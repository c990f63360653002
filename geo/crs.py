"""Coordinate systems of reported points: WGS-84 (GPS), GCJ-02 (Amap/Tencent/WeChat) and BD-09 (Baidu).

GCJ-02 is WGS-84 plus a published, deterministic offset; BD-09 is a further rotation of GCJ-02. The
forward transforms are closed formulas; the inverse of GCJ-02 has none, so `gcj02_to_wgs84` iterates
the forward formula (fixed-point on the offset) until the round trip is within 1e-7° (~1 cm). Outside
China the offset is not applied, as the maps themselves do. pyproj knows neither system, and the PyPI
packages that do are unmaintained one-file copies, so this small module is ours.
"""
from __future__ import annotations

import math

import numpy as np

from geo.errors import InvalidCoordinate, UnknownCRS

CRS_NAMES = ("wgs84", "gcj02", "bd09")
# Krasovsky 1940 ellipsoid, as the GCJ-02 formulas use it.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
# Mainland China, generously: the bounding box the service accepts for reported points.
CHINA_BBOX = (73.0, 3.8, 135.1, 53.6)


def _out_of_china(lon, lat):
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _transform_lat(x, y):
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x, y):
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(lon, lat):
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02_many(lons, lats):
    lons, lats = np.asarray(lons, float), np.asarray(lats, float)
    dlon, dlat = _gcj_offset(lons, lats)
    return lons + dlon, lats + dlat


def gcj02_to_wgs84_many(lons, lats, tolerance_deg: float = 1e-7, max_iter: int = 30):
    glon, glat = np.asarray(lons, float), np.asarray(lats, float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02_many(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < tolerance_deg) and np.all(np.abs(elat) < tolerance_deg):
            break
    return wlon, wlat


def gcj02_to_bd09_many(lons, lats):
    x, y = np.asarray(lons, float), np.asarray(lats, float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02_many(lons, lats):
    x, y = np.asarray(lons, float) - 0.0065, np.asarray(lats, float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def to_wgs84_many(lons, lats, crs: str = "wgs84"):
    crs = normalize_crs(crs)
    if crs == "wgs84":
        return np.asarray(lons, float), np.asarray(lats, float)
    if crs == "gcj02":
        return gcj02_to_wgs84_many(lons, lats)
    return gcj02_to_wgs84_many(*bd09_to_gcj02_many(lons, lats))


def from_wgs84_many(lons, lats, crs: str):
    crs = normalize_crs(crs)
    if crs == "wgs84":
        return np.asarray(lons, float), np.asarray(lats, float)
    gcj = wgs84_to_gcj02_many(lons, lats)
    return gcj if crs == "gcj02" else gcj02_to_bd09_many(*gcj)


def normalize_crs(crs: str | None) -> str:
    name = (crs or "wgs84").strip().lower().replace("-", "").replace("_", "")
    aliases = {"wgs84": "wgs84", "epsg:4326": "wgs84", "gps": "wgs84", "gcj02": "gcj02", "amap": "gcj02",
               "bd09": "bd09", "bd09ll": "bd09", "baidu": "bd09"}
    if name not in aliases:
        raise UnknownCRS(f"不支持的坐标系：{crs}（可用 wgs84、gcj02、bd09）",
                         f"Unknown coordinate system: {crs} (use wgs84, gcj02 or bd09)", crs=crs)
    return aliases[name]


def validate_point(lon, lat) -> tuple[float, float]:
    """Refuse NaN, infinities, out-of-range values and points outside China, with a clear message."""
    try:
        lon_f, lat_f = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InvalidCoordinate("经纬度必须是数字", "Longitude and latitude must be numbers") from None
    if not (math.isfinite(lon_f) and math.isfinite(lat_f)):
        raise InvalidCoordinate("经纬度不能为空值或无穷大", "Longitude and latitude must be finite numbers")
    if not (-180 <= lon_f <= 180 and -90 <= lat_f <= 90):
        raise InvalidCoordinate("经纬度超出范围（经度 ±180，纬度 ±90）",
                                "Coordinates out of range (longitude ±180, latitude ±90)")
    west, south, east, north = CHINA_BBOX
    if not (west <= lon_f <= east and south <= lat_f <= north):
        raise InvalidCoordinate("位置不在中国境内，请检查定位或经纬度顺序",
                                "The point is outside China; check the GPS fix or the lon/lat order")
    return lon_f, lat_f


def to_wgs84(lon, lat, crs: str = "wgs84") -> tuple[float, float]:
    """Validate a reported point and convert it to WGS-84."""
    lon_f, lat_f = validate_point(lon, lat)
    wlon, wlat = to_wgs84_many([lon_f], [lat_f], crs)
    return float(wlon[0]), float(wlat[0])


def valid_mask(lons, lats) -> np.ndarray:
    """Which points are finite and inside China's bounding box."""
    lons, lats = np.asarray(lons, float), np.asarray(lats, float)
    west, south, east, north = CHINA_BBOX
    return np.isfinite(lons) & np.isfinite(lats) & (lons >= west) & (lons <= east) & (lats >= south) & (lats <= north)
