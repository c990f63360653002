"""`GET /api/v1/stats`: the statistics of DESIGN.md as JSON, for the user's jurisdiction.

`group_by` is one grouping or a comma-separated list (total, township, village, grid, department,
category, subcategory, reporter, day, week, month); the answer always carries the `total` row.
Rates are fractions (0.8125 = 81.25 %) rounded to 4 places, or null when the denominator is 0.
"""
from __future__ import annotations

from flask import jsonify, request
from flask_smorest import Blueprint

from gridgov.api.responses import errors
from gridgov.api.schemas import StatsResponse
from gridgov.errors import AppError
from gridgov.services import stats
from gridgov.web.stats_filters import parse_filters, require_stats_user

bp = Blueprint("api_stats", __name__, url_prefix="/api/v1", description="Statistics for the user's jurisdiction")


def _query(name: str, description: str, **schema) -> dict:
    return {"in": "query", "name": name, "required": False, "description": description,
            "schema": {"type": "string", **schema}}


STATS_PARAMETERS = [
    _query("group_by", "total, township, village, grid, department, category, subcategory, reporter, day, week, "
                       "month — one or a comma-separated list"),
    _query("period", "a preset (this_month, last_30_days, …) when from/to are not given"),
    _query("from", "first day, YYYY-MM-DD (with to), 1970-01-01 … 2999-12-31", format="date"),
    _query("to", "last day, YYYY-MM-DD (with from), at most three years after from", format="date"),
    _query("area", "area code inside the user's jurisdiction (default: the user's area)"),
    _query("category", "category code (major class or subclass)"),
    _query("department", "department code"),
]


def parse_groupings(value: str | None) -> list[str]:
    groupings = [g.strip() for g in (value or "total").split(",") if g.strip()] or ["total"]
    unknown = [g for g in groupings if g not in stats.GROUPINGS]
    if unknown:
        raise AppError("未知的分组方式", f"Unknown group_by {unknown}; use {', '.join(stats.GROUPINGS)}",
                       status=400, code="bad_request", details={"field": "group_by"})
    return groupings


@bp.route("/stats", methods=["GET"])
@bp.doc(summary="上报数、立案数、结案率… grouped", parameters=STATS_PARAMETERS,
        responses={"200": {"description": "period, area, total, groups (and rows for one grouping)",
                           "content": {"application/json": {"schema": StatsResponse}}}})
@errors(bp, 400, 403)
def get_stats():
    user = require_stats_user()
    filters = parse_filters(request.args, user)
    groupings = parse_groupings(request.args.get("group_by"))
    q = filters.query
    data = stats.compute_many(q, ["total", *groupings])
    body = {
        "period": {"from": q.period.first.isoformat(), "to": q.period.last.isoformat(), "timezone": q.period.tz},
        "area": q.area,
        "category": q.category,
        "department": q.department,
        "as_of": q.now.isoformat() + "Z",
        "total": data["total"][0].as_dict(),
        "groups": {g: [f.as_dict() for f in data[g]] for g in groupings if g != "total"},
    }
    if len(groupings) == 1:
        body["group_by"] = groupings[0]
        body["rows"] = [f.as_dict() for f in data[groupings[0]]]
    return jsonify(body)
