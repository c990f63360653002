"""URL converters shared by every blueprint.

`<int:…>` names a database row, and ids are 32-bit integers in PostgreSQL: a larger number in a URL
cannot name a row, and passed on it would make PostgreSQL refuse the query (a 500). Bounding the
converter makes such a URL an ordinary 404, and the OpenAPI document says `maximum: 2147483647`.
"""
from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ROW_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def register_converters(app: Flask) -> None:
    # Before any blueprint: rules pick their converter class when they are added.
    app.url_map.converters["int"] = RowIdConverter
