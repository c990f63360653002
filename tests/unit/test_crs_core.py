"""GCJ-02 and BD-09 conversions round-trip within 0.5 m across China; bad points are refused."""
import math

import numpy as np
import pytest
from pyproj import Geod

from geo.crs import from_wgs84_many, to_wgs84, to_wgs84_many
from geo.errors import InvalidCoordinate, UnknownCRS

GEOD = Geod(ellps="WGS84")
LONS, LATS = np.meshgrid(np.linspace(74, 134, 40), np.linspace(18, 53, 30))


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_round_trip_within_half_a_metre(crs):
    lon, lat = LONS.ravel(), LATS.ravel()
    back_lon, back_lat = to_wgs84_many(*from_wgs84_many(lon, lat, crs), crs)
    _, _, dist = GEOD.inv(lon, lat, back_lon, back_lat)
    assert float(np.max(dist)) < 0.5


def test_gcj02_offset_is_hundreds_of_metres_in_china():
    glon, glat = from_wgs84_many([116.39], [39.91], "gcj02")
    _, _, dist = GEOD.inv(116.39, 39.91, glon[0], glat[0])
    assert 100 < dist < 1000


@pytest.mark.parametrize("lon,lat", [(math.nan, 30), (120, math.inf), (200, 30), (-74.0, 40.7), (30.6, 120.0)])
def test_bad_points_are_refused_with_bilingual_message(lon, lat):
    with pytest.raises(InvalidCoordinate) as info:
        to_wgs84(lon, lat)
    assert info.value.message_zh and info.value.message_en


def test_unknown_crs_is_refused():
    with pytest.raises(UnknownCRS):
        to_wgs84(120, 30, "mars")
