"""`flask geo …` on a real database: locate, import all-or-nothing, check, export round trip."""
import json

import shapely

from gridgov.extensions import db
from gridgov.models import Area
from gridgov.services.areas import area_version


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["geo", *args], input=input)


def a_grid():
    return db.session.scalar(db.select(Area).where(Area.level == "grid").order_by(Area.code).limit(1))


def test_locate_single_and_batch(app_ctx, tmp_path):
    grid = a_grid()
    point = shapely.from_wkb(grid.geometry).representative_point()
    result = run(app_ctx, "locate", str(point.x), str(point.y))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"grid": grid.code, "village": grid.parent_code,
                                         "township": grid.code[:9], "distance_m": 0.0}
    csv_file = tmp_path / "points.csv"
    csv_file.write_text(f"lon,lat\n{point.x},{point.y}\n0,0\n10,10\n")
    lines = run(app_ctx, "locate", "--batch", str(csv_file)).output.strip().splitlines()
    assert json.loads(lines[0])["grid"] == grid.code and len(lines) == 3
    assert "error" in json.loads(lines[1])


def test_locate_refuses_bad_points(app_ctx):
    assert run(app_ctx, "locate", "nan", "30").exit_code != 0
    assert run(app_ctx, "locate", "120", "30", "--crs", "mars").exit_code != 0


def test_stored_demo_county_has_clean_topology(app_ctx):
    result = run(app_ctx, "check", "--json")
    assert result.exit_code == 0, result.output[:500]
    assert json.loads(result.output) == []


def test_broken_import_writes_nothing_and_reports_each_problem(app_ctx, tmp_path):
    version = area_version()
    count = db.session.scalar(db.select(db.func.count()).select_from(Area))
    bowtie = [[120.0, 30.0], [120.01, 30.01], [120.01, 30.0], [120.0, 30.01], [120.0, 30.0]]
    square = [[120.0, 30.0], [120.01, 30.0], [120.01, 30.01], [120.0, 30.01], [120.0, 30.0]]
    features = [
        {"type": "Feature", "properties": {"code": "330521001001901", "name": "坏网格"},
         "geometry": {"type": "Polygon", "coordinates": [bowtie]}},
        {"type": "Feature", "properties": {"code": "330599001001001", "name": "无父"},
         "geometry": {"type": "Polygon", "coordinates": [square]}},
        {"type": "Feature", "properties": {"code": "330521001001902", "name": "好网格"},
         "geometry": {"type": "Polygon", "coordinates": [square]}},
    ]
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    result = run(app_ctx, "import", str(path), "--level", "grid", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output.splitlines()[0])
    kinds = {p["kind"] for p in report["problems"]}
    assert "invalid_ring" in kinds and ("unknown_parent" in kinds or "code_not_in_parent" in kinds)
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(Area)) == count
    assert area_version() == version


def test_export_then_reimport_is_identical(app_ctx, tmp_path):
    out = tmp_path / "grids.geojson"
    result = run(app_ctx, "export", "--level", "village", "-o", str(out))
    assert result.exit_code == 0
    from geo.importer import import_areas

    records = {r.code: r for r in import_areas(str(out), known_codes=set(db.session.scalars(db.select(Area.code))))}
    stored = db.session.scalars(db.select(Area).where(Area.level == "village")).all()
    assert set(records) == {a.code for a in stored}
    for area in stored:
        assert records[area.code].geometry.equals_exact(shapely.from_wkb(area.geometry), 0)
        assert records[area.code].parent_code == area.parent_code and records[area.code].name == area.name


def test_good_import_stores_areas_and_the_geofence_sees_them(app_ctx, tmp_path):
    from gridgov.services.geofence import current_index

    village = db.session.scalar(db.select(Area).where(Area.level == "village").order_by(Area.code).limit(1))
    outline = shapely.from_wkb(village.geometry)
    version = area_version()
    # Replace the village's grids by one grid covering the whole village.
    path = tmp_path / "one.geojson"
    code = village.code + "999"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"code": code, "name": "整村网格", "parent_code": village.code},
        "geometry": shapely.geometry.mapping(outline)}]}))
    grids_before = len(current_index())
    try:
        result = run(app_ctx, "import", str(path), "--level", "grid")
        assert result.exit_code == 0, result.output
        assert area_version() == version + 1
        index = current_index()  # rebuilt because the area version moved
        assert len(index) == grids_before + 1 and code in set(index.codes)
    finally:
        db.session.execute(db.delete(Area).where(Area.code == code))
        db.session.commit()
