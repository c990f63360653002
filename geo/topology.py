"""Topology report on stored areas: sibling overlaps, gaps in a parent, children outside their parent.

Areas are measured in a Lambert azimuthal equal-area projection centred on the data, so m² are true
(to a fraction of a percent over a county) whatever the latitude. Pieces smaller than `sliver_m2`
are ignored: digitising noise along shared borders is not worth a clerk's time.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Iterable

import numpy as np
import shapely
from pyproj import Transformer

from geo.areas import LEVEL_NAMES_ZH, LEVELS

DEFAULT_SLIVER_M2 = 1.0


@dataclass
class Finding:
    kind: str  # invalid_polygon | overlap | gap | outside_parent
    level: str  # level of the areas at fault (the children, for gaps: the parent's level)
    codes: list[str]
    area_m2: float
    lon: float | None
    lat: float | None
    message_zh: str
    message_en: str

    def as_dict(self) -> dict:
        return asdict(self)


def check_topology(areas: Iterable, sliver_m2: float = DEFAULT_SLIVER_M2) -> list[Finding]:
    """Findings for all areas (records with code, level, parent_code, WGS-84 geometry), JSON-serialisable."""
    areas = [a for a in areas if a.geometry is not None and not a.geometry.is_empty]
    if not areas:
        return []
    projection = _Projection([a.geometry for a in areas])
    metric = dict(zip((a.code for a in areas), projection.forward([a.geometry for a in areas])))
    findings: list[Finding] = []
    for area in areas:
        if not area.geometry.is_valid:
            lon, lat = _lonlat(projection, shapely.point_on_surface(metric[area.code]))
            reason = shapely.is_valid_reason(area.geometry)
            findings.append(Finding("invalid_polygon", area.level, [area.code], 0.0, lon, lat,
                                    f"{LEVEL_NAMES_ZH[area.level]} {area.code} 多边形无效：{reason}",
                                    f"{area.level} {area.code} has an invalid polygon: {reason}"))
            metric[area.code] = shapely.make_valid(metric[area.code])
    by_code = {a.code: a for a in areas}
    children = defaultdict(list)
    for area in areas:
        if area.parent_code:
            children[area.parent_code].append(area)
    for parent_code in sorted(children):
        kids = sorted(children[parent_code], key=lambda a: a.code)
        findings += _overlaps(kids, metric, projection, sliver_m2)
        parent = by_code.get(parent_code)
        if parent is not None:
            findings += _gaps_and_outside(parent, kids, metric, projection, sliver_m2)
    order = {level: i for i, level in enumerate(LEVELS)}
    findings.sort(key=lambda f: (order.get(f.level, 9), f.kind, f.codes))
    return findings


def _overlaps(kids, metric, projection, sliver_m2) -> list[Finding]:
    geoms = np.array([metric[k.code] for k in kids], dtype=object)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    out = []
    for i, j in zip(left[pairs], right[pairs]):
        overlap = shapely.intersection(geoms[i], geoms[j])
        for piece in _polygons(overlap, sliver_m2):
            a, b = kids[i], kids[j]
            lon, lat = _lonlat(projection, shapely.point_on_surface(piece))
            out.append(Finding("overlap", a.level, [a.code, b.code], round(piece.area, 2), lon, lat,
                               f"{LEVEL_NAMES_ZH[a.level]} {a.code} 与 {b.code} 重叠 {piece.area:,.0f} 平方米",
                               f"{a.level} {a.code} overlaps {b.code} by {piece.area:,.0f} m²"))
    return out


def _gaps_and_outside(parent, kids, metric, projection, sliver_m2) -> list[Finding]:
    union = shapely.union_all([metric[k.code] for k in kids])
    whole = metric[parent.code]
    out = []
    for piece in _polygons(shapely.difference(whole, union), sliver_m2):
        lon, lat = _lonlat(projection, shapely.point_on_surface(piece))
        out.append(Finding("gap", parent.level, [parent.code], round(piece.area, 2), lon, lat,
                           f"{LEVEL_NAMES_ZH[parent.level]} {parent.code} 有 {piece.area:,.0f} 平方米未被下级区域覆盖",
                           f"{piece.area:,.0f} m² of {parent.level} {parent.code} is covered by none of its "
                           f"{kids[0].level}s"))
    for kid in kids:
        for piece in _polygons(shapely.difference(metric[kid.code], whole), sliver_m2):
            lon, lat = _lonlat(projection, shapely.point_on_surface(piece))
            out.append(Finding("outside_parent", kid.level, [kid.code, parent.code], round(piece.area, 2), lon, lat,
                               f"{LEVEL_NAMES_ZH[kid.level]} {kid.code} 有 {piece.area:,.0f} 平方米超出上级 {parent.code}",
                               f"{piece.area:,.0f} m² of {kid.level} {kid.code} lies outside its parent "
                               f"{parent.code}"))
    return out


def _polygons(geometry, sliver_m2):
    """Polygon pieces of an overlay result at least `sliver_m2` in area (lines and points are dropped)."""
    return [p for p in shapely.get_parts(geometry)
            if p.geom_type == "Polygon" and p.area >= sliver_m2 and p.area > 0]


def _lonlat(projection, point):
    lon, lat = projection.inverse(point.x, point.y)
    return round(float(lon), 7), round(float(lat), 7)


class _Projection:
    """Lambert azimuthal equal-area centred on the data: true areas in m²."""

    def __init__(self, geometries):
        minx, miny, maxx, maxy = shapely.total_bounds(geometries)
        crs = f"+proj=laea +lat_0={(miny + maxy) / 2} +lon_0={(minx + maxx) / 2} +ellps=WGS84 +units=m"
        self._to = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self._back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def forward(self, geometries):
        def project(coords):
            return np.column_stack(self._to.transform(coords[:, 0], coords[:, 1]))

        return list(shapely.transform(np.array(geometries, dtype=object), project))

    def inverse(self, x, y):
        return self._back.transform(x, y)
