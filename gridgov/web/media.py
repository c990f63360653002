"""Serving stored photos to people who may see the event they belong to."""
from __future__ import annotations

from flask import Blueprint, abort, send_file
from flask_login import current_user, login_required

from gridgov.access import can_see
from gridgov.extensions import db
from gridgov.models import Photo
from gridgov.services.photos import photo_path

bp = Blueprint("media", __name__, url_prefix="/media")


def _serve(sha: str, thumb: bool):
    if len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
        abort(404)
    photos = db.session.scalars(db.select(Photo).where(Photo.sha256 == sha)).all()
    if not any(can_see(current_user, p.event) for p in photos):
        abort(404)  # absent and forbidden look the same
    path = photo_path(photos[0], thumb=thumb)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", max_age=31536000, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    return response


@bp.route("/<sha>.jpg")
@login_required
def photo(sha: str):
    return _serve(sha, thumb=False)


@bp.route("/thumb/<sha>.jpg")
@login_required
def thumb(sha: str):
    return _serve(sha, thumb=True)
