"""Marshmallow schemas shared by the JSON API routes: they parse requests and document responses."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from gridgov.models.events import EVENT_STATES


def Timestamp(**kwargs):
    """An ISO 8601 instant with its offset, already formatted by the presenters."""
    return ma.fields.String(metadata={"format": "date-time"}, **kwargs)


class ReportSchema(ma.Schema):
    category = ma.fields.String(required=True, validate=validate.Length(min=2, max=8),
                                metadata={"description": "Subcategory code, e.g. 0102"})
    description = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))
    lon = ma.fields.Float(required=True, allow_nan=True)
    lat = ma.fields.Float(required=True, allow_nan=True)
    crs = ma.fields.String(load_default="wgs84", validate=validate.Length(max=12),
                           metadata={"description": "wgs84 (GPS), gcj02 (Amap/Tencent/WeChat) or bd09 (Baidu)"})
    urgency = ma.fields.Integer(load_default=1, validate=validate.OneOf([1, 2, 3]))
    address = ma.fields.String(load_default="", validate=validate.Length(max=300))
    client_uuid = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    accuracy_m = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=100000))
    self_resolve = ma.fields.Boolean(load_default=False)
    resolve_comment = ma.fields.String(load_default="", validate=validate.Length(max=2000))
    source = ma.fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["grid_worker", "hotline", "api"]))
    caller_name = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    caller_phone = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))


class AreaCodes(ma.Schema):
    grid = ma.fields.String(allow_none=True)
    village = ma.fields.String(allow_none=True)
    township = ma.fields.String(allow_none=True)


class EventSummary(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True)
    state = ma.fields.String(required=True, validate=validate.OneOf(EVENT_STATES))
    version = ma.fields.Integer(required=True)
    category = ma.fields.String(required=True)
    category_name = ma.fields.String()
    description = ma.fields.String()
    urgency = ma.fields.Integer()
    source = ma.fields.String()
    lon = ma.fields.Float()
    lat = ma.fields.Float()
    address = ma.fields.String()
    grid = ma.fields.String(allow_none=True)
    village = ma.fields.String(allow_none=True)
    township = ma.fields.String(allow_none=True)
    grid_distance_m = ma.fields.Float(allow_none=True)
    department = ma.fields.String(allow_none=True)
    deadline = Timestamp(allow_none=True)
    deadline_status = ma.fields.String(allow_none=True)
    reported_at = Timestamp()
    closed_at = Timestamp(allow_none=True)
    duplicate_of = ma.fields.Integer(allow_none=True)
    supervision_level = ma.fields.Integer()
    rework_count = ma.fields.Integer()
    caller_name = ma.fields.String(allow_none=True)
    caller_phone = ma.fields.String(allow_none=True)


class ReportResponse(EventSummary):
    replay = ma.fields.Boolean()
    likely_duplicates = ma.fields.List(ma.fields.Dict())


class LogRow(ma.Schema):
    seq = ma.fields.Integer()
    action = ma.fields.String()
    from_state = ma.fields.String(allow_none=True)
    to_state = ma.fields.String()
    actor = ma.fields.String(allow_none=True)
    actor_role = ma.fields.String(allow_none=True)
    at = Timestamp()
    comment = ma.fields.String()
    data = ma.fields.Dict()
    hash = ma.fields.String()


class EventDetail(EventSummary):
    log = ma.fields.List(ma.fields.Nested(LogRow))
    tasks = ma.fields.List(ma.fields.Dict())
    photos = ma.fields.List(ma.fields.Dict())
    allowed_actions = ma.fields.List(ma.fields.String())


class EventPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EventSummary))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class EventListArgs(ma.Schema):
    state = ma.fields.String(validate=validate.Length(max=200), metadata={"description": "comma-separated states"})
    area = ma.fields.String(validate=validate.Regexp(r"^\d{6}(\d{3}){0,3}$"))
    department = ma.fields.String(validate=validate.Length(max=20))
    category = ma.fields.String(validate=validate.Length(max=8))
    deadline_status = ma.fields.String(validate=validate.OneOf(["normal", "warning", "overdue"]))
    reported_from = ma.fields.DateTime()
    reported_to = ma.fields.DateTime()
    mine = ma.fields.Boolean(load_default=False)
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class ActionBody(ma.Schema):
    comment = ma.fields.String(validate=validate.Length(max=2000))
    reason = ma.fields.String(validate=validate.Length(max=2000))
    department = ma.fields.String(validate=validate.Length(max=20))
    deadline = ma.fields.AwareDateTime(default_timezone=None)
    master_event = ma.fields.Integer()
    satisfaction = ma.fields.String(validate=validate.OneOf(["satisfied", "basically_satisfied", "dissatisfied"]))
    level = ma.fields.Integer(validate=validate.OneOf([1, 2, 3]))
    override_reason = ma.fields.String(validate=validate.Length(max=500))


class LocateArgs(ma.Schema):
    lon = ma.fields.Float(required=True, allow_nan=True)
    lat = ma.fields.Float(required=True, allow_nan=True)
    crs = ma.fields.String(load_default="wgs84", validate=validate.Length(max=12))


class LocateResponse(ma.Schema):
    grid = ma.fields.String(allow_none=True)
    village = ma.fields.String(allow_none=True)
    township = ma.fields.String(allow_none=True)
    distance_m = ma.fields.Float(allow_none=True)
