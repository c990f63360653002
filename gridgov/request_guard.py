"""Refuses text no database can store, once, before any view runs: NUL characters and lone surrogates.

PostgreSQL's text types cannot hold U+0000 (psycopg refuses it before sending the query), and a lone
UTF-16 surrogate — legal in JSON as an escape like \\ud800, illegal in UTF-8 — cannot be encoded for
either database or for the audit hash. Reaching a query, either is a 500; checked here, it is a 400 with
the usual bilingual message for every blueprint (JSON API, Open311, web forms), whatever field it hides
in, without each schema and form having to remember.
"""
from __future__ import annotations

import re

from flask import Flask, request

from gridgov.errors import AppError

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_DEPTH = 32


class UnstorableText(AppError):
    status, code = 400, "unstorable_text"

    def __init__(self, where: str):
        super().__init__("请求中含有无法保存的字符（NUL 或不成对的代理字符）",
                         "The request contains characters that cannot be stored (NUL or an unpaired surrogate)",
                         details={"field": where})


def first_unstorable(value, where: str = "", depth: int = 0) -> str | None:
    """Where the first unstorable string hides in a decoded JSON value (key or value), or None."""
    if isinstance(value, str):
        return (where or "body") if UNSTORABLE.search(value) else None
    if depth > MAX_DEPTH:  # deeper than any body we accept; the schema refuses it anyway
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and UNSTORABLE.search(key):
                return path
            found = first_unstorable(item, path, depth + 1)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = first_unstorable(item, f"{where}[{index}]", depth + 1)
            if found:
                return found
    return None


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _pairs(req):
    """(where, text) for every piece of text a view could read: path, query, form, file names."""
    for key, value in (req.view_args or {}).items():
        yield f"path:{key}", value
    if req.query_string:
        for key, value in req.args.items(multi=True):
            yield f"query:{key}", key
            yield f"query:{key}", value
    if req.mimetype in FORM_TYPES:
        for key, value in req.form.items(multi=True):
            yield f"form:{key}", key
            yield f"form:{key}", value
        for key, upload in req.files.items(multi=True):
            yield f"file:{key}", upload.filename or ""


def json_may_hold_unstorable(data: bytes) -> bool:
    """False when JSON text cannot decode to a string holding NUL or a lone surrogate, so the decoded
    body need not be walked. The body is decoded as json.loads decodes bytes: UTF-16 and UTF-32 bodies
    have NUL bytes; in UTF-8 (read with 'surrogatepass') a surrogate is the bytes ED A0..BF xx, and an
    escape is a backslash and u. Without NUL, ED and \\u bytes, neither can appear; with them (any
    Hangul syllable, any escaped character) the body is walked as before."""
    return b"\\u" in data or b"\x00" in data or b"\xed" in data


def check_request() -> None:
    req = request._get_current_object()  # every request pays this: the proxy is resolved once
    for where, text in _pairs(req):
        if isinstance(text, str) and UNSTORABLE.search(text):
            raise UnstorableText(where)
    if req.is_json and json_may_hold_unstorable(req.get_data(cache=True)):
        found = first_unstorable(req.get_json(silent=True))
        if found:
            raise UnstorableText(found)


def register(app: Flask) -> None:
    app.before_request(check_request)
