"""The error answers of the JSON API, documented as they are sent (gridgov.errors.error_body).

Each operation lists the error statuses it really gives, so the OpenAPI document has no catch-all
`default` response and a client (or a fuzzer) can tell a documented refusal from a surprise.
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint


class ErrorDetail(ma.Schema):
    status = ma.fields.Integer(required=True, metadata={"description": "The HTTP status, repeated"})
    code = ma.fields.String(required=True, metadata={"description": "Machine-readable reason, e.g. not_found"})
    message = ma.fields.String(required=True, metadata={"description": "Both languages, for people"})
    message_zh = ma.fields.String(required=True)
    message_en = ma.fields.String(required=True)
    details = ma.fields.Dict(metadata={"description": "Per-field problems, the field at fault, …"})


class ErrorBody(ma.Schema):
    error = ma.fields.Nested(ErrorDetail, required=True)


# Why each status happens, in the words the API docs page shows.
WHY = {
    400: "Malformed request: not JSON, a bad header, text that cannot be stored (NUL, lone surrogates), "
         "a coordinate outside China, an unknown CRS, a bad photo, a bad filter",
    401: "No valid bearer token (or session)",
    403: "Your role or jurisdiction does not allow this",
    404: "No such event or action, or not in your jurisdiction",
    409: "The event changed meanwhile (stale If-Match) or is in the wrong state for this action",
    413: "A photo or the whole upload is too large",
    422: "Some fields are missing or invalid",
    423: "The account is locked after repeated wrong passwords",
    429: "Too many attempts; try again later",
    503: "The database is briefly unavailable; retry (Retry-After)",
}

# Any request may carry text no database can store (gridgov.request_guard) or meet a database that is
# restarting; every authenticated one may lack a token.
ALWAYS = (400, 503)
AUTHENTICATED = (401,)


def errors(blp: Blueprint, *statuses: int, public: bool = False):
    """Document the error statuses of one operation (plus the ones every operation can give)."""
    codes = sorted(set(statuses) | set(ALWAYS) | (set() if public else set(AUTHENTICATED)))

    def decorator(func):
        for status in codes:
            func = blp.alt_response(status, schema=ErrorBody, description=WHY[status])(func)
        return func

    return decorator
