"""Photo intake: decide from the bytes alone whether an upload is a photo we accept, and prepare
what will be stored — a metadata-free public copy (orientation applied) and a thumbnail — entirely
in memory, so a request with one bad photo among nine writes nothing.

The client's filename and Content-Type are never trusted; they only name the upload in messages.
"""
from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Mapping

import filetype
from PIL import Image, ImageOps

from gridgov.media import containers
from gridgov.media.errors import InvalidPhoto
from gridgov.media.exif import gps_point, taken_at

try:  # HEIC (iPhone default) decodes through libheif when pillow-heif is installed.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is pinned, but intake works without it
    HEIF_SUPPORTED = False

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_PHOTOS = 9
THUMB_LONG_SIDE = 320
THUMB_MIME, THUMB_EXT = "image/webp", "webp"
JPEG_QUALITY = 85
WEBP_QUALITY = 85


@dataclass(frozen=True)
class StoredFormat:
    pillow: str  # the format Pillow must detect
    mime: str  # of the public copy
    ext: str


# Sniffed MIME type (from magic bytes) → the Pillow decoder that must agree, and what we store.
# HEIC is stored as JPEG: browsers do not display HEIC.
ACCEPTED: dict[str, tuple[str, StoredFormat]] = {
    "image/jpeg": ("JPEG", StoredFormat("JPEG", "image/jpeg", "jpg")),
    "image/png": ("PNG", StoredFormat("PNG", "image/png", "png")),
    "image/webp": ("WEBP", StoredFormat("WEBP", "image/webp", "webp")),
}
if HEIF_SUPPORTED:
    _HEIF = ("HEIF", StoredFormat("JPEG", "image/jpeg", "jpg"))
    ACCEPTED.update({"image/heic": _HEIF, "image/heif": _HEIF})

EXT_BY_MIME = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
ACCEPTED_LABEL = "JPEG、PNG、WebP" + ("、HEIC" if HEIF_SUPPORTED else "")
ACCEPTED_LABEL_EN = "JPEG, PNG, WebP" + (", HEIC" if HEIF_SUPPORTED else "")


@dataclass(frozen=True, repr=False)
class PhotoCandidate:
    """A validated photo ready to be stored: nothing of it is on disk yet."""

    filename: str
    source_mime: str
    mime: str
    ext: str
    width: int
    height: int
    sha256: str
    public_bytes: bytes
    thumb_bytes: bytes
    exif_lon: float | None
    exif_lat: float | None
    exif_taken_at: datetime | None

    @property
    def size_bytes(self) -> int:
        return len(self.public_bytes)

    def __repr__(self) -> str:
        return (f"<PhotoCandidate {self.filename!r} {self.mime} {self.width}x{self.height} "
                f"{self.sha256[:12]}>")


def _display_name(filename: str | None) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return (name[:77] + "...") if len(name) > 80 else (name or "photo")


def _refuse(kind: str, name: str, status: int = 400, **fmt: Any) -> InvalidPhoto:
    zh, en = MESSAGES[kind]
    return InvalidPhoto(zh.format(name=name, **fmt), en.format(name=name, **fmt), f"photo_{kind}",
                        status=status, filename=name)


MESSAGES = {
    "empty": ("照片“{name}”是空文件", "The photo “{name}” is empty"),
    "too_large": ("照片“{name}”超过 {limit} 的大小上限", "The photo “{name}” is larger than the {limit} limit"),
    "not_image": ("“{name}”不是图片文件，请上传{accepted}格式的照片",
                  "“{name}” is not an image; upload a {accepted_en} photo"),
    "unsupported_type": ("照片“{name}”的格式（{mime}）不受支持，请上传{accepted}格式的照片",
                         "The photo “{name}” is in an unsupported format ({mime}); upload a {accepted_en} photo"),
    "corrupt": ("照片“{name}”已损坏或不完整，请重新拍摄或上传",
                "The photo “{name}” is damaged or incomplete; take or upload it again"),
    "polyglot": ("照片“{name}”含有图片以外的内容，已拒收", "The photo “{name}” contains data other than an image and was refused"),
    "too_many_pixels": ("照片“{name}”像素过多（上限 {limit} 万像素）",
                        "The photo “{name}” has too many pixels (limit {limit_en} megapixels)"),
    "too_many": ("最多只能上传 {limit} 张照片", "At most {limit} photos can be uploaded"),
}


def _limit_label(n_bytes: int) -> str:
    mb = n_bytes / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 else f"{n_bytes // 1024} KB"


def read_capped(stream: BinaryIO | bytes, cap: int) -> bytes | None:
    """At most cap+1 bytes; None when the upload is larger than `cap`."""
    if isinstance(stream, (bytes, bytearray, memoryview)):
        data = bytes(stream)
        return None if len(data) > cap else data
    chunks, remaining = [], cap + 1
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    data = b"".join(chunks)
    return None if len(data) > cap else data


def inspect_photo(stream: BinaryIO | bytes, filename: str | None, config: Mapping[str, Any]) -> PhotoCandidate:
    """Validate one upload by its content and prepare its public copy and thumbnail.

    Raises InvalidPhoto (400, or 413 for size) with a bilingual message naming the file.
    """
    name = _display_name(filename)
    max_bytes = int(config.get("MAX_PHOTO_BYTES") or DEFAULT_MAX_BYTES)
    max_pixels = int(config.get("MAX_PHOTO_PIXELS") or DEFAULT_MAX_PIXELS)

    data = read_capped(stream, max_bytes)
    if data is None:
        raise _refuse("too_large", name, status=413, limit=_limit_label(max_bytes))
    if not data:
        raise _refuse("empty", name)

    sniffed = filetype.guess(data[:8192])
    sniffed_mime = sniffed.mime if sniffed else None
    if sniffed_mime not in ACCEPTED:
        if sniffed_mime and sniffed_mime.startswith("image/"):
            raise _refuse("unsupported_type", name, mime=sniffed_mime, accepted=ACCEPTED_LABEL,
                          accepted_en=ACCEPTED_LABEL_EN)
        raise _refuse("not_image", name, accepted=ACCEPTED_LABEL, accepted_en=ACCEPTED_LABEL_EN)
    pillow_format, stored = ACCEPTED[sniffed_mime]

    try:
        containers.check_container(pillow_format, data)
    except containers.Polyglot:
        raise _refuse("polyglot", name) from None
    except (containers.Truncated, containers.Malformed):
        raise _refuse("corrupt", name) from None

    image = _decode(data, pillow_format, name, max_pixels)
    try:
        exif = image.getexif()
        point = gps_point(exif)
        when = taken_at(exif, str(config.get("GRIDGOV_TIMEZONE") or "Asia/Shanghai"))
        upright = ImageOps.exif_transpose(image)
        public_bytes = encode_public(upright, stored.pillow)
        thumb_bytes = encode_thumbnail(upright)
        width, height = upright.size
    except (OSError, ValueError, SyntaxError, struct.error) as exc:
        raise _refuse("corrupt", name) from exc
    finally:
        image.close()

    return PhotoCandidate(
        filename=name,
        source_mime=sniffed_mime,
        mime=stored.mime,
        ext=stored.ext,
        width=width,
        height=height,
        sha256=hashlib.sha256(public_bytes).hexdigest(),
        public_bytes=public_bytes,
        thumb_bytes=thumb_bytes,
        exif_lon=point[0] if point else None,
        exif_lat=point[1] if point else None,
        exif_taken_at=when,
    )


def inspect_photos(uploads, config: Mapping[str, Any]) -> list[PhotoCandidate]:
    """Validate every upload of one request before anything is written.

    `uploads` holds werkzeug FileStorage objects or (stream, filename) pairs.
    """
    uploads = [u for u in uploads if not _is_blank(u)]
    limit = int(config.get("MAX_PHOTOS_PER_REPORT") or DEFAULT_MAX_PHOTOS)
    if len(uploads) > limit:
        raise _refuse("too_many", "", limit=limit)
    candidates = []
    for upload in uploads:
        stream, filename = (upload if isinstance(upload, tuple) else (upload.stream, upload.filename))
        candidates.append(inspect_photo(stream, filename, config))
    return candidates


def _is_blank(upload) -> bool:
    # Browsers send an empty part with no filename for a file input left empty.
    return not isinstance(upload, tuple) and not getattr(upload, "filename", None)


def _decode(data: bytes, pillow_format: str, name: str, max_pixels: int) -> Image.Image:
    """Open with the one decoder the sniffed type names, check the pixel budget, decode fully."""
    try:
        # Image.open reads only the header; Pillow itself raises DecompressionBombError past twice
        # its global limit, and the configured cap below is checked before any pixel is decoded.
        with Image.open(io.BytesIO(data), formats=[pillow_format]) as probe:
            _check_pixels(probe, name, max_pixels)
            probe.verify()
        image = Image.open(io.BytesIO(data), formats=[pillow_format])  # verify() spends the first
        _check_pixels(image, name, max_pixels)
        image.load()  # a truncated or corrupt scan fails here (LOAD_TRUNCATED_IMAGES stays off)
        return image
    except InvalidPhoto:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse("too_many_pixels", name, **_pixel_limit(max_pixels)) from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, MemoryError) as exc:
        raise _refuse("corrupt", name) from exc


def _pixel_limit(max_pixels: int) -> dict:
    return {"limit": f"{max_pixels / 10_000:g}", "limit_en": f"{max_pixels / 1_000_000:g}"}


def _check_pixels(image: Image.Image, name: str, max_pixels: int) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise _refuse("corrupt", name)
    if width * height > max_pixels:
        raise _refuse("too_many_pixels", name, **_pixel_limit(max_pixels))


def _flatten(image: Image.Image, keep_alpha: bool) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha and keep_alpha:
        return image.convert("RGBA")
    if has_alpha:  # JPEG has no alpha: put transparent parts on white, not on black
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def encode_public(image: Image.Image, pillow_format: str) -> bytes:
    """Re-encode without any metadata (EXIF, XMP, text chunks, comments); keep the colour profile.

    Re-encoding, rather than deleting the GPS IFD, also drops whatever a decoder would skip:
    maker notes, embedded thumbnails that still show the unredacted scene, appended payloads.
    Pillow writes metadata only when asked, except a JPEG comment, hence `comment=b""`.
    """
    icc = image.info.get("icc_profile")
    out = io.BytesIO()
    if pillow_format == "JPEG":
        _flatten(image, keep_alpha=False).save(
            out, "JPEG", quality=JPEG_QUALITY, optimize=True, icc_profile=icc, exif=b"", comment=b"")
    elif pillow_format == "PNG":
        keep_mode = image.mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16")
        (image if keep_mode else _flatten(image, keep_alpha=True)).save(out, "PNG", icc_profile=icc)
    else:
        _flatten(image, keep_alpha=True).save(
            out, "WEBP", quality=WEBP_QUALITY, method=4, icc_profile=icc, exif=b"", xmp="")
    return out.getvalue()


def encode_thumbnail(image: Image.Image) -> bytes:
    thumb = _flatten(image, keep_alpha=True)
    if thumb is image:
        thumb = image.copy()  # thumbnail() works in place
    thumb.thumbnail((THUMB_LONG_SIDE, THUMB_LONG_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=75, method=4, exif=b"", xmp="")
    return out.getvalue()
