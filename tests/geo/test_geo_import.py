"""Import refuses every kind of broken area file with a full bilingual report; good files round-trip."""
import io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
from pyogrio.raw import write
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box, mapping

from geo.areas import AreaRecord
from geo.export import to_geojson
from geo.importer import ImportRejected, import_areas, read_areas
from geo.synthetic import make_county

VILLAGE = "330521001001"
SQUARE = [[120.0, 30.0], [120.01, 30.0], [120.01, 30.01], [120.0, 30.01], [120.0, 30.0]]
BOWTIE = [[120.0, 30.0], [120.01, 30.01], [120.01, 30.0], [120.0, 30.01], [120.0, 30.0]]


def fc(*features):
    return io.BytesIO(json.dumps({"type": "FeatureCollection", "features": list(features)}).encode())


def grid(code="330521001001001", name="东溪村第1网格", geometry=None, parent=VILLAGE, **extra):
    geometry = {"type": "Polygon", "coordinates": [SQUARE]} if geometry is None else geometry
    return {"type": "Feature", "properties": {"code": code, "name": name, "parent_code": parent, **extra},
            "geometry": geometry}


def rejected(source, **options):
    with pytest.raises(ImportRejected) as info:
        import_areas(source, level="grid", known_codes={VILLAGE}, **options)
    report = info.value.report
    assert report.problems and all(p.message_zh and p.message_en for p in report.problems)
    json.dumps(report.as_dict(), ensure_ascii=False)  # the report is what the CLI and API print
    return report


def test_a_good_grid_imports():
    [record] = import_areas(fc(grid()), level="grid", known_codes={VILLAGE})
    assert record == AreaRecord("330521001001001", "东溪村第1网格", "grid", VILLAGE, record.geometry)
    assert record.geometry.equals(shapely.Polygon(SQUARE))


@pytest.mark.parametrize("feature,kind", [
    (grid(geometry={"type": "Polygon", "coordinates": [BOWTIE]}), "invalid_ring"),
    (grid(geometry={"type": "Polygon", "coordinates": [SQUARE[:2] + SQUARE[:1]]}), "too_few_points"),
    (grid(geometry={"type": "Polygon", "coordinates": [SQUARE[:4]]}), "unclosed_ring"),
    (grid(geometry={"type": "Polygon", "coordinates": []}), "empty"),
    (grid(geometry={}), "empty"),
    (grid(geometry={"type": "LineString", "coordinates": SQUARE}), "not_polygon"),
    (grid(code="33052100100100A"), "bad_code"),
    (grid(code="3305210010010011"), "bad_code"),
    (grid(code="330521001002001"), "code_not_in_parent"),
    (grid(code="330521009009001", parent="330521009009"), "unknown_parent"),
    (grid(geometry={"type": "Polygon", "coordinates": [[[x + 100, y] for x, y in SQUARE]]}), "outside_china"),
    (grid(name=""), "missing_name"),
])
def test_each_kind_of_broken_feature_is_rejected_with_its_kind(feature, kind):
    report = rejected(fc(grid("330521001001005", geometry={"type": "Polygon", "coordinates": [SQUARE]}), feature))
    assert [p.kind for p in report.problems] == [kind]
    assert report.problems[0].index == 1


def test_self_intersection_is_located():
    report = rejected(fc(grid(geometry={"type": "Polygon", "coordinates": [BOWTIE]})))
    assert report.problems[0].where == pytest.approx((120.005, 30.005))
    assert "自相交" in report.problems[0].message_zh


def test_duplicate_codes_are_rejected():
    report = rejected(fc(grid(), grid()))
    assert [(p.kind, p.index) for p in report.problems] == [("duplicate_code", 1)]


def test_all_problems_are_reported_at_once():
    report = rejected(fc(grid("bad"), grid("330521001001002", geometry={"type": "Polygon", "coordinates": [BOWTIE]}),
                         grid("330521001001003", geometry={"type": "Point", "coordinates": [120, 30]})))
    assert report.kinds() == {"bad_code", "code_not_in_parent", "invalid_ring", "not_polygon"}


def test_parents_may_come_from_the_same_file():
    village = {"type": "Feature", "properties": {"code": VILLAGE, "name": "东溪村", "level": "village"},
               "geometry": {"type": "Polygon", "coordinates": [SQUARE]}}
    records = import_areas(fc(village, grid(level="grid")), known_codes={"330521001"})
    assert [r.level for r in records] == ["village", "grid"]


def test_repair_mode_fixes_a_bowtie_and_says_what_it_changed():
    records, report = read_areas(fc(grid(geometry={"type": "Polygon", "coordinates": [BOWTIE]})), level="grid",
                                 known_codes={VILLAGE}, repair=True)
    assert report.ok and [r.kind for r in report.repairs] == ["repaired"]
    assert records[0].geometry.is_valid and records[0].geometry.geom_type == "MultiPolygon"
    assert records[0].geometry.area == pytest.approx(shapely.Polygon(SQUARE).area / 2)


def test_polygons_with_holes_and_multipolygons_import():
    hole = [[120.004, 30.004], [120.004, 30.006], [120.006, 30.006], [120.006, 30.004], [120.004, 30.004]]
    multi = {"type": "MultiPolygon", "coordinates": [[SQUARE, hole], [[[x + 0.02, y] for x, y in SQUARE]]]}
    [record] = import_areas(fc(grid(geometry=multi)), level="grid", known_codes={VILLAGE})
    assert record.geometry.geom_type == "MultiPolygon" and len(record.geometry.geoms[0].interiors) == 1


def _write_shapefile(path, records, crs):
    geoms = np.array([r.geometry for r in records], dtype=object)
    columns = [np.array([getattr(r, f) for r in records], dtype=object) for f in ("code", "name", "parent_code")]
    write(str(path), shapely.to_wkb(geoms), columns, ["code", "name", "parent"],
          geometry_type="Polygon", crs=crs, driver="ESRI Shapefile", encoding="UTF-8")


def _project(records, epsg):
    to = Transformer.from_crs("EPSG:4326", epsg, always_xy=True)
    return [AreaRecord(r.code, r.name, r.level, r.parent_code,
                       shapely.transform(r.geometry, lambda c: np.column_stack(to.transform(c[:, 0], c[:, 1]))))
            for r in records]


SMALL = [r for r in make_county(seed=4, townships=1, villages_per_township=(1, 1), grids_per_village=(5, 5),
                                size_km=3, lake_share=0) if r.level == "grid"]


@pytest.mark.parametrize("epsg,tolerance_deg", [("EPSG:4326", 0), ("EPSG:4490", 1e-9), ("EPSG:4527", 1e-8)])
def test_shapefile_import_reads_the_prj_and_transforms_to_wgs84(tmp_path, epsg, tolerance_deg):
    path = tmp_path / "grids.shp"
    _write_shapefile(path, _project(SMALL, epsg), epsg)
    records = import_areas(str(path), level="grid", parent_field="parent", known_codes={SMALL[0].parent_code})
    assert [r.code for r in records] == [r.code for r in SMALL] and records[0].name == SMALL[0].name
    for got, want in zip(records, SMALL):
        assert shapely.equals_exact(got.geometry, want.geometry, tolerance=tolerance_deg)


def test_gauss_kruger_geojson_with_an_explicit_crs(tmp_path):
    projected = _project(SMALL, "EPSG:4527")
    records = import_areas(io.BytesIO(to_geojson(projected).encode()), crs="EPSG:4527",
                           known_codes={SMALL[0].parent_code})
    assert all(shapely.equals_exact(a.geometry, b.geometry, tolerance=1e-8) for a, b in zip(records, SMALL))
    # Projected metres read as degrees are refused, not silently stored off the map.
    report = rejected(io.BytesIO(to_geojson(projected).encode()))
    assert report.kinds() == {"outside_china"}


def with_crs_member(features_json: str, name: str, before_features: bool = True) -> io.BytesIO:
    doc = json.loads(features_json)
    member = {"type": "name", "properties": {"name": name}}
    ordered = ({"type": doc["type"], "crs": member, "features": doc["features"]} if before_features
               else {"type": doc["type"], "features": doc["features"], "crs": member})
    return io.BytesIO(json.dumps(ordered).encode())


@pytest.mark.parametrize("name", ["urn:ogc:def:crs:EPSG::4527", "EPSG:4527", "urn:ogc:def:crs:EPSG:6.3:4527"])
def test_the_legacy_crs_member_of_a_geojson_is_read(name):
    projected = to_geojson(_project(SMALL, "EPSG:4527"))
    records = import_areas(with_crs_member(projected, name), known_codes={SMALL[0].parent_code})
    assert all(shapely.equals_exact(a.geometry, b.geometry, tolerance=1e-8) for a, b in zip(records, SMALL))


def test_crs84_member_is_wgs84_an_explicit_crs_wins_and_a_member_after_the_features_is_not_read():
    plain = to_geojson(SMALL)
    records = import_areas(with_crs_member(plain, "urn:ogc:def:crs:OGC:1.3:CRS84"), known_codes={SMALL[0].parent_code})
    assert [r.code for r in records] == [r.code for r in SMALL]
    projected = to_geojson(_project(SMALL, "EPSG:4527"))
    records = import_areas(with_crs_member(projected, "urn:ogc:def:crs:EPSG::4326"), crs="EPSG:4527",
                           known_codes={SMALL[0].parent_code})
    assert all(shapely.equals_exact(a.geometry, b.geometry, tolerance=1e-8) for a, b in zip(records, SMALL))
    report = rejected(with_crs_member(projected, "urn:ogc:def:crs:EPSG::4527", before_features=False))
    assert report.kinds() == {"outside_china"}


def test_an_unknown_crs_member_is_refused_with_its_name():
    from geo.errors import UnknownCRS

    with pytest.raises(UnknownCRS) as info:
        import_areas(with_crs_member(to_geojson(SMALL), "urn:x-acme:crs:local-grid"), known_codes={SMALL[0].parent_code})
    assert "urn:x-acme:crs:local-grid" in info.value.message_en


def test_export_then_import_gives_identical_records():
    county = make_county(seed=8, townships=2, villages_per_township=(2, 3), grids_per_village=(3, 5), lake_share=0.3)
    back = import_areas(io.BytesIO(to_geojson(county).encode()))
    assert [(r.code, r.name, r.level, r.parent_code) for r in back] == \
           [(r.code, r.name, r.level, r.parent_code) for r in county]
    assert all(shapely.equals_exact(a.geometry, b.geometry, tolerance=0) for a, b in zip(back, county))


def test_a_50_mb_geojson_streams_without_loading_the_file_whole(tmp_path):
    path = tmp_path / "big.geojson"
    feature = json.dumps(grid(geometry=mapping(shapely.segmentize(box(120, 30, 120.01, 30.01), 0.0002)),
                              code="CODE", parent="PARENT")).replace('"CODE"', '"%s"').replace('"PARENT"', '"%s"')
    per_feature = len(feature)
    count = 50_000_000 // per_feature
    with open(path, "w") as f:
        f.write('{"type": "FeatureCollection", "features": [')
        f.write(",".join(feature % (f"330521001{i // 999 + 1:03d}{i % 999 + 1:03d}", f"330521001{i // 999 + 1:03d}")
                         for i in range(count)))
        f.write("]}")
    size_mb = os.path.getsize(path) / 1e6
    script = textwrap.dedent(f"""
        from pathlib import Path
        def rss():
            s = Path('/proc/self/status').read_text()
            return {{l.split(':')[0]: int(l.split()[1]) / 1024 for l in s.splitlines() if l.startswith(('VmRSS', 'VmHWM'))}}
        import geo.importer
        base = rss()['VmRSS']
        records, report = geo.importer.read_areas({str(path)!r}, level='grid', known_codes={{f'330521001{{v:03d}}' for v in range(1, 100)}})
        print(report.features, len(report.problems), len(records), rss()["VmHWM"] - base)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    features, problems, kept, growth_mb = out.stdout.split()
    assert int(features) == count and int(problems) == 0
    # The records themselves (~30 MB of coordinates) are the answer; json.load would add the 50 MB text
    # and a dict tree several times its size on top.
    assert float(growth_mb) < 1.5 * size_mb, (size_mb, growth_mb)
    print(f"{size_mb:.0f} MB GeoJSON, {count} features: peak RSS grew {float(growth_mb):.0f} MB")
