"""Checks on imported areas that collect every problem, each with a bilingual message and a location."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import shapely

from geo.areas import CODE_LENGTH, LEVEL_NAMES_ZH, PARENT_LEVEL
from geo.crs import CHINA_BBOX

POLYGONAL = ("Polygon", "MultiPolygon")
_REASON_AT = re.compile(r"\[\s*([-+\d.eE]+)\s+([-+\d.eE]+)")
_REASON_ZH = {"Self-intersection": "自相交", "Ring Self-intersection": "环自相交", "Too few points": "点数太少",
              "Hole lies outside shell": "内环（洞）在外环之外", "Nested holes": "内环嵌套",
              "Interior is disconnected": "内部不连通", "Nested shells": "外环嵌套",
              "Duplicate Rings": "环重复", "Invalid Coordinate": "坐标无效"}


@dataclass
class Problem:
    index: int | None  # feature position in the file (0-based), None for whole-file problems
    code: str | None
    kind: str
    message_zh: str
    message_en: str
    where: tuple[float, float] | None = None  # WGS-84 lon/lat of the trouble, when it has one

    def as_dict(self) -> dict:
        data = asdict(self)
        data["where"] = list(self.where) if self.where else None
        return data


def where_of(geometry) -> tuple[float, float] | None:
    if geometry is None or shapely.is_empty(geometry):
        return None
    try:
        point = shapely.point_on_surface(geometry)
    except shapely.errors.GEOSException:
        point = shapely.centroid(geometry)
    return (round(point.x, 7), round(point.y, 7)) if not point.is_empty else None


# --- raw GeoJSON rings, before shapely sees them ------------------------------------------------

def raw_geometry_problems(index: int, code: str | None, mapping) -> list[Problem]:
    """Missing or non-polygon geometries, short or unclosed rings and non-numeric coordinates, as written."""
    if not mapping:
        return [Problem(index, code, "empty", "没有几何图形", "The feature has no geometry")]
    kind = mapping.get("type") if isinstance(mapping, dict) else None
    if kind not in POLYGONAL:
        return [Problem(index, code, "not_polygon", f"几何类型为 {kind}，应为面（Polygon/MultiPolygon）",
                        f"Geometry is a {kind}, not a Polygon or MultiPolygon")]
    polygons = mapping.get("coordinates")
    if kind == "Polygon":
        polygons = [polygons]
    if not polygons or not any(polygons):
        return [Problem(index, code, "empty", "几何图形为空", "The geometry is empty")]
    problems = []
    for p, rings in enumerate(polygons):
        for r, ring in enumerate(rings or []):
            label_zh = f"第 {p + 1} 个面的{'外环' if r == 0 else f'第 {r} 个内环'}"
            label_en = f"{'outer ring' if r == 0 else f'hole {r}'} of polygon {p + 1}"
            try:
                points = [(float(x), float(y)) for x, y, *_ in ring]
            except (TypeError, ValueError):
                problems.append(Problem(index, code, "bad_coordinates", f"{label_zh}含有非数字坐标",
                                        f"The {label_en} has coordinates that are not numbers"))
                continue
            where = points[0] if points else None
            if not all(math.isfinite(v) for pt in points for v in pt):
                problems.append(Problem(index, code, "bad_coordinates", f"{label_zh}含有空值或无穷大坐标",
                                        f"The {label_en} has non-finite coordinates", where))
            elif len(points) < 4:
                problems.append(Problem(index, code, "too_few_points",
                                        f"{label_zh}只有 {len(points)} 个点，至少需要 4 个（首尾相同）",
                                        f"The {label_en} has {len(points)} points; a ring needs at least 4 "
                                        "(first = last)", where))
            elif points[0] != points[-1]:
                problems.append(Problem(index, code, "unclosed_ring", f"{label_zh}未闭合（首尾点不同）",
                                        f"The {label_en} is not closed (first point differs from last)", where))
    return problems


# --- shapely geometries, in WGS-84 ----------------------------------------------------------------

def geometry_problems(index: int, code: str | None, geometry) -> list[Problem]:
    """Empty, non-polygonal, invalid (self-intersecting, ...) or outside-China geometries."""
    if geometry is None or shapely.is_empty(geometry):
        return [Problem(index, code, "empty", "几何图形为空", "The geometry is empty")]
    if geometry.geom_type not in POLYGONAL:
        return [Problem(index, code, "not_polygon", f"几何类型为 {geometry.geom_type}，应为面",
                        f"Geometry is a {geometry.geom_type}, not a Polygon or MultiPolygon", where_of(geometry))]
    problems = []
    reason = shapely.is_valid_reason(geometry)
    if reason != "Valid Geometry":
        match = _REASON_AT.search(reason)
        where = (float(match.group(1)), float(match.group(2))) if match else where_of(geometry)
        head = reason.split("[")[0].strip()
        problems.append(Problem(index, code, "invalid_ring", f"多边形无效：{_REASON_ZH.get(head, head)}（{reason}）",
                                f"Invalid polygon: {reason}", where))
    west, south, east, north = CHINA_BBOX
    minx, miny, maxx, maxy = geometry.bounds
    if not (west <= minx and maxx <= east and south <= miny and maxy <= north):
        problems.append(Problem(index, code, "outside_china",
                                "坐标不在中国范围内：请检查坐标系（--crs）或经纬度顺序",
                                "Coordinates fall outside China: check the coordinate system (--crs) or the "
                                "lon/lat order", (round(minx, 6), round(miny, 6))))
    return problems


def repair(geometry):
    """make_valid keeping only the polygonal parts; returns (geometry, change in area as a share) or None."""
    fixed = shapely.make_valid(geometry, method="structure", keep_collapsed=False)
    parts = [p for p in shapely.get_parts(fixed) if p.geom_type in POLYGONAL]
    if not parts:
        return None
    fixed = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    if fixed.geom_type not in POLYGONAL or fixed.is_empty:
        return None
    return fixed


# --- codes and the hierarchy --------------------------------------------------------------------

def code_problems(index: int, code: str | None, level: str | None, parent_code: str | None,
                  where=None) -> list[Problem]:
    """Digits only, the length of the level, and a code that extends its parent's code."""
    if level not in CODE_LENGTH:
        return [Problem(index, code, "bad_level", f"无法确定层级：{level}", f"Unknown level: {level}", where)]
    if not code:
        return [Problem(index, code, "bad_code", "缺少区划代码", "The area has no code", where)]
    problems = []
    length = CODE_LENGTH[level]
    if not code.isascii() or not code.isdigit() or len(code) != length:
        problems.append(Problem(index, code, "bad_code",
                                f"代码 {code} 无效：{LEVEL_NAMES_ZH[level]}代码应为 {length} 位数字",
                                f"Code {code} is invalid: a {level} code has {length} digits", where))
    if PARENT_LEVEL[level] and parent_code and not code.startswith(parent_code):
        problems.append(Problem(index, code, "code_not_in_parent",
                                f"代码 {code} 不以上级代码 {parent_code} 开头",
                                f"Code {code} does not extend its parent's code {parent_code}", where))
    if PARENT_LEVEL[level] and parent_code and len(parent_code) != CODE_LENGTH[PARENT_LEVEL[level]]:
        problems.append(Problem(index, code, "bad_code",
                                f"上级代码 {parent_code} 应为 {CODE_LENGTH[PARENT_LEVEL[level]]} 位",
                                f"Parent code {parent_code} should have {CODE_LENGTH[PARENT_LEVEL[level]]} digits",
                                where))
    return problems


def duplicate_problem(index: int, code: str, first_index: int, where=None) -> Problem:
    return Problem(index, code, "duplicate_code", f"代码 {code} 重复（第 {first_index + 1} 个要素已使用）",
                   f"Code {code} is repeated (already used by feature {first_index + 1})", where)


def unknown_parent_problem(index: int, code: str, parent_code: str, where=None) -> Problem:
    return Problem(index, code, "unknown_parent", f"上级区划 {parent_code} 不存在（文件和系统中均未找到）",
                   f"Parent area {parent_code} exists neither in the file nor in the system", where)


def missing_name_problem(index: int, code: str | None, where=None) -> Problem:
    return Problem(index, code, "missing_name", "缺少名称", "The area has no name", where)
