"""The geofence index agrees with brute force, including edges, vertices and the tolerance band."""
import numpy as np
import shapely
from hypothesis import given, settings, strategies as st
from shapely.geometry import Polygon, box

from geo.index import GridIndex
from geo.synthetic import make_county


class G:
    def __init__(self, code, geometry):
        self.code, self.geometry = code, geometry
        self.village_code, self.township_code = code[:12], code[:9]


def two_squares():
    return [G("330521001001002", box(120.0, 30.0, 120.01, 30.01)),
            G("330521001001001", box(120.01, 30.0, 120.02, 30.01))]


def test_point_on_shared_edge_goes_to_the_smallest_code():
    index = GridIndex.build(two_squares())
    assert index.locate(120.01, 30.005).grid == "330521001001001"


def test_point_inside_a_hole_is_not_in_the_grid():
    ring = Polygon(box(120, 30, 120.01, 30.01).exterior.coords, [box(120.004, 30.004, 120.006, 30.006).exterior.coords])
    index = GridIndex.build([G("330521001001001", ring)], tolerance_m=0)
    assert index.locate(120.005, 30.005).grid is None
    assert index.locate(120.001, 30.001).grid == "330521001001001"


def test_nearby_point_gets_nearest_grid_with_distance_and_far_point_is_unmapped():
    index = GridIndex.build(two_squares())
    near = index.locate(120.0, 30.0103)  # ~33 m north of the top edge
    assert near.grid == "330521001001002" and 25 < near.distance_m < 40
    far = index.locate(120.0, 30.02)
    assert far.grid is None and far.distance_m > 50


COUNTY = [r for r in make_county(seed=3, county_code="330521", townships=2, villages_per_township=(2, 3),
                                 grids_per_village=(4, 6)) if r.level == "grid"]
INDEX = GridIndex.build([G(r.code, r.geometry) for r in COUNTY], tolerance_m=0)
BOUNDS = shapely.total_bounds([r.geometry for r in COUNTY])


def brute_force(lon, lat):
    point = shapely.Point(lon, lat)
    covering = sorted(r.code for r in COUNTY if r.geometry.covers(point))
    return covering[0] if covering else None


@settings(max_examples=150, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1))
def test_locate_many_agrees_with_brute_force(fx, fy):
    lon = BOUNDS[0] + fx * (BOUNDS[2] - BOUNDS[0])
    lat = BOUNDS[1] + fy * (BOUNDS[3] - BOUNDS[1])
    assert INDEX.locate(lon, lat).grid == brute_force(lon, lat)


def test_vertices_of_grids_agree_with_brute_force():
    coords = np.unique(shapely.get_coordinates([r.geometry for r in COUNTY[:10]]), axis=0)[:200]
    result = INDEX.locate_many(coords[:, 0], coords[:, 1]).grid_codes()
    assert list(result) == [brute_force(x, y) for x, y in coords]
