"""Photos on events: check what was uploaded, store it content-addressed, and undo on failure.

Every photo of a request is checked before any is written, so a rejected request stores nothing; if
the database transaction fails after the files were written, files no row references are removed.
The real type comes from the decoded content (Pillow), never from the name or the Content-Type.
The stored copy is re-encoded without EXIF (so no GPS leaks to the public), the GPS point and time are
kept on the row for the dispatcher.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from gridgov.errors import AppError
from gridgov.extensions import db
from gridgov.models import Photo

try:  # HEIC from iPhones, when the optional decoder is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC = True
except ImportError:  # pragma: no cover - depends on the installation
    HEIC = False

ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic", "MPO": "image/jpeg"}
THUMB_SIZE = (320, 320)
MAX_PHOTOS = 9


class InvalidPhoto(AppError):
    status, code = 400, "invalid_photo"


@dataclass
class PhotoCandidate:
    """A checked upload, in memory: the public bytes to store and what the row needs."""

    data: bytes
    thumb: bytes
    mime: str
    ext: str
    width: int
    height: int
    exif_lon: float | None
    exif_lat: float | None
    exif_taken_at: datetime | None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _rational(value) -> float:
    return float(value[0]) / float(value[1]) if isinstance(value, tuple) else float(value)


def _exif_point(exif) -> tuple[float | None, float | None, datetime | None]:
    lon = lat = taken = None
    try:
        gps = exif.get_ifd(0x8825)
        if gps and 2 in gps and 4 in gps:
            lat = sum(_rational(v) / 60 ** i for i, v in enumerate(gps[2]))
            lon = sum(_rational(v) / 60 ** i for i, v in enumerate(gps[4]))
            if gps.get(1) in ("S", b"S"):
                lat = -lat
            if gps.get(3) in ("W", b"W"):
                lon = -lon
        raw = exif.get_ifd(0x8769).get(36867) or exif.get(306)
        if raw:
            taken = datetime.strptime(str(raw).strip("\x00"), "%Y:%m:%d %H:%M:%S")
    except Exception:  # malformed EXIF must not sink a good photo
        pass
    return lon, lat, taken


def inspect_photo(stream, filename: str = "") -> PhotoCandidate:
    config = current_app.config
    cap = config["MAX_PHOTO_BYTES"]
    raw = stream.read(cap + 1)
    name = filename or "photo"
    if len(raw) > cap:
        raise InvalidPhoto(f"照片 {name} 超过 {cap // (1024 * 1024)} MB", f"Photo {name} is larger than {cap // (1024 * 1024)} MB",
                           status=413, code="photo_too_large")
    if not raw:
        raise InvalidPhoto(f"照片 {name} 是空文件", f"Photo {name} is empty")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw)) as probe:
                fmt = probe.format
                if probe.width * probe.height > config["MAX_PHOTO_PIXELS"]:
                    raise InvalidPhoto(f"照片 {name} 像素过多", f"Photo {name} has too many pixels",
                                       code="photo_too_many_pixels")
                probe.verify()
            image = Image.open(io.BytesIO(raw))
            image.load()
        except InvalidPhoto:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InvalidPhoto(f"照片 {name} 像素过多", f"Photo {name} has too many pixels", code="photo_too_many_pixels")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise InvalidPhoto(f"{name} 不是有效的图片或已损坏", f"{name} is not a valid image or is damaged",
                               code="photo_not_image") from None
    if fmt not in ACCEPTED:
        raise InvalidPhoto(f"不支持的图片格式 {fmt}（支持 JPEG、PNG、WebP{'、HEIC' if HEIC else ''}）",
                           f"Unsupported image format {fmt} (JPEG, PNG, WebP{', HEIC' if HEIC else ''})",
                           code="photo_format")
    lon, lat, taken = _exif_point(image.getexif())
    upright = ImageOps.exif_transpose(image)
    if upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    public = io.BytesIO()
    upright.save(public, "JPEG", quality=85, optimize=True)  # re-encoded: no EXIF, no GPS
    thumb_image = upright.copy()
    thumb_image.thumbnail(THUMB_SIZE)
    thumb = io.BytesIO()
    thumb_image.save(thumb, "JPEG", quality=75)
    return PhotoCandidate(public.getvalue(), thumb.getvalue(), "image/jpeg", "jpg", upright.width, upright.height,
                          lon, lat, taken)


def inspect_uploads(files) -> list[PhotoCandidate]:
    files = [f for f in files if f and getattr(f, "filename", None) is not None]
    if len(files) > MAX_PHOTOS:
        raise InvalidPhoto(f"最多上传 {MAX_PHOTOS} 张照片", f"At most {MAX_PHOTOS} photos")
    return [inspect_photo(f.stream, f.filename) for f in files]


def _path(sha: str, ext: str, thumb: bool = False) -> Path:
    root = Path(current_app.config["UPLOAD_DIR"]) / ("thumbs" if thumb else "photos")
    return root / sha[:2] / sha[2:4] / f"{sha}.{ext}"


def photo_path(photo: Photo, thumb: bool = False) -> Path:
    return _path(photo.sha256, "jpg", thumb)


def _write_once(path: Path, data: bytes) -> bool:
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # atomic: readers never see half a file
    return True


def attach_photos(event, candidates, *, kind: str, user=None, task=None) -> list[Photo]:
    rows = []
    for c in candidates:
        _write_once(_path(c.sha256, c.ext), c.data)
        _write_once(_path(c.sha256, c.ext, thumb=True), c.thumb)
        row = Photo(event_id=event.id, task_id=task.id if task is not None else None, kind=kind, sha256=c.sha256,
                    mime=c.mime, width=c.width, height=c.height, size_bytes=len(c.data), exif_lon=c.exif_lon,
                    exif_lat=c.exif_lat, exif_taken_at=c.exif_taken_at,
                    uploaded_by=getattr(user, "id", None))
        db.session.add(row)
        rows.append(row)
    return rows


def discard_unreferenced(rows) -> None:
    """After a rolled-back transaction: remove files that no committed Photo row refers to."""
    for row in rows:
        sha = row.sha256
        if db.session.scalar(db.select(Photo.id).where(Photo.sha256 == sha).limit(1)) is None:
            for thumb in (False, True):
                _path(sha, "jpg", thumb).unlink(missing_ok=True)
