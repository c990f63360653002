"""The synthetic county tiles exactly, and the topology check finds planted overlaps, gaps and strays."""
import json
import time
from dataclasses import replace

import numpy as np
import pytest
import shapely
from shapely.affinity import translate
from shapely.geometry import box

from geo.synthetic import make_county
from geo.topology import check_topology

COUNTY = make_county(seed=11, townships=3, villages_per_township=(3, 4), grids_per_village=(5, 8), size_km=10)


def test_synthetic_county_is_deterministic_and_well_formed():
    again = make_county(seed=11, townships=3, villages_per_township=(3, 4), grids_per_village=(5, 8), size_km=10)
    assert [(r.code, r.name) for r in again] == [(r.code, r.name) for r in COUNTY]
    assert all(a.geometry.equals_exact(b.geometry, 0) for a, b in zip(again, COUNTY))
    codes = {r.code for r in COUNTY}
    assert len(codes) == len(COUNTY)
    for r in COUNTY:
        assert r.geometry.is_valid and r.geometry.area > 0
        assert r.parent_code is None or (r.parent_code in codes and r.code.startswith(r.parent_code))
        assert len(r.code) == {"county": 6, "township": 9, "village": 12, "grid": 15}[r.level]


@pytest.mark.parametrize("level", ["township", "village", "grid"])
def test_children_tile_their_parent_exactly(level):
    by_code = {r.code: r for r in COUNTY}
    kids = {}
    for r in COUNTY:
        if r.level == level:
            kids.setdefault(r.parent_code, []).append(r.geometry)
    for parent, geoms in kids.items():
        union = shapely.union_all(geoms)
        assert union.symmetric_difference(by_code[parent].geometry).area < 1e-14  # degrees²: ~1e-4 m²
        assert sum(g.area for g in geoms) - union.area < 1e-14  # no overlap between siblings


def test_grids_have_20_to_60_vertices_and_some_have_holes():
    grids = [r.geometry for r in COUNTY if r.level == "grid"]
    vertices = shapely.get_num_coordinates(grids)
    assert np.percentile(vertices, 5) >= 20 and np.percentile(vertices, 95) <= 60
    assert any(shapely.get_num_interior_rings(grids) > 0)


def test_demo_sized_county_is_fast():
    start = time.perf_counter()
    county = make_county(seed=2026, townships=5)
    assert time.perf_counter() - start < 3
    levels = [r.level for r in county]
    assert levels.count("township") == 5 and levels.count("village") >= 30 and levels.count("grid") >= 300
    assert all("\u4e00" <= r.name[0] <= "\u9fff" for r in county)  # Chinese names


def test_clean_county_has_no_findings():
    assert check_topology(COUNTY) == []


def test_planted_overlap_gap_and_stray_are_found_with_area_and_location():
    grids = [r for r in COUNTY if r.level == "grid"]
    victim, stray = grids[0], grids[-1]
    # Push grid 0 sideways by ~55 m: it overlaps a sibling on one side and leaves a gap on the other.
    moved = replace(victim, geometry=translate(victim.geometry, xoff=0.0005))
    # A grid that reaches ~100 m out of its village.
    lon, lat = stray.geometry.exterior.coords[0]
    poked = replace(stray, geometry=shapely.union_all([stray.geometry, box(lon - 0.001, lat - 0.001, lon, lat)]))
    areas = [moved if r is victim else poked if r is stray else r for r in COUNTY]
    findings = check_topology(areas, sliver_m2=10)
    kinds = {(f.kind, f.codes[0]) for f in findings}
    assert ("gap", victim.parent_code) in kinds
    assert ("outside_parent", victim.code) in kinds
    assert ("outside_parent", stray.code) in kinds
    overlaps = [f for f in findings if f.kind == "overlap"]
    assert overlaps and all(victim.code in f.codes for f in overlaps)
    for f in findings:
        assert f.area_m2 >= 10 and f.message_zh and f.message_en
        assert 119 < f.lon < 121 and 30 < f.lat < 31
    json.dumps([f.as_dict() for f in findings], ensure_ascii=False)
    # ~55 m shift of a ~0.2 km² grid: overlaps and gap are each thousands of m², not degrees².
    gap = sum(f.area_m2 for f in findings if f.kind == "gap")
    assert 1_000 < gap < 100_000


def test_sliver_threshold_hides_tiny_pieces():
    grids = [r for r in COUNTY if r.level == "grid"]
    nudged = replace(grids[0], geometry=translate(grids[0].geometry, xoff=1e-8))  # ~1 mm
    areas = [nudged if r is grids[0] else r for r in COUNTY]
    assert check_topology(areas, sliver_m2=5.0) == []  # a 1 mm shift along a ~1 km border: ~1 m²
    assert check_topology(areas, sliver_m2=0.0)


def test_invalid_polygons_are_reported():
    bowtie = shapely.Polygon([(120.0, 30.0), (120.01, 30.01), (120.01, 30.0), (120.0, 30.01)])
    grid = next(r for r in COUNTY if r.level == "grid")
    findings = check_topology([replace(grid, geometry=bowtie, parent_code=None)])
    assert [f.kind for f in findings] == ["invalid_polygon"]
