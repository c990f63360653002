"""Coordinate systems of reported points and imported areas, all brought to WGS-84 longitude/latitude.

Phones report WGS-84 (GPS), GCJ-02 (Amap, Tencent, WeChat) or BD-09 (Baidu). GCJ-02 is WGS-84 plus a
published, deterministic offset of a few hundred metres; BD-09 is a further small rotation of GCJ-02.
pyproj knows neither, and the PyPI packages that do (coord-convert, eviltransform, prcoords, ...) are
one-file, scalar-only copies of the same formulas with no release in years, so this small module is
ours: closed-form forward transforms, and inverses found by fixed-point iteration on the forward
formula (the offset changes by ~1e-5 per degree, so each step gains ~5 digits; two or three steps
reach 1e-9 degree, ~0.1 mm). Official grids (CGCS2000 EPSG:4490, Gauss-Krüger zones such as
EPSG:4527) go through pyproj.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from geo.errors import InvalidCoordinate, UnknownCRS

CRS_NAMES = ("wgs84", "gcj02", "bd09")
# Points the service accepts: mainland China, Hainan and the South China Sea coast, generously.
CHINA_BBOX = (73.0, 3.8, 135.1, 53.6)
# Krasovsky 1940 ellipsoid, which the GCJ-02 formulas are written against.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
_ALIASES = {
    "wgs84": "wgs84", "epsg:4326": "wgs84", "gps": "wgs84", "4326": "wgs84",
    "gcj02": "gcj02", "amap": "gcj02", "gaode": "gcj02", "tencent": "gcj02",
    "bd09": "bd09", "bd09ll": "bd09", "baidu": "bd09",
}


def normalize_crs(crs: str | None) -> str:
    """Return 'wgs84', 'gcj02', 'bd09' or 'EPSG:nnnn'; raise UnknownCRS for anything else."""
    raw = (crs or "wgs84").strip()
    name = raw.lower().replace("-", "").replace("_", "").replace(" ", "")
    if name in _ALIASES:
        return _ALIASES[name]
    if name.startswith("epsg:") and name[5:].isdigit():
        code = f"EPSG:{int(name[5:])}"
        _transformer(code)  # fails early, with the bilingual message, for an EPSG code pyproj lacks
        return "wgs84" if code == "EPSG:4326" else code
    raise UnknownCRS(f"不支持的坐标系：{raw}（可用 wgs84、gcj02、bd09 或 EPSG:代码）",
                     f"Unknown coordinate system: {raw} (use wgs84, gcj02, bd09 or EPSG:code)", crs=raw)


@lru_cache(maxsize=32)
def _transformer(code: str):
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    try:
        source = CRS.from_user_input(code)
    except CRSError:
        raise UnknownCRS(f"未知的 EPSG 坐标系：{code}", f"Unknown EPSG coordinate system: {code}", crs=code) from None
    # always_xy: we speak lon/lat (and easting/northing) whatever axis order the EPSG entry declares.
    return Transformer.from_crs(source, "EPSG:4326", always_xy=True)


# --- GCJ-02 / BD-09 formulas (vectorised; scalars go through the same code) ---------------------

def _outside_gcj_area(lon, lat):
    # The maps apply no offset outside this box, so neither do we.
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _offset_lat(x, y):
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _offset_lon(x, y):
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02_many(lons, lats):
    lon, lat = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    dlat = _offset_lat(lon - 105.0, lat - 35.0)
    dlon = _offset_lon(lon - 105.0, lat - 35.0)
    rad = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    outside = _outside_gcj_area(lon, lat)
    return lon + np.where(outside, 0.0, dlon), lat + np.where(outside, 0.0, dlat)


def gcj02_to_bd09_many(lons, lats):
    x, y = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02_approx(lons, lats):
    x, y = np.asarray(lons, dtype=float) - 0.0065, np.asarray(lats, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(forward, target_lon, target_lat, start_lon, start_lat, tolerance_deg=1e-10, max_iter=20):
    """Solve forward(x) = target by fixed-point steps x -= forward(x) - target (the map is near identity)."""
    lon, lat = np.array(start_lon, dtype=float), np.array(start_lat, dtype=float)
    for _ in range(max_iter):
        flon, flat = forward(lon, lat)
        elon, elat = flon - target_lon, flat - target_lat
        lon, lat = lon - elon, lat - elat
        if np.all(np.abs(elon) < tolerance_deg) and np.all(np.abs(elat) < tolerance_deg):
            break
    return lon, lat


def gcj02_to_wgs84_many(lons, lats):
    glon, glat = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    return _invert(wgs84_to_gcj02_many, glon, glat, glon, glat)


def bd09_to_gcj02_many(lons, lats):
    blon, blat = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    # The published inverse is only approximate (~1e-6°); refine it on the exact forward formula.
    return _invert(gcj02_to_bd09_many, blon, blat, *_bd09_to_gcj02_approx(blon, blat))


def wgs84_to_bd09_many(lons, lats):
    return gcj02_to_bd09_many(*wgs84_to_gcj02_many(lons, lats))


def bd09_to_wgs84_many(lons, lats):
    return gcj02_to_wgs84_many(*bd09_to_gcj02_many(lons, lats))


def to_wgs84_many(lons, lats, crs: str = "wgs84"):
    """Convert arrays of points in `crs` to WGS-84 (no validation; see validate_many)."""
    crs = normalize_crs(crs)
    lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    if crs == "wgs84":
        return lons, lats
    if crs == "gcj02":
        return gcj02_to_wgs84_many(lons, lats)
    if crs == "bd09":
        return bd09_to_wgs84_many(lons, lats)
    return _transformer(crs).transform(lons, lats)


def from_wgs84_many(lons, lats, crs: str):
    """Convert arrays of WGS-84 points to `crs` ('wgs84', 'gcj02' or 'bd09')."""
    crs = normalize_crs(crs)
    lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    if crs == "wgs84":
        return lons, lats
    if crs == "gcj02":
        return wgs84_to_gcj02_many(lons, lats)
    if crs == "bd09":
        return wgs84_to_bd09_many(lons, lats)
    return _transformer(crs).transform(lons, lats, direction="INVERSE")


def _scalar(pair) -> tuple[float, float]:
    return float(np.asarray(pair[0]).reshape(-1)[0]), float(np.asarray(pair[1]).reshape(-1)[0])


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(wgs84_to_gcj02_many([lon], [lat]))


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(wgs84_to_bd09_many([lon], [lat]))


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(gcj02_to_wgs84_many([lon], [lat]))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(bd09_to_wgs84_many([lon], [lat]))


# --- validation -------------------------------------------------------------------------------

def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidCoordinate("经纬度必须是数字", "Longitude and latitude must be numbers") from None


def check_lon_lat(lon: float, lat: float) -> tuple[float, float]:
    """Refuse NaN, infinities, out-of-range values and points outside China, with a clear message."""
    lon, lat = _number(lon), _number(lat)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidCoordinate("经纬度不能为空值或无穷大", "Longitude and latitude must be finite numbers")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InvalidCoordinate("经纬度超出范围（经度 ±180，纬度 ±90）",
                                "Coordinates out of range (longitude ±180, latitude ±90)")
    west, south, east, north = CHINA_BBOX
    if not (west <= lon <= east and south <= lat <= north):
        raise InvalidCoordinate(
            f"位置（{lon:.6f}, {lat:.6f}）不在中国境内，请检查定位或经纬度顺序",
            f"The point ({lon:.6f}, {lat:.6f}) is outside China; check the GPS fix or the lon/lat order")
    return lon, lat


# Kept under the name the services already call.
validate_point = check_lon_lat


def valid_mask(lons, lats) -> np.ndarray:
    """Vectorised check_lon_lat: True where a point is finite and inside China's bounding box."""
    lon, lat = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    west, south, east, north = CHINA_BBOX
    with np.errstate(invalid="ignore"):
        return np.isfinite(lon) & np.isfinite(lat) & (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def to_wgs84(lon, lat, crs: str = "wgs84") -> tuple[float, float]:
    """Validate one reported point and convert it to WGS-84 lon/lat."""
    crs = normalize_crs(crs)
    if crs.startswith("EPSG:"):
        # Projected input (metres) can only be checked once it is in degrees.
        lon, lat = _number(lon), _number(lat)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InvalidCoordinate("坐标不能为空值或无穷大", "Coordinates must be finite numbers")
        return check_lon_lat(*_scalar(to_wgs84_many([lon], [lat], crs)))
    lon, lat = check_lon_lat(lon, lat)
    return _scalar(to_wgs84_many([lon], [lat], crs))


def transform_geometry(geometry, crs: str):
    """Return a shapely geometry given in `crs` as WGS-84 lon/lat (areas from GIS files)."""
    import shapely

    crs = normalize_crs(crs)
    if crs == "wgs84":
        return geometry

    def convert(coords):
        lon, lat = to_wgs84_many(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([lon, lat])

    return shapely.transform(geometry, convert)
