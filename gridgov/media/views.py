"""GET /media/<sha>.<ext> and /media/thumb/<sha>.webp: photo files for people who may see the event.

A file is served when at least one Photo row with that content belongs to an event the user can
see (the same bytes may be attached to several events). Anything else is a 404, so the route
does not reveal which photos exist. Names are content hashes, hence cacheable forever — but only
privately, since access depends on who asks.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from gridgov.access import can_see
from gridgov.extensions import db
from gridgov.media.intake import EXT_BY_MIME, THUMB_EXT, THUMB_MIME
from gridgov.media.storage import SHA256_RE, public_path, thumb_path, upload_root
from gridgov.models import Photo

bp = Blueprint("media", __name__, url_prefix="/media")

ONE_YEAR = 365 * 24 * 3600


def _visible(sha256: str, ext: str | None) -> Photo | None:
    if not SHA256_RE.match(sha256):
        return None
    for photo in db.session.scalars(select(Photo).where(Photo.sha256 == sha256).order_by(Photo.id)):
        if (ext is None or EXT_BY_MIME.get(photo.mime) == ext) and can_see(current_user, photo.event):
            return photo
    return None


def send_photo_file(path, mimetype: str, etag: str, *, shared_cache: bool = False):
    """The stored copy (no metadata) with safe headers; `shared_cache` only for photos anybody may see."""
    if not path.is_file():
        current_app.logger.warning("photo file missing: %s", path)
        abort(404)
    response = send_file(path, mimetype=mimetype, conditional=True, etag=etag, max_age=ONE_YEAR)
    response.cache_control.public = shared_cache
    response.cache_control.private = not shared_cache
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Content-Disposition"] = "inline"
    if not shared_cache:
        response.vary.add("Cookie")
    return response


@bp.get("/<sha256>.<ext>")
@login_required
def public(sha256: str, ext: str):
    photo = _visible(sha256, ext)
    if photo is None:
        abort(404)
    return send_photo_file(public_path(upload_root(), sha256, ext), photo.mime, sha256)


@bp.get("/thumb/<sha256>.<ext>")
@login_required
def thumb(sha256: str, ext: str):
    if ext != THUMB_EXT or _visible(sha256, None) is None:
        abort(404)
    return send_photo_file(thumb_path(upload_root(), sha256), THUMB_MIME, f"thumb-{sha256}")


def photo_url(photo: Photo) -> str:
    return url_for("media.public", sha256=photo.sha256, ext=EXT_BY_MIME[photo.mime])


def thumb_url(photo: Photo) -> str:
    return url_for("media.thumb", sha256=photo.sha256, ext=THUMB_EXT)
