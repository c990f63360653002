"""Write areas as a GeoJSON FeatureCollection that imports back to the same records."""
from __future__ import annotations

import json
from typing import IO, Iterable

from shapely.geometry import mapping

from geo.areas import AreaRecord


def feature(record: AreaRecord) -> dict:
    return {"type": "Feature",
            "properties": {"code": record.code, "name": record.name, "level": record.level,
                           "parent_code": record.parent_code},
            "geometry": mapping(record.geometry)}


def write_geojson(records: Iterable[AreaRecord], out: IO[str]) -> int:
    """Stream features one by one (no whole-document string), full double precision; returns the count."""
    out.write('{"type": "FeatureCollection", "features": [\n')
    count = 0
    for record in records:
        if count:
            out.write(",\n")
        # json repr of a float round-trips exactly, so geometries compare equal after re-import.
        out.write(json.dumps(feature(record), ensure_ascii=False))
        count += 1
    out.write("\n]}\n")
    return count


def to_geojson(records: Iterable[AreaRecord]) -> str:
    """The whole FeatureCollection as one string (for small exports and tests)."""
    import io

    buffer = io.StringIO()
    write_geojson(records, buffer)
    return buffer.getvalue()
