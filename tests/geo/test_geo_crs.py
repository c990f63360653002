"""GCJ-02 and BD-09 round-trip within 0.5 m across China; bad points are refused bilingually."""
import math

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer

from geo import crs
from geo.errors import GeoError, InvalidCoordinate, UnknownCRS

GEOD = Geod(ellps="WGS84")
LONS, LATS = (a.ravel() for a in np.meshgrid(np.linspace(73.5, 135, 60), np.linspace(4, 53.5, 50)))


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_round_trip_within_half_a_metre_everywhere_in_china(system):
    there = crs.from_wgs84_many(LONS, LATS, system)
    back = crs.to_wgs84_many(*there, system)
    assert float(np.max(GEOD.inv(LONS, LATS, *back)[2])) < 0.5
    # ... and the other way: a point read off the map comes back to where it was read.
    again = crs.from_wgs84_many(*crs.to_wgs84_many(LONS, LATS, system), system)
    assert float(np.max(GEOD.inv(LONS, LATS, *again)[2])) < 0.5


def test_scalar_forms_match_the_vectorised_ones():
    assert crs.wgs84_to_gcj02(116.39, 39.91) == pytest.approx(tuple(v[0] for v in crs.wgs84_to_gcj02_many([116.39], [39.91])))
    assert crs.to_wgs84(*crs.wgs84_to_bd09(116.39, 39.91), "bd09") == pytest.approx((116.39, 39.91), abs=1e-8)
    assert crs.to_wgs84(*crs.wgs84_to_gcj02(116.39, 39.91), "gcj02") == pytest.approx((116.39, 39.91), abs=1e-8)


def test_offsets_are_the_known_hundreds_of_metres():
    _, _, gcj = GEOD.inv(116.39, 39.91, *crs.wgs84_to_gcj02(116.39, 39.91))
    _, _, bd = GEOD.inv(116.39, 39.91, *crs.wgs84_to_bd09(116.39, 39.91))
    assert 100 < gcj < 1000 and 500 < bd < 2000


@pytest.mark.parametrize("lon,lat", [(math.nan, 30), (120, math.inf), (200, 30), (120, -95), (-74.0, 40.7),
                                     (30.6, 120.0), ("abc", 30), (None, 30)])
def test_bad_points_are_refused_with_a_bilingual_message(lon, lat):
    with pytest.raises(InvalidCoordinate) as info:
        crs.to_wgs84(lon, lat)
    assert isinstance(info.value, GeoError) and info.value.message_zh and info.value.message_en


@pytest.mark.parametrize("name", ["mars-grid", "EPSG:999999", ""])
def test_unknown_systems_are_refused(name):
    if not name:
        assert crs.normalize_crs(name) == "wgs84"
        return
    with pytest.raises(UnknownCRS) as info:
        crs.normalize_crs(name)
    assert info.value.message_zh and info.value.message_en


@pytest.mark.parametrize("alias,expected", [("WGS-84", "wgs84"), ("GCJ_02", "gcj02"), ("BD09LL", "bd09"),
                                            ("epsg:4490", "EPSG:4490"), ("EPSG:4326", "wgs84")])
def test_names_are_normalised(alias, expected):
    assert crs.normalize_crs(alias) == expected


def test_epsg_points_and_geometries_go_through_pyproj_lon_lat_first():
    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4527", always_xy=True)
    x, y = to_gk.transform(117.2, 31.8)
    assert crs.to_wgs84(x, y, "EPSG:4527") == pytest.approx((117.2, 31.8), abs=1e-8)
    assert crs.to_wgs84(117.2, 31.8, "EPSG:4490") == pytest.approx((117.2, 31.8), abs=1e-6)
    square = shapely.box(x, y, x + 100, y + 100)
    assert crs.transform_geometry(square, "EPSG:4527").bounds[0] == pytest.approx(117.2, abs=1e-8)
    with pytest.raises(InvalidCoordinate):
        crs.to_wgs84(0, 0, "EPSG:4527")  # far off China once transformed
