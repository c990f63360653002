"""The geofence index agrees with brute force `covers` (smallest code wins), on edges, vertices and in holes."""
import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings, strategies as st
from pyproj import Geod, Transformer
from shapely.geometry import Polygon, box

from geo.index import GridIndex, metres_per_degree
from geo.synthetic import make_county

GEOD = Geod(ellps="WGS84")


class Grid:
    def __init__(self, code, geometry):
        self.code, self.geometry = code, geometry
        self.village_code, self.township_code = code[:12], code[:9]


def squares(codes_and_boxes, **options):
    return GridIndex.build([Grid(c, box(*b)) for c, b in codes_and_boxes], **options)


# --- the boundary rule on hand-made shapes ------------------------------------------------------

def test_point_on_a_shared_edge_goes_to_the_smallest_code_whatever_the_load_order():
    left, right = ("330521001001002", (120.0, 30.0, 120.01, 30.01)), ("330521001001001", (120.01, 30.0, 120.02, 30.01))
    for order in ([left, right], [right, left]):
        assert squares(order).locate(120.01, 30.005).grid == "330521001001001"


def test_point_on_a_vertex_shared_by_four_grids_goes_to_the_smallest_code():
    index = squares([("330521001001004", (120.0, 30.0, 120.01, 30.01)), ("330521001001003", (120.01, 30.0, 120.02, 30.01)),
                     ("330521001001009", (120.0, 30.01, 120.01, 30.02)), ("330521001001007", (120.01, 30.01, 120.02, 30.02))])
    assert index.locate(120.01, 30.01).grid == "330521001001003"
    assert index.locate_many([120.01], [30.01]).grid_codes()[0] == "330521001001003"


def test_point_in_a_lake_is_in_no_grid_unless_an_island_grid_fills_it():
    lake = box(120.004, 30.004, 120.006, 30.006)
    ring = Polygon(box(120, 30, 120.01, 30.01).exterior.coords, [lake.exterior.coords])
    alone = GridIndex.build([Grid("330521001001001", ring)], tolerance_m=0)
    assert alone.locate(120.005, 30.005).grid is None
    assert alone.locate(120.001, 30.001).grid == "330521001001001"
    with_island = GridIndex.build([Grid("330521001001001", ring), Grid("330521001001002", lake)], tolerance_m=0)
    assert with_island.locate(120.005, 30.005).grid == "330521001001002"
    assert with_island.locate(120.004, 30.005).grid == "330521001001001"  # on the lake shore: smaller code


def test_nearby_point_gets_the_nearest_grid_with_its_distance_and_a_far_point_is_unmapped():
    index = squares([("330521001001002", (120.0, 30.0, 120.01, 30.01)), ("330521001001001", (120.01, 30.0, 120.02, 30.01))])
    near = index.locate(120.005, 30.0103)  # ~33 m north of the top edge of ...002
    _, _, expected = GEOD.inv(120.005, 30.0103, 120.005, 30.01)
    assert near.grid == "330521001001002" and near.village == "330521001001" and near.township == "330521001"
    assert near.distance_m == pytest.approx(expected, rel=1e-3)
    far = index.locate(120.0, 30.02)
    assert far.grid is None and far.distance_m == math.inf and far.as_dict()["distance_m"] is None


def test_east_west_distance_is_shrunk_by_the_cosine_of_the_latitude():
    index = squares([("330521001001001", (120.0, 40.0, 120.01, 40.01))], tolerance_m=100)
    point = (120.01 + 45 / metres_per_degree(40.005)[0], 40.005)  # 45 m east, in degrees of longitude
    _, _, expected = GEOD.inv(*point, 120.01, 40.005)
    assert index.locate(*point).distance_m == pytest.approx(expected, rel=1e-3)
    assert index.locate(*point).distance_m == pytest.approx(45, abs=0.05)


def test_garbage_points_are_unmapped_not_errors():
    index = squares([("330521001001001", (120.0, 30.0, 120.01, 30.01))])
    result = index.locate_many([math.nan, math.inf, 120.005], [30.0, 30.0, 30.005])
    assert list(result.grid_codes()) == [None, None, "330521001001001"]


def test_empty_index_maps_nothing():
    index = GridIndex.build([])
    assert index.locate(120.0, 30.0).grid is None
    assert len(index.locate_many([120.0], [30.0])) == 1


# --- property tests against brute force on a synthetic county -----------------------------------

RECORDS = make_county(seed=3, townships=2, villages_per_township=(2, 3), grids_per_village=(5, 8), size_km=6,
                      lake_share=0.3)
GRIDS = [r for r in RECORDS if r.level == "grid"]
GEOMS = np.array([r.geometry for r in GRIDS], dtype=object)
CODES = np.array([r.code for r in GRIDS])
INDEX = GridIndex.from_areas(RECORDS, tolerance_m=50)
EXACT = GridIndex.from_areas(RECORDS, tolerance_m=0)
MINX, MINY, MAXX, MAXY = shapely.total_bounds(GEOMS)
RINGS = shapely.get_rings(GEOMS)
RING_OWNER = np.repeat(np.arange(len(GEOMS)), shapely.get_num_interior_rings(GEOMS) + 1)
LAKES = [Polygon(ring) for ring, owner in zip(RINGS, RING_OWNER) if len(RINGS) and ring != GEOMS[owner].exterior]


def brute_force(lon, lat):
    covering = CODES[shapely.covers(GEOMS, shapely.Point(lon, lat))]
    return min(covering) if len(covering) else None


def metres_to_each_grid(lon, lat):
    """Reference distances: an azimuthal equidistant projection centred on the point is exact from its centre."""
    to_aeqd = Transformer.from_crs("EPSG:4326", f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84", always_xy=True)
    projected = shapely.transform(GEOMS, lambda c: np.column_stack(to_aeqd.transform(c[:, 0], c[:, 1])))
    return shapely.distance(projected, shapely.Point(0, 0))


def test_the_synthetic_county_has_holes_to_test_against():
    assert LAKES and len(GRIDS) > 15


anywhere = st.tuples(st.floats(-0.05, 1.05), st.floats(-0.05, 1.05)).map(
    lambda f: (MINX + f[0] * (MAXX - MINX), MINY + f[1] * (MAXY - MINY)))
vertex = st.tuples(st.integers(0, len(RINGS) - 1), st.integers(0, 10_000)).map(
    lambda p: tuple(RINGS[p[0]].coords[p[1] % (len(RINGS[p[0]].coords) - 1)]))
on_edge = st.tuples(st.integers(0, len(RINGS) - 1), st.integers(0, 10_000), st.sampled_from([0.5, 0.25, 0.125]),
                    st.floats(0, 1)).map(
    lambda p: tuple(shapely.get_coordinates(shapely.line_interpolate_point(
        RINGS[p[0]], p[3] if p[1] % 2 else p[2], normalized=True))[0]))
in_lake = st.tuples(st.integers(0, max(len(LAKES) - 1, 0)), st.floats(0, 1), st.floats(0, 1)).map(
    lambda p: (LAKES[p[0]].centroid.x + (p[1] - 0.5) * 1e-4, LAKES[p[0]].centroid.y + (p[2] - 0.5) * 1e-4))
points = st.one_of(anywhere, vertex, on_edge, in_lake)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(points, min_size=1, max_size=20))
def test_locate_many_agrees_with_brute_force_covers_and_with_locate(pts):
    lons, lats = np.array(pts).T
    result = EXACT.locate_many(lons, lats)
    expected = [brute_force(x, y) for x, y in pts]
    assert list(result.grid_codes()) == expected
    assert [EXACT.locate(x, y).grid for x, y in pts] == expected
    mapped = result.index >= 0
    assert list(result.village_codes()[mapped]) == [c[:12] for c in np.array(expected)[mapped]]


@settings(max_examples=150, deadline=None)
@given(anywhere)
def test_tolerance_band_gives_the_nearest_grid_within_50_m(point):
    lon, lat = point
    got = INDEX.locate(lon, lat)
    covering = brute_force(lon, lat)
    if covering is not None:
        assert got.grid == covering and got.distance_m == 0
        return
    metres = metres_to_each_grid(lon, lat)
    nearest = float(metres.min())
    if nearest <= 49.5:
        assert got.grid is not None
        assert got.distance_m == pytest.approx(nearest, rel=2e-3, abs=0.01)
        assert metres[list(CODES).index(got.grid)] == pytest.approx(nearest, rel=2e-3, abs=0.01)
    elif nearest > 50.5:
        assert got.grid is None
    assert INDEX.locate_many([lon], [lat]).location(0) == got


def test_every_vertex_of_the_county_agrees_with_brute_force_in_one_vectorised_call():
    coords = np.unique(shapely.get_coordinates(GEOMS), axis=0)
    result = EXACT.locate_many(coords[:, 0], coords[:, 1]).grid_codes()
    assert list(result) == [brute_force(x, y) for x, y in coords]


def test_dense_random_points_agree_with_brute_force():
    rng = np.random.default_rng(5)
    lons, lats = rng.uniform(MINX, MAXX, 20_000), rng.uniform(MINY, MAXY, 20_000)
    result = EXACT.locate_many(lons, lats)
    pts, rows = shapely.STRtree(GEOMS).query(shapely.points(lons, lats), predicate="covered_by")
    expected = np.full(len(lons), None, dtype=object)
    for p, r in sorted(zip(pts, rows), key=lambda pr: (pr[0], CODES[pr[1]]), reverse=True):
        expected[p] = CODES[r]
    assert list(result.grid_codes()) == list(expected)
