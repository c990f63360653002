"""Marshmallow schemas shared by the JSON API routes: they parse requests and document responses."""
from __future__ import annotations

from datetime import datetime

import marshmallow as ma
from marshmallow import validate

from gridgov.models.events import EVENT_STATES
from gridgov.routing import MAX_ROW_ID
from gridgov.timeutil import EARLIEST_DAY, LATEST_DAY


# What gridgov.services.reporting accepts as a client's report id (documented; the service checks it).
CLIENT_UUID_PATTERN = "^[A-Za-z0-9_-]{1,64}$"


def _within_supported_days(value: datetime) -> None:
    if not EARLIEST_DAY <= value.date() <= LATEST_DAY:
        raise ma.ValidationError(f"Must lie between {EARLIEST_DAY} and {LATEST_DAY}.")


def Instant(*, aware: bool = False):
    """An ISO 8601 instant in a request, within the supported days; `aware` demands an offset."""
    options = {"validate": _within_supported_days,
               "metadata": {"description": f"between {EARLIEST_DAY} and {LATEST_DAY}"}}
    return ma.fields.AwareDateTime(default_timezone=None, **options) if aware else ma.fields.DateTime(**options)


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
    client_uuid = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                                   metadata={"pattern": CLIENT_UUID_PATTERN,
                                             "description": "Your id for this report: a retry with it is a replay"})
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
    reported_from = Instant()
    reported_to = Instant()
    mine = ma.fields.Boolean(load_default=False)
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class ActionBody(ma.Schema):
    comment = ma.fields.String(validate=validate.Length(max=2000))
    reason = ma.fields.String(validate=validate.Length(max=2000))
    department = ma.fields.String(validate=validate.Length(max=20))
    deadline = Instant(aware=True)
    master_event = ma.fields.Integer(validate=validate.Range(min=1, max=MAX_ROW_ID))
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


class StatsRow(ma.Schema):
    """One row of figures (gridgov.services.stats.Figures.as_dict); rates are fractions or null."""
    key = ma.fields.Raw(allow_none=True, metadata={"description": "Area/department/category code, reporter id, "
                                                                  "period bucket; null for the total"})
    label = ma.fields.String()
    reported = ma.fields.Integer()
    self_resolved = ma.fields.Integer()
    registered = ma.fields.Integer()
    due = ma.fields.Integer()
    closed = ma.fields.Integer()
    closed_on_time = ma.fields.Integer()
    overdue = ma.fields.Integer()
    handling_count = ma.fields.Integer()
    handling_seconds = ma.fields.Integer()
    rated = ma.fields.Integer()
    satisfied = ma.fields.Integer()
    tasks_handled = ma.fields.Integer()
    tasks_reworked = ma.fields.Integer()
    closure_rate = ma.fields.Float(allow_none=True)
    on_time_rate = ma.fields.Float(allow_none=True)
    rework_rate = ma.fields.Float(allow_none=True)
    self_resolved_rate = ma.fields.Float(allow_none=True)
    satisfaction_rate = ma.fields.Float(allow_none=True)
    avg_handling_hours = ma.fields.Float(allow_none=True)


class StatsPeriod(ma.Schema):
    first = ma.fields.String(data_key="from", metadata={"format": "date"})
    last = ma.fields.String(data_key="to", metadata={"format": "date"})
    timezone = ma.fields.String()


class StatsResponse(ma.Schema):
    period = ma.fields.Nested(StatsPeriod, required=True)
    area = ma.fields.String(allow_none=True)
    category = ma.fields.String(allow_none=True)
    department = ma.fields.String(allow_none=True)
    as_of = Timestamp(required=True)
    total = ma.fields.Nested(StatsRow, required=True)
    groups = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.Nested(StatsRow)), required=True)
    group_by = ma.fields.String(metadata={"description": "Only when one grouping was asked for"})
    rows = ma.fields.List(ma.fields.Nested(StatsRow), metadata={"description": "Only when one grouping was asked for"})
