"""Deterministic synthetic counties (county → townships → villages → grids) for the demo and benchmarks.

Every level is built from ONE fine Voronoi tessellation so that the tiling is exact, not merely
close: grids are Voronoi cells of jittered seed points, villages are unions of grids, townships
unions of villages, the county the union of townships. Irregular edges come from densifying and
wiggling each Voronoi edge ONCE, keyed by its two end points, so the two grids sharing an edge get
bit-identical vertices and GEOS coverage union can merge them without slivers. A few grids have a
"lake" cut out of them; the lake belongs to no area (a hole in the grid and in its parents too).
"""
from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon, box

from geo.areas import AreaRecord

KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.320

_TOWN_FIRST = ("城关", "石门", "东溪", "青山", "桃源", "白云", "龙泉", "新安", "长乐", "金沙", "黄湖", "双溪",
               "梅林", "洛舍", "乾元", "新市", "禹越", "钟管", "莫干", "武康", "舞阳", "阜溪", "下渚", "雷甸")
_TOWN_SUFFIX = ("镇", "镇", "乡", "街道")
_VILLAGE_A = ("东", "西", "南", "北", "上", "下", "前", "后", "新", "老", "大", "小", "高", "张", "李", "王",
              "陈", "杨", "金", "石", "竹", "桥", "沙", "柳", "杏", "梅", "荷", "云", "龙", "凤")
_VILLAGE_B = ("溪", "山", "塘", "桥", "湾", "岭", "坞", "林", "庄", "港", "圩", "墩", "田", "园", "家", "湖",
              "河", "泉", "坝", "岗")


def make_county(seed: int = 1, county_code: str = "330521", townships: int = 5,
                villages_per_township: tuple[int, int] = (6, 9), grids_per_village: tuple[int, int] = (8, 14),
                center: tuple[float, float] = (120.0, 30.6), size_km: float = 30.0, *,
                county_name: str = "演示县", lake_share: float = 0.04, jitter: float = 0.12,
                vertices_per_edge: tuple[int, int] = (4, 9)) -> list[AreaRecord]:
    """Return the county, its townships, villages and grids; the same arguments give the same areas."""
    rng = np.random.default_rng(seed)
    plan = [[int(rng.integers(grids_per_village[0], grids_per_village[1] + 1))
             for _ in range(int(rng.integers(villages_per_township[0], villages_per_township[1] + 1)))]
            for _ in range(townships)]
    total = sum(sum(v) for v in plan)

    seeds, padding = _seed_points(rng, total, size_km / 2.0)
    cells = _voronoi_cells(np.vstack([seeds, padding]), size_km)[:total]
    groups = _partition(rng, np.arange(total), seeds, [sum(v) for v in plan])
    rings = _wiggled_rings(rng, cells, jitter, vertices_per_edge)
    grids_km = _cut_lakes(rng, rings, seeds, lake_share)

    to_lonlat = _km_to_lonlat(center)
    grids = shapely.transform(np.array(grids_km, dtype=object), to_lonlat)
    names = _Names(rng)
    records = []
    township_geoms = []
    for t, (township_seeds, village_sizes) in enumerate(zip(groups, plan), start=1):
        t_code = f"{county_code}{t:03d}"
        t_name, is_street = names.township()
        village_geoms = []
        village_records = []
        for v, village_seeds in enumerate(_partition(rng, township_seeds, seeds, village_sizes), start=1):
            v_code = f"{t_code}{v:03d}"
            v_name = names.village(is_street)
            # Number grids north-west to south-east, the way a map reader counts them.
            order = sorted(village_seeds, key=lambda i: (-round(seeds[i, 1] / 0.2), seeds[i, 0]))
            members = []
            for g, i in enumerate(order, start=1):
                members.append(grids[i])
                records.append(AreaRecord(f"{v_code}{g:03d}", f"{v_name}第{g}网格", "grid", v_code, grids[i]))
            village = _union(members)
            village_geoms.append(village)
            village_records.append(AreaRecord(v_code, v_name, "village", t_code, village))
        township = _union(village_geoms)
        township_geoms.append(township)
        records.append(AreaRecord(t_code, t_name, "township", county_code, township))
        records.extend(village_records)
    records.append(AreaRecord(county_code, county_name, "county", None, _union(township_geoms)))
    order = {"county": 0, "township": 1, "village": 2, "grid": 3}
    records.sort(key=lambda r: (order[r.level], r.code))
    return records


def _union(geometries):
    # Coverage union is exact (and fast) because neighbours share bit-identical edges.
    merged = shapely.coverage_union_all(np.array(geometries, dtype=object))
    return shapely.normalize(merged)


def _seed_points(rng, count: int, radius_km: float):
    """`count` evenly spread, jittered points inside an irregular outline, plus padding points around it."""
    phases = rng.uniform(0, 2 * math.pi, 3)

    def outline(theta):
        return radius_km * (1 + 0.12 * np.sin(3 * theta + phases[0]) + 0.07 * np.sin(5 * theta + phases[1])
                            + 0.04 * np.sin(9 * theta + phases[2]))

    spacing = math.sqrt(math.pi * radius_km ** 2 / count)
    half = 1.45 * radius_km
    axis = np.arange(-half, half, spacing)
    xs, ys = np.meshgrid(axis, axis * math.sqrt(3) / 2 * 1.0)
    xs = xs + (np.arange(xs.shape[0])[:, None] % 2) * spacing / 2  # hexagonal rows: rounder cells
    points = np.column_stack([xs.ravel(), ys.ravel()])
    points += rng.uniform(-0.35, 0.35, points.shape) * spacing
    theta = np.arctan2(points[:, 1], points[:, 0])
    rho = np.hypot(points[:, 0], points[:, 1]) / outline(theta)
    order = np.argsort(rho, kind="stable")
    if len(order) < count * 1.3:
        raise ValueError("too few seed points for the requested number of grids")
    return points[order[:count]], points[order[count:]]


def _voronoi_cells(points, size_km: float):
    extent = box(-size_km * 2, -size_km * 2, size_km * 2, size_km * 2)
    diagram = shapely.voronoi_polygons(MultiPoint(points), extend_to=extent, ordered=True)
    return list(shapely.get_parts(diagram))


def _partition(rng, indices, points, sizes):
    """Split `indices` into len(sizes) spatially compact groups of exactly those sizes (recursive bisection)."""
    indices = np.asarray(indices)
    if len(sizes) == 1:
        return [list(indices)]
    half = len(sizes) // 2
    left_count = sum(sizes[:half])
    xy = points[indices]
    spread = xy - xy.mean(axis=0)
    # Cut across the longer extent, turned a little at random so the borders do not look ruled.
    eigvals, eigvecs = np.linalg.eigh(spread.T @ spread)
    angle = math.atan2(eigvecs[1, -1], eigvecs[0, -1]) + rng.uniform(-0.4, 0.4)
    projection = spread @ np.array([math.cos(angle), math.sin(angle)])
    order = np.argsort(projection, kind="stable")
    return (_partition(rng, indices[order[:left_count]], points, sizes[:half])
            + _partition(rng, indices[order[left_count:]], points, sizes[half:]))


def _wiggled_rings(rng, cells, jitter: float, per_edge: tuple[int, int]):
    """Densify and wiggle every Voronoi edge once (keyed by its end points), then rebuild each cell's ring."""
    rings = [np.asarray(c.exterior.coords)[:-1] for c in cells]
    lengths = np.concatenate([np.hypot(*(np.roll(r, -1, axis=0) - r).T) for r in rings])
    step = float(np.median(lengths)) / ((per_edge[0] + per_edge[1]) / 2)
    edges: dict[tuple, np.ndarray] = {}
    damped: set[tuple] = set()

    def edge_points(a, b):
        key = (a[0], a[1], b[0], b[1]) if (a[0], a[1]) <= (b[0], b[1]) else (b[0], b[1], a[0], a[1])
        if key not in edges:
            p, q = np.array(key[:2]), np.array(key[2:])
            n = int(np.clip(round(math.dist(p, q) / step), per_edge[0], per_edge[1]))
            t = np.arange(1, n) / n
            normal = np.array([-(q - p)[1], (q - p)[0]])
            a1, a2 = rng.uniform(-jitter, jitter, 2)
            amplitude = 0.0 if key in damped else 1.0
            wiggle = amplitude * (a1 * np.sin(np.pi * t) + a2 * np.sin(2 * np.pi * t))
            edges[key] = p + np.outer(t, q - p) + np.outer(wiggle, normal)
        inner = edges[key]
        return inner if (a[0], a[1]) == key[:2] else inner[::-1]

    def build(ring):
        parts = []
        for a, b in zip(ring, np.roll(ring, -1, axis=0)):
            parts.append(a[None, :])
            parts.append(edge_points(a, b))
        return Polygon(np.vstack(parts))

    polygons = [build(r) for r in rings]
    # A wiggle can, rarely, cross a neighbouring edge at a sharp corner: straighten those edges and rebuild.
    for _ in range(3):
        bad = np.flatnonzero(~shapely.is_valid(np.array(polygons, dtype=object)))
        if not len(bad):
            break
        for i in bad:
            ring = rings[i]
            for a, b in zip(ring, np.roll(ring, -1, axis=0)):
                key = (a[0], a[1], b[0], b[1]) if (a[0], a[1]) <= (b[0], b[1]) else (b[0], b[1], a[0], a[1])
                damped.add(key)
                edges.pop(key, None)
        polygons = [build(r) for r in rings]
    return polygons


def _cut_lakes(rng, polygons, seeds, share: float):
    """Cut a small irregular lake out of about `share` of the grids; the lake belongs to no area."""
    out = list(polygons)
    chosen = np.flatnonzero(rng.random(len(polygons)) < share)
    for i in chosen:
        cell = polygons[i]
        radius = 0.22 * math.sqrt(cell.area / math.pi)
        angles = np.sort(rng.uniform(0, 2 * math.pi, int(rng.integers(10, 18))))
        radii = radius * rng.uniform(0.7, 1.2, len(angles))
        centre = np.asarray(shapely.get_coordinates(shapely.maximum_inscribed_circle(cell, radius / 20))[0])
        lake = Polygon(centre + np.column_stack([radii * np.cos(angles), radii * np.sin(angles)]))
        if lake.is_valid and lake.buffer(radius * 0.3).within(cell):
            out[i] = Polygon(cell.exterior.coords, [lake.exterior.coords])
    return out


def _km_to_lonlat(center):
    lon0, lat0 = center
    km_per_deg_lon = KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))

    def convert(xy):
        return np.column_stack([lon0 + xy[:, 0] / km_per_deg_lon, lat0 + xy[:, 1] / KM_PER_DEG_LAT])

    return convert


class _Names:
    """Deterministic, unique, plausible Chinese place names."""

    def __init__(self, rng):
        self.rng = rng
        self.used: set[str] = set()
        self.towns = list(_TOWN_FIRST)
        rng.shuffle(self.towns)

    def township(self) -> tuple[str, bool]:
        base = self.towns.pop(0) if self.towns else f"第{len(self.used) + 1}"
        suffix = "镇" if not self.used else str(self.rng.choice(_TOWN_SUFFIX))
        self.used.add(base)
        return base + suffix, suffix == "街道"

    def village(self, street: bool) -> str:
        for _ in range(200):
            base = str(self.rng.choice(_VILLAGE_A)) + str(self.rng.choice(_VILLAGE_B))
            if base not in self.used:
                break
        else:
            base = f"{base}{len(self.used)}"
        self.used.add(base)
        return base + ("社区" if street else "村")
