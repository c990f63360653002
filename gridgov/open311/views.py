"""Open311 GeoReport v2 at /open311/v2/: discovery, services, service definitions, requests (GET, POST).

Citizens' requests arrive through third-party apps with an API key (config OPEN311_API_KEYS) and
become events with source 'open311' and no reporter; reading is public. Every resource answers in
JSON or XML by its suffix, errors included, in the spec's `[{"code", "description"}]` shape.
"""
from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from flask import Blueprint, current_app, request, url_for
from werkzeug.exceptions import HTTPException

from gridgov.errors import HTTP_MESSAGES, AppError, answer_unrouted_under
from gridgov.extensions import db
from gridgov.media.intake import EXT_BY_MIME
from gridgov.media.storage import SHA256_RE, public_path, upload_root
from gridgov.media.views import send_photo_file
from gridgov.models import Category, Event, Photo
from gridgov.open311 import documents
from gridgov.open311.formats import FORMATS, errors, render
from gridgov.services.reporting import report_event
from gridgov.timeutil import EARLIEST_DAY, LATEST_DAY, to_naive_utc, utcnow

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

DEFAULT_DAYS = 90
MAX_REQUESTS = 1000
SPEC_URL = "http://wiki.open311.org/GeoReport_v2"


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise AppError("不支持的格式", f"Unsupported format '{fmt}'; use .json or .xml", status=404, code="format")
    return fmt


def _error_format() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


@bp.errorhandler(AppError)
def _app_error(exc: AppError):
    db.session.rollback()
    return errors(_error_format(), exc.status, f"{exc.message_en} ({exc.message_zh})")


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    zh, en = HTTP_MESSAGES.get(exc.code or 500, (exc.name, exc.name))
    return errors(_error_format(), exc.code or 500, f"{en} ({zh})")


@bp.record_once
def _speak_the_spec_for_unrouted_urls(state) -> None:
    # /open311/v2/requests. or /open311/v2/services/a/b.json match no route: the app answers those, in the
    # spec's format too, so a client's parser meets one error shape under /open311/.
    answer_unrouted_under(state.app, "/open311/", _http_error)


@bp.errorhandler(Exception)
def _domain_error(exc: Exception):
    from gridgov.errors import status_for

    db.session.rollback()
    status = status_for(exc)
    if status is None or not hasattr(exc, "message_en"):
        current_app.logger.exception("open311 error")
        return errors(_error_format(), 500, "Internal error; it has been logged")
    return errors(_error_format(), status, f"{exc.message_en} ({exc.message_zh})")


@bp.get("/discovery.<fmt>")
def discovery(fmt: str):
    fmt = _fmt(fmt)
    body = {
        "changeset": w3c_now(),
        "contact": current_app.config.get("OPEN311_CONTACT") or "",
        "key_service": current_app.config.get("OPEN311_KEY_SERVICE") or "",
        "endpoints": [{
            "specification": SPEC_URL, "url": url_for("open311.services_list", fmt="json", _external=True)
            .rsplit("/", 1)[0], "changeset": w3c_now(), "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    }
    return render(fmt, body, root="discovery", item_tags={"endpoints": "endpoint", "formats": "format"})


def w3c_now() -> str:
    return documents.w3c_datetime(utcnow())


@bp.get("/services.<fmt>")
def services_list(fmt: str):
    fmt = _fmt(fmt)
    return render(fmt, documents.services(), root="services", item="service")


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    fmt = _fmt(fmt)
    category = db.session.get(Category, code)
    if category is None or not category.active or not category.is_leaf:
        raise AppError("未知的服务代码", f"Unknown service_code '{code}'", status=404, code="not_found")
    return render(fmt, {"service_code": category.code, "attributes": []}, root="service_definition",
                  item_tags={"attributes": "attribute"})


def _parse_time(name: str) -> datetime | None:
    """A filter's date-time; days outside EARLIEST_DAY…LATEST_DAY are refused, as everywhere: year 1 or 9999
    overflowed `datetime` on the way to UTC or 90 days back from the end (a 500)."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "+"))  # '+' arrives as a space when unescaped
    except ValueError:
        raise AppError(f"{name} 格式不正确", f"{name} must be an ISO 8601 date-time, e.g. 2026-01-05T08:00:00+08:00",
                       status=400, code="bad_date") from None
    if not EARLIEST_DAY <= value.date() <= LATEST_DAY:
        raise AppError(f"{name} 应在 {EARLIEST_DAY} 至 {LATEST_DAY} 之间",
                       f"{name} must lie between {EARLIEST_DAY} and {LATEST_DAY}", status=400, code="bad_date")
    return to_naive_utc(value) if value.tzinfo else value


def _published():
    """Events the public may read. Disputes, public-security tips and petitions name people and
    places; they can be filed through Open311 but are never listed back (OPEN311_PRIVATE_CLASSES)."""
    private = current_app.config.get("OPEN311_PRIVATE_CLASSES") or ()
    return db.and_(*[Event.category_code.notlike(f"{major}%") for major in private])


@bp.get("/requests.<fmt>")
def requests_list(fmt: str):
    fmt = _fmt(fmt)
    query = db.select(Event).where(_published())
    ids = [i.strip() for i in request.args.get("service_request_id", "").split(",") if i.strip()]
    if ids:  # the spec: a list of ids overrides every other filter
        query = query.where(Event.number.in_(ids[:MAX_REQUESTS]))
    else:
        start, end = _parse_time("start_date"), _parse_time("end_date")
        if start is None and end is None:
            end = utcnow()
        if start is None:
            start = end - timedelta(days=DEFAULT_DAYS)
        query = query.where(Event.reported_at >= start)
        if end is not None:
            query = query.where(Event.reported_at <= end)
        codes = [c.strip() for c in request.args.get("service_code", "").split(",") if c.strip()]
        if codes:
            query = query.where(Event.category_code.in_(codes))
        statuses = {s.strip().lower() for s in request.args.get("status", "").split(",") if s.strip()}
        if statuses - {"open", "closed"}:
            raise AppError("status 只能是 open 或 closed", "status must be open or closed", status=400, code="bad_status")
        if statuses == {"open"}:
            query = query.where(Event.state.notin_(documents.CLOSED_STATES))
        elif statuses == {"closed"}:
            query = query.where(Event.state.in_(documents.CLOSED_STATES))
    events = db.session.scalars(query.order_by(Event.reported_at.desc(), Event.id.desc()).limit(MAX_REQUESTS)).all()
    return render(fmt, documents.service_requests(events), root="service_requests", item="request")


@bp.get("/requests/<number>.<fmt>")
def request_detail(number: str, fmt: str):
    fmt = _fmt(fmt)
    event = db.session.scalar(db.select(Event).where(Event.number == number, _published()))
    if event is None:
        raise AppError("找不到该请求", f"Service request '{number}' not found", status=404, code="not_found")
    return render(fmt, documents.service_requests([event]), root="service_requests", item="request")


@bp.get("/media/<sha256>.<ext>")
def media(sha256: str, ext: str):
    """A photo of a published request, for the `media_url` the documents give: public like the request
    itself (the stored copy carries no EXIF). Photos of unpublished classes stay behind the login."""
    if not SHA256_RE.match(sha256):
        raise AppError("找不到该图片", "Media not found", status=404, code="not_found")
    photos = db.session.scalars(db.select(Photo).join(Event, Photo.event_id == Event.id)
                                .where(Photo.sha256 == sha256, _published())).all()
    photo = next((p for p in photos if EXT_BY_MIME.get(p.mime) == ext), None)
    if photo is None:
        raise AppError("找不到该图片", "Media not found", status=404, code="not_found")
    return send_photo_file(public_path(upload_root(), sha256, ext), photo.mime, sha256, shared_cache=True)


def _check_api_key() -> None:
    given = (request.values.get("api_key") or "").strip()
    keys = [k for k in current_app.config.get("OPEN311_API_KEYS") or [] if k]
    if not given:
        raise AppError("缺少 api_key", "api_key is required", status=400, code="api_key")
    if not any(hmac.compare_digest(given.encode(), k.encode()) for k in keys):
        raise AppError("api_key 无效", "api_key is not valid", status=403, code="api_key")


def _float(name: str) -> float | None:
    raw = (request.values.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise AppError(f"{name} 必须是数字", f"{name} must be a number", status=400, code="bad_coordinate") from None


@bp.post("/requests.<fmt>")
def create_request(fmt: str):
    fmt = _fmt(fmt)
    _check_api_key()
    values = request.values
    code = (values.get("service_code") or "").strip()
    if not code:
        raise AppError("缺少 service_code", "service_code is required", status=400, code="service_code")
    lat, lon = _float("lat"), _float("long")
    address = (values.get("address_string") or "").strip()
    if (lat is None) != (lon is None):
        raise AppError("lat 与 long 须同时提供", "lat and long must be given together", status=400, code="location")
    if lat is None and not address:
        raise AppError("须提供 lat/long 或 address_string", "lat/long or address_string is required", status=400,
                       code="location")
    name = " ".join(p for p in ((values.get("last_name") or "").strip(), (values.get("first_name") or "").strip()) if p)
    phone = (values.get("phone") or "").strip() or None
    email = (values.get("email") or "").strip()
    if email and len(name) + len(email) + 3 <= 100:  # private like the phone: masked in lists
        name = f"{name} <{email}>".strip()
    category = db.session.get(Category, code)
    # The spec makes description optional; an event needs one, so the service's name stands in.
    description = (values.get("description") or "").strip() or (category.name_zh if category else "")
    try:
        result = report_event(
            user=None, category=code, description=description, lon=lon, lat=lat, crs="wgs84",
            address=address[:300], source="open311", caller_name=name[:100] or None, caller_phone=phone[:32] if phone else None,
            client_uuid=None,
        )
    except AppError as exc:
        # The spec speaks 400 for any invalid request; keep the reason.
        raise AppError(exc.message_zh, exc.message_en, status=400 if exc.status == 422 else exc.status,
                       code=exc.code) from None
    body = [{"service_request_id": result.event.number, "service_notice": documents.service_notice(result.event),
             "account_id": None}]
    return render(fmt, body, root="service_requests", item="request", status=201)
