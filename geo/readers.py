"""Streaming readers that yield one raw feature at a time from GeoJSON (ijson) or a Shapefile (pyogrio).

Nothing here holds a whole file: GeoJSON is parsed event by event with ijson's C backend, so a
50 MB FeatureCollection never exists as one string nor as one tree of dicts; Shapefiles are read
through GDAL in batches of rows. GeoJSON geometries stay raw mappings, because the validator must
see rings exactly as written (unclosed, too short) before shapely would silently fix or refuse them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import ijson
import shapely

SHAPEFILE_BATCH = 5_000


@dataclass
class RawFeature:
    index: int  # position in the file, 0-based, as reported to the user
    properties: dict
    geometry: object  # GeoJSON mapping (dict) or shapely geometry, or None


def detect_format(path: str) -> str:
    ext = os.path.splitext(str(path))[1].lower()
    if ext in (".shp", ".zip"):
        return "shapefile"
    return "geojson"


def iter_geojson(source) -> Iterator[RawFeature]:
    """Features of a FeatureCollection (path or binary file object), one at a time."""
    handle = open(source, "rb") if isinstance(source, (str, os.PathLike)) else source
    try:
        for i, feature in enumerate(ijson.items(handle, "features.item", use_float=True)):
            if not isinstance(feature, dict):
                yield RawFeature(i, {}, None)
                continue
            yield RawFeature(i, dict(feature.get("properties") or {}), feature.get("geometry"))
    finally:
        if handle is not source:
            handle.close()


def shapefile_crs(path) -> str | None:
    """The CRS a Shapefile declares in its .prj, as 'EPSG:nnnn' when pyproj can name it."""
    import pyogrio

    crs = pyogrio.read_info(str(path)).get("crs")
    return crs or None


def iter_shapefile(path, batch_size: int = SHAPEFILE_BATCH) -> Iterator[RawFeature]:
    """Features of an ESRI Shapefile, read in batches; attribute values come back as Python scalars."""
    import pyogrio
    from pyogrio.raw import read

    total = pyogrio.read_info(str(path))["features"]
    for start in range(0, total, batch_size):
        meta, _, wkb, columns = read(str(path), skip_features=start, max_features=batch_size)
        names = list(meta["fields"])
        geometries = shapely.from_wkb(wkb)
        for k, geometry in enumerate(geometries):
            properties = {name: _plain(column[k]) for name, column in zip(names, columns)}
            yield RawFeature(start + k, properties, geometry)


def _plain(value):
    return value.item() if hasattr(value, "item") else value
