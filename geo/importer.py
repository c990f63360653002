"""Import areas from a GeoJSON or Shapefile: read as a stream, transform to WGS-84, validate everything.

Either every feature is good and the caller gets the records, or `ImportRejected` carries a report
naming every problem (not just the first), so a GIS clerk fixes the file in one round. Nothing is
written here; the caller stores the records only after this returns.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import shapely
from shapely.geometry import shape

from geo.areas import CODE_LENGTH, PARENT_LEVEL, AreaRecord, level_of_code
from geo.crs import normalize_crs, to_wgs84_many, transform_geometry
from geo.errors import GeoError, UnknownCRS
from geo.readers import detect_format, geojson_declared_crs, iter_geojson, iter_shapefile, shapefile_crs
from geo.validate import (Problem, code_problems, duplicate_problem, geometry_problems, missing_name_problem,
                          raw_geometry_problems, repair as repair_geometry, unknown_parent_problem, where_of)


@dataclass
class ImportOptions:
    level: str | None = None  # None: each feature's `level_field`, else the level its code length implies
    crs: str | None = None  # None: the GeoJSON's legacy "crs" member or WGS-84; the .prj for a Shapefile
    code_field: str = "code"
    name_field: str = "name"
    parent_field: str = "parent_code"
    level_field: str = "level"
    repair: bool = False
    known_codes: frozenset = frozenset()  # codes already stored, so a parent may live outside the file


@dataclass
class ImportReport:
    features: int = 0
    problems: list[Problem] = field(default_factory=list)
    repairs: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def as_dict(self) -> dict:
        return {"features": self.features, "ok": self.ok, "problems": [p.as_dict() for p in self.problems],
                "repairs": [p.as_dict() for p in self.repairs]}


class ImportRejected(GeoError):
    code = "import_rejected"

    def __init__(self, report: ImportReport):
        n = len(report.problems)
        super().__init__(f"导入被拒绝：发现 {n} 个问题，未导入任何区域", f"Import rejected: {n} problem(s); nothing imported",
                         problems=n)
        self.report = report


def import_areas(source, **options) -> list[AreaRecord]:
    """Records from `source` (path or GeoJSON file object), or ImportRejected with the full report."""
    records, report = read_areas(source, **options)
    if not report.ok:
        raise ImportRejected(report)
    return records


def read_areas(source, *, fmt: str | None = None, **options) -> tuple[list[AreaRecord], ImportReport]:
    """Read and validate without raising: the records that passed and the report of everything found."""
    opts = ImportOptions(**options)
    opts.known_codes = frozenset(opts.known_codes or ())
    fmt = fmt or (detect_format(source) if not hasattr(source, "read") else "geojson")
    crs = opts.crs
    if fmt == "shapefile":
        crs = crs or _epsg_of(shapefile_crs(source))
        features = iter_shapefile(source)
    else:
        crs = crs or geojson_declared_crs(source)
        features = iter_geojson(source)
    crs = normalize_crs(crs or "wgs84")
    report = ImportReport()
    records: list[tuple[int, AreaRecord]] = []
    first_seen: dict[str, int] = {}
    for feature in features:
        report.features += 1
        record, problems = _one(feature, opts, crs, report)
        report.problems.extend(problems)
        if record is None:
            continue
        if record.code in first_seen:
            report.problems.append(duplicate_problem(feature.index, record.code, first_seen[record.code],
                                                     where_of(record.geometry)))
            continue
        first_seen[record.code] = feature.index
        if not problems:
            records.append((feature.index, record))
    known = set(first_seen) | set(opts.known_codes)
    for index, record in list(records):
        if record.parent_code and record.parent_code not in known:
            report.problems.append(unknown_parent_problem(index, record.code, record.parent_code,
                                                          where_of(record.geometry)))
    # Report in file order, the order the clerk will look through.
    report.problems.sort(key=lambda p: (p.index if p.index is not None else -1))
    return [r for _, r in records], report


def _one(feature, opts: ImportOptions, crs: str, report: ImportReport):
    props = feature.properties
    code = _text(props.get(opts.code_field))
    name = _text(props.get(opts.name_field))
    level = opts.level or _text(props.get(opts.level_field)) or level_of_code(code or "")
    parent = _text(props.get(opts.parent_field))
    if not parent and level in PARENT_LEVEL and PARENT_LEVEL[level] and code:
        parent = code[: CODE_LENGTH[PARENT_LEVEL[level]]]  # codes nest: the parent is the prefix

    geometry, problems = _geometry(feature, code, crs)
    where = where_of(geometry)
    problems += code_problems(feature.index, code, level, parent, where)
    if not name:
        problems.append(missing_name_problem(feature.index, code, where))
    if geometry is not None:
        geo_problems = geometry_problems(feature.index, code, geometry)
        if opts.repair and any(p.kind == "invalid_ring" for p in geo_problems):
            fixed = repair_geometry(geometry)
            if fixed is not None:
                report.repairs.append(_repair_note(feature.index, code, geometry, fixed))
                geometry = fixed
                geo_problems = geometry_problems(feature.index, code, geometry)
        problems += geo_problems
    if not code or level not in CODE_LENGTH:
        return None, problems
    return AreaRecord(code, name or "", level, parent if PARENT_LEVEL.get(level) else None, geometry), problems


def _geometry(feature, code, crs: str):
    """The feature's geometry in WGS-84, or None with the problems that stop it being built."""
    raw = feature.geometry
    if isinstance(raw, dict) or raw is None:
        problems = raw_geometry_problems(feature.index, code, raw)
        if problems:
            return None, [_to_wgs84where_of(p, crs) for p in problems]
        try:
            raw = shape(raw)
        except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
            return None, [Problem(feature.index, code, "invalid_ring", f"无法构造多边形：{exc}",
                                  f"Cannot build the polygon: {exc}")]
    if raw is None or raw.is_empty:
        return None, raw_geometry_problems(feature.index, code, None)
    if crs != "wgs84":
        raw = transform_geometry(raw, crs)
    return raw, []


def _repair_note(index, code, before, after) -> Problem:
    area_before = shapely.area(shapely.make_valid(before))
    change = (after.area - area_before) / area_before if area_before else 0.0
    return Problem(index, code, "repaired", f"已自动修复无效多边形（make_valid），面积变化 {change:+.2%}",
                   f"Invalid polygon repaired with make_valid; area changed by {change:+.2%}", where_of(after))


def _to_wgs84where_of(problem: Problem, crs: str) -> Problem:
    if problem.where is None or crs == "wgs84":
        return problem
    lon, lat = to_wgs84_many([problem.where[0]], [problem.where[1]], crs)
    problem.where = (round(float(lon[0]), 7), round(float(lat[0]), 7))
    return problem


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Shapefile numeric fields turn codes into floats
    text = str(value).strip()
    return text or None


def _epsg_of(crs_text: str | None) -> str | None:
    if not crs_text:
        return None
    if crs_text.upper().startswith("EPSG:"):
        return crs_text
    from pyproj import CRS

    epsg = CRS.from_user_input(crs_text).to_epsg()
    if epsg is None:
        raise UnknownCRS("无法识别 Shapefile 的坐标系（.prj），请用 --crs 指定",
                         "Cannot identify the Shapefile's coordinate system (.prj); give it with --crs")
    return f"EPSG:{epsg}"
