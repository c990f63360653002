"""The grid worker's phone pages: report an event, my reports, one report with its log.

The report page submits through the JSON API (POST /api/v1/events) from a small script that keeps
unsent reports in IndexedDB and retries them; these views only render and serve the map layer.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import get_locale
from flask_login import current_user, login_required

from gridgov.extensions import db
from gridgov.models import Category, Event
from gridgov.services.mapdata import area_layer, area_names
from gridgov.services.workflow import load_visible_event
from gridgov.web.paging import page_number
from workflows import get_workflow

bp = Blueprint("mobile", __name__, url_prefix="/m")

PAGE_SIZE = 30
URGENCIES = ((1, "一般", "Normal"), (2, "紧急", "Urgent"), (3, "特急", "Critical"))


@bp.before_request
@login_required
def _grid_workers_only():
    # These pages are the grid worker's tools; other roles have their consoles.
    if current_user.role != "grid_worker":
        abort(403)


def english() -> bool:
    return str(get_locale()) == "en"


def state_label(event_or_state, workflow: str = "default") -> str:
    state = getattr(event_or_state, "state", event_or_state)
    workflow = getattr(event_or_state, "workflow", workflow) or "default"
    try:
        return get_workflow(workflow).state(state).label("en" if english() else "zh")
    except Exception:  # an unknown state or workflow still shows its name
        return state


def state_labels(workflow: str = "default") -> dict[str, str]:
    lang = "en" if english() else "zh"
    return {s.name: s.label(lang) for s in get_workflow(workflow).states}


def category_tree() -> list[dict]:
    """Major classes with their active subclasses, in the admin's order, for the picker."""
    rows = db.session.scalars(db.select(Category).where(Category.active.is_(True))
                              .order_by(Category.sort_order, Category.code)).all()
    majors = {c.code: {"code": c.code, "name": c.name_en if english() and c.name_en else c.name_zh,
                       "pinyin": c.pinyin, "children": []} for c in rows if not c.is_leaf}
    for c in rows:
        if c.is_leaf and c.parent_code in majors:
            majors[c.parent_code]["children"].append({
                "code": c.code, "name": c.name_en if english() and c.name_en else c.name_zh,
                "name_zh": c.name_zh, "pinyin": (c.pinyin or "").lower()})
    return [m for m in majors.values() if m["children"]]


def map_parent() -> str:
    """The layer a worker sees: their township's villages and grids (neighbours included)."""
    return current_user.area_code[:9]


@bp.get("/")
def home():
    mine = db.select(Event).where(Event.reporter_id == current_user.id)
    recent = db.session.scalars(mine.order_by(Event.reported_at.desc(), Event.id.desc()).limit(5)).all()
    open_count = db.session.scalar(db.select(db.func.count()).select_from(
        mine.where(Event.state.notin_(("closed", "rejected", "merged"))).subquery()))
    return render_template("mobile/home.html", recent=recent, open_count=open_count, state_label=state_label)


@bp.get("/report")
def report():
    return render_template(
        "mobile/report.html", categories=category_tree(), urgencies=URGENCIES, states=state_labels(),
        tile_url=current_app.config.get("MAP_TILE_URL") or "",
        max_photos=current_app.config.get("MAX_PHOTOS_PER_REPORT", 9),
    )


@bp.get("/areas.geojson")
def areas_geojson():
    response = jsonify(area_layer(map_parent()))
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/events")
def my_events():
    page = page_number(request.args)
    query = db.select(Event).where(Event.reporter_id == current_user.id)
    total = db.session.scalar(db.select(db.func.count()).select_from(query.subquery()))
    events = db.session.scalars(query.order_by(Event.reported_at.desc(), Event.id.desc())
                                .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    names = area_names(code for e in events for code in (e.grid_code, e.village_code))
    return render_template("mobile/events.html", events=events, names=names, page=page, total=total,
                           pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), state_label=state_label)


@bp.get("/events/<int:event_id>")
def event_detail(event_id: int):
    event = load_visible_event(event_id, current_user)
    names = area_names((event.grid_code, event.village_code, event.township_code))
    lang = "en" if english() else "zh"
    workflow = get_workflow(event.workflow or "default")

    def action_label(name: str) -> str:
        if name == "report":
            return "Report" if lang == "en" else "上报"
        return workflow.action(name).label(lang) if workflow.has_action(name) else name

    return render_template("mobile/event.html", event=event, names=names, state_label=state_label,
                           action_label=action_label)
