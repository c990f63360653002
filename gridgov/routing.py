"""URL converters shared by every blueprint, and the same rule for ids in forms and query strings.

`<int:…>` names a database row, and ids are 32-bit integers in PostgreSQL: a larger number in a URL
cannot name a row, and passed on it would make PostgreSQL refuse the query (a 500). Bounding the
converter makes such a URL an ordinary 404, and the OpenAPI document says `maximum: 2147483647`.
Ids that arrive in a form field or a query parameter go through `row_id` for the same reason.
"""
from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

MAX_ROW_ID = 2**31 - 1


def row_id(value: str | None) -> int | None:
    """A row id (or another 32-bit integer, such as a version) typed into a form or a query string, or None.

    Only ASCII digits up to MAX_ROW_ID: `str.isdigit()` also admits "²", which `int()` then refuses; a
    larger number names no row and overflows the column (SQLite refuses it before the query, PostgreSQL
    in it); past 4300 digits `int()` refuses it outright.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > len(str(MAX_ROW_ID)) or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_ROW_ID else None


class RowIdConverter(IntegerConverter):
    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ROW_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def register_converters(app: Flask) -> None:
    # Before any blueprint: rules pick their converter class when they are added.
    app.url_map.converters["int"] = RowIdConverter
