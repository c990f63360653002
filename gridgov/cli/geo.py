"""`flask geo …`: locate points (single and batch); import, check and export areas."""
from __future__ import annotations

import csv
import json
import sys

import click
from flask.cli import AppGroup

from geo.errors import GeoError


@click.group(cls=AppGroup, help="Geofencing and areas. 地理围栏与区域。")
def geo() -> None:
    pass


@geo.command("locate")
@click.argument("lon", required=False)
@click.argument("lat", required=False)
@click.option("--crs", default="wgs84", show_default=True, help="wgs84, gcj02 or bd09")
@click.option("--batch", "batch", type=click.File("r", encoding="utf-8"), help="CSV of lon,lat rows ('-' for stdin)")
def locate(lon, lat, crs, batch):
    """Print {"grid", "village", "township", "distance_m"} for a point, or one JSON line per CSV row."""
    from gridgov.services.geofence import current_index, locate_point

    if batch is None:
        if lon is None or lat is None:
            raise click.UsageError("give LON LAT, or --batch FILE.csv")
        try:
            click.echo(json.dumps(locate_point(lon, lat, crs), ensure_ascii=False))
        except GeoError as exc:
            raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from exc
        return
    _locate_batch(batch, crs, current_index())


def _locate_batch(handle, crs: str, index) -> None:
    import numpy as np

    from geo.crs import to_wgs84_many, valid_mask

    rows = [r for r in csv.reader(handle) if r and not r[0].strip().lower().startswith(("lon", "#"))]
    lons = np.array([_number(r[0]) for r in rows], dtype=float)
    lats = np.array([_number(r[1]) if len(r) > 1 else float("nan") for r in rows], dtype=float)
    ok = valid_mask(lons, lats)
    wlon, wlat = to_wgs84_many(np.where(ok, lons, 120.0), np.where(ok, lats, 30.0), crs)
    result = index.locate_many(wlon, wlat)
    out = sys.stdout
    for i in range(len(rows)):
        if not ok[i]:
            out.write(json.dumps({"error": "invalid coordinate / 坐标无效", "row": i + 1}) + "\n")
            continue
        answer = result.location(i).as_dict()
        if answer["distance_m"] == float("inf"):
            answer["distance_m"] = None
        out.write(json.dumps(answer) + "\n")


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


@geo.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--level", type=click.Choice(["county", "township", "village", "grid"]), default=None,
              help="Level of every feature (default: from a 'level' property or the code length)")
@click.option("--crs", default=None, help="Source CRS: EPSG:4490, EPSG:4527 (CGCS2000 GK zone), wgs84 …")
@click.option("--code-field", default="code", show_default=True)
@click.option("--name-field", default="name", show_default=True)
@click.option("--parent-field", default="parent_code", show_default=True)
@click.option("--repair", is_flag=True, help="Repair invalid polygons with make_valid and report what changed")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON")
def import_command(file, level, crs, code_field, name_field, parent_field, repair, as_json):
    """Import areas from GeoJSON or a Shapefile: all or nothing, with a report of every problem."""
    from geo.importer import ImportRejected
    from gridgov.extensions import db
    from gridgov.services.admin_audit import cli_actor
    from gridgov.services.areas import import_file

    try:
        records, report = import_file(file, level=level, crs=crs, code_field=code_field, name_field=name_field,
                                      parent_field=parent_field, repair=repair, actor=cli_actor())
    except ImportRejected as exc:
        db.session.rollback()
        _print_report(exc.report, as_json)
        click.echo(f"{exc.message_zh} / {exc.message_en}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"imported": len(records), **report.as_dict()}, ensure_ascii=False))
    else:
        for problem in report.repairs if hasattr(report, "repairs") else []:
            click.echo(f"repaired: {getattr(problem, 'code', '')} {getattr(problem, 'message_en', problem)}")
        click.echo(f"imported {len(records)} areas")


def _print_report(report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    for p in report.problems:
        where = f" at {p.where[0]:.6f},{p.where[1]:.6f}" if p.where else ""
        index = "-" if p.index is None else p.index
        click.echo(f"feature {index} code {p.code or '-'}: {p.kind}: {p.message_zh} / {p.message_en}{where}")


@geo.command("check")
@click.option("--json", "as_json", is_flag=True)
@click.option("--sliver-m2", default=1.0, show_default=True, type=float, help="Ignore gaps/overlaps smaller than this")
def check(as_json, sliver_m2):
    """Topology of the stored areas: overlaps and gaps between siblings, children outside their parent."""
    from geo.topology import check_topology
    from gridgov.services.areas import stored_records

    findings = check_topology(stored_records(), sliver_m2=sliver_m2)
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in findings], ensure_ascii=False))
    else:
        for f in findings:
            click.echo(f"{f.kind}: {', '.join(f.codes)} {f.area_m2:.1f} m² at {f.lon:.6f},{f.lat:.6f}: {f.message_zh} / {f.message_en}")
        click.echo(f"{len(findings)} problem(s)")
    sys.exit(1 if findings else 0)


@geo.command("export")
@click.option("--level", type=click.Choice(["county", "township", "village", "grid"]), default=None)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
def export(level, output):
    """Write stored areas as GeoJSON that re-imports identically."""
    from geo.export import write_geojson
    from gridgov.services.areas import stored_records

    count = write_geojson(stored_records(level), output)
    click.echo(f"exported {count} areas", err=True)
