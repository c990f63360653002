"""The geofence index: which grid (and so village and township) covers a WGS-84 point.

One shapely STRtree over all grid polygons. Boundary rule: a point covered by several grids (on a
shared edge or vertex) belongs to the grid with the smallest code, so every point has exactly one
owner whatever the order the grids were loaded in. A point outside every grid but within the
tolerance (default 50 m, typical GPS error) is given the nearest grid with its distance in metres;
farther out it is unmapped (grid index -1).

Distances use a local equirectangular scale at the point's latitude (metres per degree of longitude
shrink with cos(lat)); within a tolerance of tens of metres the error is far below GPS error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import shapely
from shapely import STRtree

METRES_PER_DEGREE = 111_320.0
DEFAULT_TOLERANCE_M = 50.0


@dataclass(frozen=True)
class Location:
    grid: str | None
    village: str | None
    township: str | None
    distance_m: float

    def as_dict(self) -> dict:
        return {"grid": self.grid, "village": self.village, "township": self.township,
                "distance_m": round(self.distance_m, 2)}


@dataclass
class LocateResult:
    """Vectorised answer: `index[i]` is the grid row for point i (-1 unmapped), `distance_m[i]` its distance."""

    index: np.ndarray
    distance_m: np.ndarray
    codes: np.ndarray
    villages: np.ndarray
    townships: np.ndarray

    def grid_codes(self) -> np.ndarray:
        out = np.full(len(self.index), None, dtype=object)
        mapped = self.index >= 0
        out[mapped] = self.codes[self.index[mapped]]
        return out

    def location(self, i: int) -> Location:
        k = int(self.index[i])
        if k < 0:
            return Location(None, None, None, float(self.distance_m[i]))
        return Location(str(self.codes[k]), str(self.villages[k]), str(self.townships[k]), float(self.distance_m[i]))


class GridIndex:
    def __init__(self, codes, villages, townships, geometries, tolerance_m: float = DEFAULT_TOLERANCE_M):
        # Sorting by code makes "smallest code wins" a plain minimum over row numbers.
        order = np.argsort(np.asarray(codes, dtype=object).astype(str), kind="stable")
        self.codes = np.asarray(codes, dtype=object)[order]
        self.villages = np.asarray(villages, dtype=object)[order]
        self.townships = np.asarray(townships, dtype=object)[order]
        self.geometries = np.asarray(geometries, dtype=object)[order]
        shapely.prepare(self.geometries)
        self.tree = STRtree(self.geometries)
        self.tolerance_m = tolerance_m

    @classmethod
    def build(cls, grids: Iterable, tolerance_m: float = DEFAULT_TOLERANCE_M) -> "GridIndex":
        rows = list(grids)
        return cls([g.code for g in rows], [g.village_code for g in rows], [g.township_code for g in rows],
                   [g.geometry for g in rows], tolerance_m)

    def __len__(self) -> int:
        return len(self.codes)

    def locate_many(self, lons, lats) -> LocateResult:
        lons = np.asarray(lons, dtype=float)
        lats = np.asarray(lats, dtype=float)
        points = shapely.points(lons, lats)
        n = len(points)
        index = np.full(n, -1, dtype=np.int64)
        distance = np.full(n, np.inf)
        if n == 0 or len(self) == 0:
            return LocateResult(index, distance, self.codes, self.villages, self.townships)
        pairs = self.tree.query(points, predicate="covered_by")  # [point rows, grid rows]
        if pairs.shape[1]:
            # Smallest grid row (= smallest code) per point: sort by point, then grid, keep the first.
            order = np.lexsort((pairs[1], pairs[0]))
            pts, grids = pairs[0][order], pairs[1][order]
            first = np.ones(len(pts), dtype=bool)
            first[1:] = pts[1:] != pts[:-1]
            index[pts[first]] = grids[first]
            distance[pts[first]] = 0.0
        missing = np.flatnonzero(index < 0)
        if len(missing) and self.tolerance_m > 0:
            self._nearest(points, lats, missing, index, distance)
        return LocateResult(index, distance, self.codes, self.villages, self.townships)

    def _nearest(self, points, lats, missing, index, distance) -> None:
        # Degrees of longitude are shorter than degrees of latitude; search with the looser bound,
        # then measure in metres with the local scale.
        cos_lat = np.cos(np.radians(lats[missing]))
        max_deg = self.tolerance_m / (METRES_PER_DEGREE * max(float(cos_lat.min()), 0.1))
        pairs = self.tree.query_nearest(points[missing], max_distance=max_deg, all_matches=True)
        if not pairs.shape[1]:
            return
        pts_local, grids = pairs
        pt_rows = missing[pts_local]
        nearest = shapely.shortest_line(self.geometries[grids], points[pt_rows])
        coords = shapely.get_coordinates(nearest).reshape(-1, 2, 2)
        dlon = (coords[:, 1, 0] - coords[:, 0, 0]) * np.cos(np.radians(lats[pt_rows])) * METRES_PER_DEGREE
        dlat = (coords[:, 1, 1] - coords[:, 0, 1]) * METRES_PER_DEGREE
        metres = np.hypot(dlon, dlat)
        # Best per point: smallest distance, ties to the smallest code.
        order = np.lexsort((grids, metres, pt_rows))
        pt_rows, grids, metres = pt_rows[order], grids[order], metres[order]
        first = np.ones(len(pt_rows), dtype=bool)
        first[1:] = pt_rows[1:] != pt_rows[:-1]
        ok = first & (metres <= self.tolerance_m)
        index[pt_rows[ok]] = grids[ok]
        distance[pt_rows[ok]] = metres[ok]
        far = first & ~(metres <= self.tolerance_m)
        distance[pt_rows[far]] = metres[far]

    def locate(self, lon: float, lat: float) -> Location:
        return self.locate_many([lon], [lat]).location(0)
