"""Supervisor dashboard (/dashboard): headline figures, rankings with drill-down, trends, map,
overdue and supervised lists, evaluation, and the report/event-list exports.

Every number comes from `gridgov.services.stats`; the page only arranges it. Filters live in the
URL (from, to or period, area, category, department) so a view can be bookmarked and shared.
"""
from __future__ import annotations

import os
import tempfile
from math import ceil

import shapely
from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, send_file, \
    stream_with_context, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from gridgov.access import area_covers, area_level
from gridgov.errors import AppError
from gridgov.extensions import db
from gridgov.models import Area, Category, Department, Event
from gridgov.models.events import OPEN_STATES
from gridgov.services import stats
from gridgov.services.areas import area_version
from gridgov.services.stats import exports
from gridgov.services.stats.evaluation import evaluate, normalise_weights
from gridgov.services.stats.figures import AREA_GROUPINGS, scope_clauses
from gridgov.web.paging import page_number
from gridgov.web.stats_filters import parse_filters, require_stats_user

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@bp.before_request
def _pages_need_login():
    # People are sent to the login form (and back); the role check follows in each view.
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()

CHILD_GROUPING = {"county": "township", "township": "village", "village": "grid", "grid": "grid"}
# The map bins events two levels down (a county by village, a township by grid): enough detail
# to see hot spots, few enough markers to draw (a county can have 10,000 grids).
MAP_GROUPING = {"county": "village", "township": "grid", "village": "grid", "grid": "grid"}
FIGURE_LABELS = {
    "reported": _l("上报数"), "registered": _l("立案数"), "due": _l("应结案数"), "closed": _l("结案数"),
    "closed_on_time": _l("按期结案数"), "overdue": _l("超期数"), "self_resolved": _l("自行处置数"),
    "tasks_handled": _l("处置工单数"), "tasks_reworked": _l("返工工单数"),
}
PAGE_SIZE = 50


def trend_bucket(period) -> str:
    return "day" if period.days <= 62 else ("week" if period.days <= 190 else "month")


def dashboard_data(q: stats.StatsQuery) -> dict:
    """Every query the county dashboard runs (the benchmark times exactly this)."""
    level = area_level(q.area) if q.area else "county"
    child, map_grouping = CHILD_GROUPING[level], MAP_GROUPING[level]
    bucket = trend_bucket(q.period)
    groupings = list(dict.fromkeys(["total", child, "department", "category", bucket, map_grouping]))
    data = stats.compute_many(q, groupings)
    previous = stats.totals(stats.StatsQuery(period=q.period.previous(), area=q.area, category=q.category,
                                             department=q.department, now=q.now))
    scope = scope_clauses(q)
    open_scope = [*scope, Event.state.in_(OPEN_STATES)]
    # Pick the ids from the narrow index of open events, then load just those rows.
    overdue_ids = select(Event.id).where(*open_scope, Event.deadline < q.now).order_by(Event.deadline).limit(20)
    overdue = db.session.scalars(select(Event).where(Event.id.in_(overdue_ids)).order_by(Event.deadline)).all()
    overdue_count = db.session.scalar(
        select(func.count()).select_from(Event).where(*open_scope, Event.deadline < q.now))
    supervised_ids = (select(Event.id).where(*open_scope, Event.supervision_level > 0)
                      .order_by(Event.supervision_level.desc(), Event.deadline).limit(20))
    supervised = db.session.scalars(select(Event).where(Event.id.in_(supervised_ids))
                                    .order_by(Event.supervision_level.desc(), Event.deadline)).all()
    return {"child": child, "bucket": bucket, "map_grouping": map_grouping, "groupings": groupings, "data": data, "previous": previous, "overdue": overdue,
            "overdue_count": overdue_count, "supervised": supervised}


def change(current, previous):
    if current is None or previous is None:
        return None
    return round(current - previous, 4)


@bp.get("")
@bp.get("/")
def index():
    user = require_stats_user()
    filters = parse_filters(request.args, user)
    q = filters.query
    result = dashboard_data(q)
    data = result["data"]
    total, previous = data["total"][0], result["previous"]
    weights = current_app.config.get("STATS_SCORE_WEIGHTS")
    child_rows = [r for r in data[result["child"]]]
    child_rows.sort(key=lambda f: (-(f.closure_rate if f.closure_rate is not None else -1), -f.registered))
    departments = sorted(data["department"], key=lambda f: -f.registered)
    grid_points = _map_points(result["map_grouping"], q.area,
                              [f for f in data[result["map_grouping"]] if f.key is not None and f.reported])
    area = db.session.get(Area, q.area) if q.area else None
    chart_data = {
        "trend": {"keys": [f.key for f in data[result["bucket"]]],
                  "reported": [f.reported for f in data[result["bucket"]]],
                  "registered": [f.registered for f in data[result["bucket"]]],
                  "closed": [f.closed for f in data[result["bucket"]]],
                  "closure_rate": [f.closure_rate for f in data[result["bucket"]]]},
        "children": {"labels": [f.label for f in child_rows], "closure_rate": [f.closure_rate for f in child_rows],
                     "on_time_rate": [f.on_time_rate for f in child_rows]},
        "categories": [{"name": f.label, "value": f.reported} for f in data["category"] if f.reported],
        "points": grid_points,
        # The charts' own words, in the reader's language (dashboard.js has no catalog of its own).
        "labels": {"reported": str(FIGURE_LABELS["reported"]), "registered": str(FIGURE_LABELS["registered"]),
                   "closed": str(FIGURE_LABELS["closed"]), "closure_rate": str(_l("结案率")),
                   "on_time_rate": str(_l("按期结案率")), "count_unit": str(_l("件")),
                   "map_reported": str(_l("上报")), "map_overdue": str(_l("超期"))},
    }
    return render_template(
        "dashboard/index.html", filters=filters, q=q, area=area, total=total, previous=previous,
        child=result["child"], child_rows=child_rows, departments=departments,
        dept_eval=evaluate(data["department"], weights),
        area_eval=evaluate(data[result["child"]], weights) if result["child"] != "grid" else [],
        overdue=result["overdue"], overdue_count=result["overdue_count"], supervised=result["supervised"],
        chart_data=chart_data, bucket=result["bucket"], figure_labels=FIGURE_LABELS, change=change,
        categories=_category_options(), department_options=_department_options(),
        tile_url=current_app.config.get("MAP_TILE_URL") or "", presets=stats.PRESETS,
        weights={k: round(v * 100) for k, v in normalise_weights(weights).items()},
    )


def _map_points(level: str, area: str | None, rows) -> list[dict]:
    """One marker per area of `level` with events, at the centre of its bounding box."""
    if not rows:
        return []
    by_code = {f.key: f for f in rows}
    stmt = select(Area.code, Area.name, Area.min_lon, Area.min_lat, Area.max_lon, Area.max_lat).where(
        Area.level == level)
    if area:
        stmt = stmt.where(Area.code.startswith(area))
    return [{"code": code, "name": name, "lon": (x0 + x1) / 2, "lat": (y0 + y1) / 2,
             "reported": by_code[code].reported, "overdue": by_code[code].overdue}
            for code, name, x0, y0, x1, y1 in db.session.execute(stmt) if x0 is not None and code in by_code]


def _category_options():
    return db.session.execute(select(Category.code, Category.name_zh).order_by(Category.code)).all()


def _department_options():
    return db.session.execute(select(Department.code, Department.name).order_by(Department.code)).all()


def _narrowed(filters):
    """The drill-down query: filters narrowed by an optional group_by/key pair."""
    q = filters.query
    grouping, key = request.args.get("group_by"), request.args.get("key")
    if grouping and key:
        if grouping not in stats.GROUPINGS:
            raise AppError("未知的分组方式", "Unknown group_by", status=400, code="bad_request")
        if grouping in AREA_GROUPINGS and not area_covers(q.area or "", key):
            raise AppError("无权查看该区域的统计", "You may not view statistics outside your jurisdiction",
                           status=403, code="forbidden")
        q = q.narrowed(grouping, key)
    return q


def _figure_arg() -> str:
    figure = request.args.get("figure", "reported")
    if figure not in stats.EVENT_FIGURES:
        raise AppError("未知的指标", f"Unknown figure; use one of {', '.join(stats.EVENT_FIGURES)}",
                       status=400, code="bad_request")
    return figure


@bp.get("/events")
def events():
    user = require_stats_user()
    filters = parse_filters(request.args, user)
    figure = _figure_arg()
    q = _narrowed(filters)
    page = page_number(request.args)
    total = db.session.scalar(select(func.count()).select_from(Event).where(stats.event_figure_clause(figure, q)))
    rows = db.session.scalars(stats.list_events_stmt(figure, q).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    area = db.session.get(Area, q.area) if q.area else None
    export_args = dict(filters.args(), figure=figure, area=q.area, category=q.category, department=q.department,
                       **{"from": q.period.first.isoformat(), "to": q.period.last.isoformat()})
    return render_template("dashboard/events.html", rows=rows, total=total, page=page,
                           pages=max(ceil(total / PAGE_SIZE), 1), figure=figure, figure_label=FIGURE_LABELS[figure],
                           q=q, area=area, filters=filters, export_args=export_args,
                           state_labels=exports.STATE_LABELS,
                           pager_args={k: v for k, v in request.args.items() if k != "page"})


_GEOJSON_CACHE: dict = {}


@bp.get("/areas.geojson")
def areas_geojson():
    """Polygons of one level inside the requested area, simplified for drawing (cached per area version)."""
    user = require_stats_user()
    filters = parse_filters(request.args, user)
    level = request.args.get("level", "village")
    if level not in ("township", "village", "grid"):
        abort(400)
    parent = filters.query.area or user.area_code
    key = (area_version(), level, parent)
    if key not in _GEOJSON_CACHE:
        tolerance = {"township": 0.0005, "village": 0.0002, "grid": 0.00005}[level]
        rows = db.session.execute(select(Area.code, Area.name, Area.geometry).where(
            Area.level == level, Area.code.startswith(parent))).all()
        features = []
        for code, name, wkb in rows:
            if wkb is None:
                continue
            geom = shapely.from_wkb(wkb).simplify(tolerance, preserve_topology=True)
            features.append({"type": "Feature", "properties": {"code": code, "name": name},
                             "geometry": shapely.geometry.mapping(geom)})
        if len(_GEOJSON_CACHE) > 64:
            _GEOJSON_CACHE.clear()
        _GEOJSON_CACHE[key] = {"type": "FeatureCollection", "features": features}
    response = jsonify(_GEOJSON_CACHE[key])
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


# --- exports ------------------------------------------------------------------------------------

def _area_name(code: str | None) -> str:
    if not code:
        return ""
    return db.session.scalar(select(Area.name).where(Area.code == code)) or code


def _send_temp_xlsx(write, filename: str):
    """Write the workbook to a temporary file and stream it; the file goes when the response closes."""
    fd, path = tempfile.mkstemp(suffix=".xlsx", dir=current_app.config["INSTANCE_DIR"])
    os.close(fd)
    try:
        write(path)
        response = send_file(path, as_attachment=True, download_name=filename,
                             mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    except BaseException:
        os.unlink(path)
        raise
    response.call_on_close(lambda: os.path.exists(path) and os.unlink(path))
    return response


@bp.get("/export/report.xlsx")
def export_report_xlsx():
    user = require_stats_user()
    q = parse_filters(request.args, user).query
    weights = current_app.config.get("STATS_SCORE_WEIGHTS")
    name = f"统计报表_{q.area}_{q.period.first:%Y%m%d}-{q.period.last:%Y%m%d}.xlsx"
    return _send_temp_xlsx(lambda path: exports.write_report_xlsx(q, path, area_name=_area_name(q.area),
                                                                  weights=weights), name)


@bp.get("/export/report.csv")
def export_report_csv():
    user = require_stats_user()
    q = parse_filters(request.args, user).query
    grouping = request.args.get("group_by", "township")
    if grouping not in stats.GROUPINGS:
        abort(400)
    name = f"stats_{grouping}_{q.period.first:%Y%m%d}-{q.period.last:%Y%m%d}.csv"
    # The body is generated while the server sends it, after the view returned: keep the context alive.
    return Response(stream_with_context(exports.report_csv(q, grouping)), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/export/events.<fmt>")
def export_events(fmt: str):
    user = require_stats_user()
    filters = parse_filters(request.args, user)
    figure = _figure_arg()
    q = _narrowed(filters)
    stem = f"events_{figure}_{q.period.first:%Y%m%d}-{q.period.last:%Y%m%d}"
    if fmt == "csv":
        return Response(stream_with_context(exports.events_csv(figure, q)), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename={stem}.csv"})
    if fmt == "xlsx":
        return _send_temp_xlsx(lambda path: exports.write_events_xlsx(figure, q, path), f"{stem}.xlsx")
    abort(404)


@bp.app_template_global()
def dashboard_url(filters, endpoint: str = "dashboard.index", **override):
    return url_for(endpoint, **filters.args(**override))
