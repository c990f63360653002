"""`flask geo …`: locate points (single and batch); import, check and export areas."""
from __future__ import annotations

import csv
import json
import sys

import click

from geo.errors import GeoError


@click.group(help="Geofencing and areas. 地理围栏与区域。")
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
