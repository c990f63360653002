"""Streaming readers that yield one raw feature at a time from GeoJSON (ijson) or a Shapefile (pyogrio).

Nothing here holds a whole file: GeoJSON is parsed event by event with ijson's C backend, so a
50 MB FeatureCollection never exists as one string nor as one tree of dicts; Shapefiles are read
through GDAL in batches of rows. GeoJSON geometries stay raw mappings, because the validator must
see rings exactly as written (unclosed, too short) before shapely would silently fix or refuse them.
"""
from __future__ import annotations

import os
import re
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


_EPSG_IN_NAME = re.compile(r"EPSG:(?:[0-9.]*:)?(\d+)$", re.IGNORECASE)


def geojson_declared_crs(source) -> str | None:
    """The legacy top-level `crs` member of a GeoJSON file (RFC 7946 dropped it, but GIS exports from
    China often carry `urn:ogc:def:crs:EPSG::4490` or a Gauss-Krüger zone): 'EPSG:nnnn', 'wgs84' for
    OGC CRS84, the name as written when it names neither, or None. Reads only up to the features, so a
    member written after them is not seen (pass --crs then). A file object is rewound."""
    handle = open(source, "rb") if isinstance(source, (str, os.PathLike)) else source
    if handle is source and not (hasattr(source, "seekable") and source.seekable()):
        return None
    name = None
    try:
        for prefix, event, value in ijson.parse(handle):
            if prefix == "features" or prefix.startswith("features."):
                break
            if prefix == "crs.properties.name" and event == "string":
                name = value.strip()
                break
    except ijson.JSONError:
        name = None  # the import itself reports the broken file
    finally:
        if handle is source:
            source.seek(0)
        else:
            handle.close()
    if not name:
        return None
    if name.upper().endswith("CRS84"):
        return "wgs84"
    match = _EPSG_IN_NAME.search(name)
    return f"EPSG:{match.group(1)}" if match else name


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
