"""The geofence index: which grid (and so which village and township) covers a WGS-84 point.

Boundary rule. Grids tile their village, so a point on a shared edge or vertex is covered by two or
more grids. It belongs to exactly one: among all grids that `covers` the point, the one with the
smallest code (lexicographic, which for equal-length digit codes is numeric order). The answer
depends only on the data, never on load order. Rows are kept sorted by code, so the rule is simply
"the smallest row number".

Tolerance. A point covered by no grid but within `tolerance_m` (default 50 m, a typical phone GPS
error) of one gets the nearest grid and its distance in metres (ties again to the smallest code);
farther out it is unmapped: grid None, row -1, distance inf.

Distances. Metres use a local equirectangular scale at the point's latitude, with the ellipsoid's
degree lengths (a degree of longitude is 111.4 km × cos φ); over tens of metres this is exact to
millimetres, far below GPS error. The nearest candidate is chosen in a copy of the candidate grids
scaled at the index's centre latitude, which differs from the point's own by well under 1 %.

Speed. A point query through a GEOS STRtree costs ~1.5 µs (making the Point, the tree walk, the
prepared point-in-polygon test). Most points are not near any edge, so the index also keeps a
lattice of small cells over the grids: a cell whose closed square touches no ring of any grid lies
wholly inside one fixed set of grids, so its owner is computed once at build time and a point there
is answered by two multiplications and an array read. Only points in cells crossed by a ring, or
outside every grid, take the exact STRtree path. The lattice is conservative by construction (every
cell a ring segment could touch, with a rounding margin, is marked), so both paths agree exactly with
brute force `covers`; the property tests check that, including points on edges and vertices.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import shapely
from shapely import STRtree

DEFAULT_TOLERANCE_M = 50.0
# Lattice size: cells per grid polygon (finer = fewer points on the slow path, more memory) and a cap.
CELLS_PER_GRID = 1024
MAX_CELLS = 4_000_000  # 16 MB of int32; ~17 % of points then take the exact path on 10,000 grids
_EDGE_MARGIN = 1e-6  # in cell units: covers float rounding between a ring and a point on it


def metres_per_degree(lat_deg):
    """(metres per degree of longitude, of latitude) at a latitude, on the WGS-84 ellipsoid."""
    phi = np.radians(lat_deg)
    per_lat = 111132.92 - 559.82 * np.cos(2 * phi) + 1.175 * np.cos(4 * phi)
    per_lon = 111412.84 * np.cos(phi) - 93.5 * np.cos(3 * phi)
    return per_lon, per_lat


@dataclass(frozen=True)
class Location:
    grid: str | None
    village: str | None
    township: str | None
    distance_m: float  # 0 inside, metres to the grid in the tolerance band, inf when unmapped

    def as_dict(self) -> dict:
        return {"grid": self.grid, "village": self.village, "township": self.township,
                "distance_m": None if self.grid is None else round(self.distance_m, 2)}


@dataclass
class LocateResult:
    """Answer for many points: `index[i]` is the grid row of point i (-1 unmapped), `distance_m[i]` its distance."""

    index: np.ndarray
    distance_m: np.ndarray
    codes: np.ndarray
    villages: np.ndarray
    townships: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    @property
    def mapped(self) -> np.ndarray:
        return self.index >= 0

    def _pick(self, table) -> np.ndarray:
        out = np.full(len(self.index), None, dtype=object)
        mapped = self.index >= 0
        out[mapped] = table[self.index[mapped]]
        return out

    def grid_codes(self) -> np.ndarray:
        return self._pick(self.codes)

    def village_codes(self) -> np.ndarray:
        return self._pick(self.villages)

    def township_codes(self) -> np.ndarray:
        return self._pick(self.townships)

    def location(self, i: int) -> Location:
        k = int(self.index[i])
        if k < 0:
            return Location(None, None, None, math.inf)
        return Location(str(self.codes[k]), str(self.villages[k]), str(self.townships[k]), float(self.distance_m[i]))


class GridIndex:
    """Built once from the stored grids; answers `locate` and `locate_many` without touching a database."""

    def __init__(self, codes, villages, townships, geometries, tolerance_m: float = DEFAULT_TOLERANCE_M,
                 cells_per_grid: int = CELLS_PER_GRID):
        codes = np.asarray([str(c) for c in codes])
        order = np.argsort(codes, kind="stable")  # row order = code order: the boundary rule is "min row"
        self.codes = codes[order]
        self.villages = np.asarray([str(v) for v in villages])[order] if len(codes) else codes
        self.townships = np.asarray([str(t) for t in townships])[order] if len(codes) else codes
        self.geometries = np.asarray(list(geometries), dtype=object)[order] if len(codes) else np.empty(0, object)
        if len(np.unique(self.codes)) != len(self.codes):
            raise ValueError("duplicate grid codes")
        self.tolerance_m = float(tolerance_m)
        self._code_list = self.codes.tolist()  # plain str for the scalar fast path
        shapely.prepare(self.geometries)
        if len(self.geometries):
            # GEOS builds each prepared polygon's point locator on first use; pay that here, not on
            # the first unlucky request.
            probe = shapely.get_coordinates(shapely.point_on_surface(self.geometries))
            shapely.intersects_xy(self.geometries, probe[:, 0], probe[:, 1])
        self.tree = STRtree(self.geometries)
        self._lattice = _Lattice.build(self, cells_per_grid) if len(self.codes) else None

    @classmethod
    def build(cls, grids: Iterable, tolerance_m: float = DEFAULT_TOLERANCE_M, **options) -> "GridIndex":
        """From records with `code`, `village_code`, `township_code` and a lon/lat `geometry`."""
        rows = list(grids)
        return cls([g.code for g in rows], [g.village_code for g in rows], [g.township_code for g in rows],
                   [g.geometry for g in rows], tolerance_m, **options)

    @classmethod
    def from_areas(cls, records: Iterable, tolerance_m: float = DEFAULT_TOLERANCE_M, **options) -> "GridIndex":
        """From AreaRecords of any levels; only grids are indexed (village = parent, township = its parent)."""
        grids = [r for r in records if r.level == "grid"]
        return cls([g.code for g in grids], [g.parent_code for g in grids], [g.parent_code[:9] for g in grids],
                   [g.geometry for g in grids], tolerance_m, **options)

    def __len__(self) -> int:
        return len(self.codes)

    # --- many points ----------------------------------------------------------------------------

    def locate_many(self, lons, lats) -> LocateResult:
        lons = np.ascontiguousarray(lons, dtype=float).reshape(-1)
        lats = np.ascontiguousarray(lats, dtype=float).reshape(-1)
        if lons.shape != lats.shape:
            raise ValueError("lons and lats differ in length")
        n = len(lons)
        index = np.full(n, -1, dtype=np.int64)
        distance = np.full(n, np.inf)
        if n == 0 or not len(self):
            return self._result(index, distance)
        index[:] = self._lattice.owners(lons, lats)
        distance[index >= 0] = 0.0
        todo = np.flatnonzero((index < 0) & np.isfinite(lons) & np.isfinite(lats))
        if len(todo):
            self._covering(lons, lats, todo, index, distance)
            missing = todo[index[todo] < 0]
            if len(missing) and self.tolerance_m > 0:
                self._nearest(lons, lats, missing, index, distance)
        return self._result(index, distance)

    def _result(self, index, distance) -> LocateResult:
        return LocateResult(index, distance, self.codes, self.villages, self.townships)

    def _covering(self, lons, lats, todo, index, distance) -> None:
        """Exact path: STRtree candidates whose box holds the point, then prepared point-in-polygon."""
        points = shapely.points(lons[todo], lats[todo])
        pts, rows = self.tree.query(points, predicate="covered_by")
        if not len(pts):
            return
        best = np.full(len(todo), np.iinfo(np.int64).max)
        np.minimum.at(best, pts, rows)  # boundary rule: smallest row = smallest code
        hit = best < np.iinfo(np.int64).max
        index[todo[hit]] = best[hit]
        distance[todo[hit]] = 0.0

    def _nearest(self, lons, lats, missing, index, distance) -> None:
        """Tolerance band: the nearest grid within tolerance_m, measured in metres."""
        lon, lat = lons[missing], lats[missing]
        per_lon, per_lat = metres_per_degree(lat)
        half_lon, half_lat = self.tolerance_m / per_lon, self.tolerance_m / per_lat
        boxes = shapely.box(lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat)
        pts, rows = self.tree.query(boxes)
        if not len(pts):
            return
        # Find the nearest point of each candidate in a locally metric copy, then measure it at the
        # point's own latitude.
        x0, y0 = self._lattice.x0, self._lattice.y0
        kx, ky = metres_per_degree(self._lattice.mid_lat)

        def to_metric(coords):
            return np.column_stack([(coords[:, 0] - x0) * kx, (coords[:, 1] - y0) * ky])

        unique_rows, inverse = np.unique(rows, return_inverse=True)
        scaled = shapely.transform(self.geometries[unique_rows], to_metric)[inverse]
        scaled_points = shapely.points((lon[pts] - x0) * kx, (lat[pts] - y0) * ky)
        lines = shapely.get_coordinates(shapely.shortest_line(scaled, scaled_points)).reshape(-1, 2, 2)
        dlon = (lines[:, 1, 0] - lines[:, 0, 0]) / kx * per_lon[pts]
        dlat = (lines[:, 1, 1] - lines[:, 0, 1]) / ky * per_lat[pts]
        metres = np.hypot(dlon, dlat)
        order = np.lexsort((rows, metres, pts))  # per point: nearest first, ties to the smallest code
        pts, rows, metres = pts[order], rows[order], metres[order]
        first = np.ones(len(pts), dtype=bool)
        first[1:] = pts[1:] != pts[:-1]
        ok = first & (metres <= self.tolerance_m)
        index[missing[pts[ok]]] = rows[ok]
        distance[missing[pts[ok]]] = metres[ok]

    # --- one point --------------------------------------------------------------------------------

    def locate(self, lon: float, lat: float) -> Location:
        """One point; the lattice answers most points in a few microseconds."""
        if self._lattice is not None:
            row = self._lattice.owner(lon, lat)
            if row < 0 and math.isfinite(lon) and math.isfinite(lat):
                rows = self.tree.query(shapely.Point(lon, lat), predicate="covered_by")
                row = int(rows.min()) if len(rows) else -1
            if row >= 0:
                return Location(self._code_list[row], str(self.villages[row]), str(self.townships[row]), 0.0)
        return self.locate_many([lon], [lat]).location(0)


class _Lattice:
    """Cells over the grids' extent; each cell holds its owner row, or -1 where the exact path decides."""

    def __init__(self, x0, y0, dx, dy, nx, ny, owner):
        self.x0, self.y0, self.dx, self.dy, self.nx, self.ny = x0, y0, dx, dy, nx, ny
        self.inv_dx, self.inv_dy = 1.0 / dx, 1.0 / dy
        self.mid_lat = y0 + dy * ny / 2
        self.cells = owner  # int32, row-major (iy * nx + ix)

    @classmethod
    def build(cls, index: GridIndex, cells_per_grid: int) -> "_Lattice":
        minx, miny, maxx, maxy = shapely.total_bounds(index.geometries)
        width, height = max(maxx - minx, 1e-9), max(maxy - miny, 1e-9)
        cells = min(MAX_CELLS, max(1024, cells_per_grid * len(index)))
        size = math.sqrt(width * height / cells)
        nx, ny = int(width / size) + 1, int(height / size) + 1
        dx, dy = width / nx * (1 + 1e-9), height / ny * (1 + 1e-9)  # the max edge falls inside
        lattice = cls(minx, miny, dx, dy, nx, ny, np.full(nx * ny, -1, dtype=np.int32))
        boundary = lattice._ring_cells(index.geometries)
        lattice._fill_interior(index, boundary)
        return lattice

    def _ring_cells(self, geometries) -> np.ndarray:
        """Mask of cells whose closed square any ring segment of any grid touches (conservatively)."""
        rings = shapely.get_rings(geometries)
        coords, ring_ids = shapely.get_coordinates(rings, return_index=True)
        fx = (coords[:, 0] - self.x0) * self.inv_dx
        fy = (coords[:, 1] - self.y0) * self.inv_dy
        same_ring = ring_ids[1:] == ring_ids[:-1]
        ax, ay, bx, by = fx[:-1][same_ring], fy[:-1][same_ring], fx[1:][same_ring], fy[1:][same_ring]
        # Sample each segment every half cell; consecutive samples are then at most half a cell
        # apart, so the segment between them stays inside their bounding box, whose touching cells
        # are all marked.
        steps = np.maximum(1, np.ceil(2 * np.maximum(np.abs(bx - ax), np.abs(by - ay)))).astype(np.int64)
        seg = np.repeat(np.arange(len(ax)), steps)
        k = np.arange(len(seg)) - np.repeat(np.cumsum(steps) - steps, steps)
        t0, t1 = k / steps[seg], (k + 1) / steps[seg]
        sx0, sy0 = ax[seg] + t0 * (bx[seg] - ax[seg]), ay[seg] + t0 * (by[seg] - ay[seg])
        sx1, sy1 = ax[seg] + t1 * (bx[seg] - ax[seg]), ay[seg] + t1 * (by[seg] - ay[seg])
        ix0 = np.floor(np.minimum(sx0, sx1) - _EDGE_MARGIN).astype(np.int64)
        ix1 = np.floor(np.maximum(sx0, sx1) + _EDGE_MARGIN).astype(np.int64)
        iy0 = np.floor(np.minimum(sy0, sy1) - _EDGE_MARGIN).astype(np.int64)
        iy1 = np.floor(np.maximum(sy0, sy1) + _EDGE_MARGIN).astype(np.int64)
        mask = np.zeros((self.ny, self.nx), dtype=bool)
        for ox in range(int((ix1 - ix0).max()) + 1):
            for oy in range(int((iy1 - iy0).max()) + 1):
                sel = (ix0 + ox <= ix1) & (iy0 + oy <= iy1)
                cx, cy = ix0[sel] + ox, iy0[sel] + oy
                keep = (cx >= 0) & (cx < self.nx) & (cy >= 0) & (cy < self.ny)
                mask[cy[keep], cx[keep]] = True
        return mask.reshape(-1)

    def _fill_interior(self, index: GridIndex, boundary: np.ndarray) -> None:
        """Each run of untouched cells along a row lies inside one fixed set of grids: ask once per run."""
        free = ~boundary
        starts = free.copy()
        starts[1:] &= boundary[:-1]
        starts[:: self.nx] = free[:: self.nx]  # a row's first cell starts a run
        run_of_cell = np.cumsum(starts) - 1
        start_cells = np.flatnonzero(starts)
        cx = (start_cells % self.nx + 0.5) * self.dx + self.x0
        cy = (start_cells // self.nx + 0.5) * self.dy + self.y0
        pts, rows = index.tree.query(shapely.points(cx, cy), predicate="covered_by")
        owner = np.full(len(start_cells), np.iinfo(np.int64).max)
        np.minimum.at(owner, pts, rows)
        owner[owner == np.iinfo(np.int64).max] = -1
        self.cells[free] = owner[run_of_cell[free]]

    def owners(self, lons, lats) -> np.ndarray:
        fx = (lons - self.x0) * self.inv_dx
        fy = (lats - self.y0) * self.inv_dy
        with np.errstate(invalid="ignore"):
            inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)  # NaN is never inside
        out = np.full(len(lons), -1, dtype=np.int64)
        flat = fy[inside].astype(np.int64) * self.nx + fx[inside].astype(np.int64)
        out[inside] = self.cells[flat]
        return out

    def owner(self, lon: float, lat: float) -> int:
        fx = (lon - self.x0) * self.inv_dx
        fy = (lat - self.y0) * self.inv_dy
        if 0 <= fx < self.nx and 0 <= fy < self.ny:
            return int(self.cells[int(fy) * self.nx + int(fx)])
        return -1
