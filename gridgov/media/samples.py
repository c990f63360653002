"""Sample uploads made in memory for tests and demos: good photos and every kind we refuse.

No binary fixtures: each function draws a small picture with Pillow and returns its bytes.
`seed` changes the picture, so different seeds give different content hashes.
"""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import ExifTags, Image, ImageDraw

# A point in the demo county (WGS-84), as a phone would record it.
DEMO_LON, DEMO_LAT = 120.0512345, 30.6234567


def picture(size: tuple[int, int] = (640, 480), seed: int = 0, mode: str = "RGB") -> Image.Image:
    """A deterministic picture with structure (so encoders and thumbnails have work to do)."""
    width, height = size
    image = Image.new("RGB", size, ((seed * 67) % 256, (seed * 131 + 80) % 256, (seed * 29 + 160) % 256))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x0 = (i * 53 + seed * 17) % max(width - 1, 1)
        y0 = (i * 37 + seed * 11) % max(height - 1, 1)
        draw.rectangle([x0, y0, min(width - 1, x0 + width // 4), min(height - 1, y0 + height // 5)],
                       fill=((i * 40 + seed) % 256, (i * 90) % 256, (255 - i * 20) % 256))
    # Mark the top-left corner red, so tests can tell whether orientation was applied.
    draw.rectangle([0, 0, max(width // 8, 1), max(height // 8, 1)], fill=(255, 0, 0))
    return image.convert(mode) if mode != "RGB" else image


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes_full = (value - degrees) * 60
    minutes = int(minutes_full)
    return float(degrees), float(minutes), round((minutes_full - minutes) * 60, 4)


def gps_exif(lon: float = DEMO_LON, lat: float = DEMO_LAT, *, taken: str | None = "2026:03:01 09:30:00",
             offset: str | None = "+08:00", orientation: int | None = None) -> Image.Exif:
    """EXIF as phones write it: GPS IFD in degrees/minutes/seconds, DateTimeOriginal (+ offset)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "gridgov-sample"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if lon is not None and lat is not None:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N" if lat >= 0 else "S",
            ExifTags.GPS.GPSLatitude: _dms(lat),
            ExifTags.GPS.GPSLongitudeRef: "E" if lon >= 0 else "W",
            ExifTags.GPS.GPSLongitude: _dms(lon),
            ExifTags.GPS.GPSMapDatum: "WGS-84",
        }
    sub = {}
    if taken:
        sub[ExifTags.Base.DateTimeOriginal] = taken
    if offset:
        sub[ExifTags.Base.OffsetTimeOriginal] = offset
    if sub:
        exif[ExifTags.IFD.Exif] = sub
    return exif


def jpeg_bytes(size=(640, 480), seed: int = 0, exif: Image.Exif | None = None, quality: int = 90) -> bytes:
    out = io.BytesIO()
    picture(size, seed).save(out, "JPEG", quality=quality, exif=exif.tobytes() if exif else b"")
    return out.getvalue()


def jpeg_with_gps(lon: float = DEMO_LON, lat: float = DEMO_LAT, *, seed: int = 0, size=(640, 480),
                  taken: str | None = "2026:03:01 09:30:00", offset: str | None = "+08:00",
                  orientation: int | None = None) -> bytes:
    return jpeg_bytes(size, seed, gps_exif(lon, lat, taken=taken, offset=offset, orientation=orientation))


def png_bytes(size=(400, 300), seed: int = 1, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    picture(size, seed, mode).save(out, "PNG")
    return out.getvalue()


def webp_bytes(size=(400, 300), seed: int = 2, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    picture(size, seed).save(out, "WEBP", quality=85, exif=exif.tobytes() if exif else b"")
    return out.getvalue()


def heic_bytes(size=(320, 240), seed: int = 3, exif: Image.Exif | None = None) -> bytes | None:
    """None when pillow-heif (and its encoder) is not available."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        out = io.BytesIO()
        picture(size, seed).save(out, "HEIF", quality=80, exif=exif.tobytes() if exif else None)
        return out.getvalue()
    except Exception:
        return None


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny, well-formed PNG declaring a huge canvas: 2.5 gigapixels in a few hundred bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    idat = zlib.compress(row * 4, 9)  # a few rows only; a decoder would ask for the rest
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def truncated_jpeg(keep: float = 0.6) -> bytes:
    data = jpeg_bytes(seed=5)
    return data[: int(len(data) * keep)]


def text_as_jpg() -> bytes:
    """What arrives when someone renames notes.txt to photo.jpg."""
    return "这不是照片 / this is not a photo\n".encode() * 20


def polyglot_jpeg_html() -> bytes:
    """A valid JPEG with an HTML page appended after its end (a classic upload polyglot)."""
    return jpeg_bytes(seed=6) + b"<html><body><script>alert(document.cookie)</script></body></html>"


def polyglot_jpeg_zip() -> bytes:
    """A valid JPEG followed by a ZIP archive (a "GIFAR"-style JPEG+ZIP)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("payload.txt", "not an image")
    return jpeg_bytes(seed=7) + archive.getvalue()


def jpeg_with_script_comment() -> bytes:
    """A valid JPEG whose COM segment holds a script: decoders ignore it, browsers sniffing would not."""
    out = io.BytesIO()
    picture(seed=8).save(out, "JPEG", comment=b"<script>alert(1)</script>")
    return out.getvalue()


def png_with_trailing_html() -> bytes:
    return png_bytes(seed=9) + b"<!DOCTYPE html><p>hi</p>"


def gif_bytes() -> bytes:
    """A real image in a format we do not accept."""
    out = io.BytesIO()
    picture((40, 30), 10).save(out, "GIF")
    return out.getvalue()


# (name, bytes factory, the error code inspect_photo answers) — one row per kind of bad upload.
BAD_UPLOADS = [
    ("notes.jpg", text_as_jpg, "photo_not_image"),
    ("cut.jpg", truncated_jpeg, "photo_corrupt"),
    ("bomb.png", png_bomb, "photo_too_many_pixels"),
    ("page.jpg", polyglot_jpeg_html, "photo_polyglot"),
    ("archive.jpg", polyglot_jpeg_zip, "photo_polyglot"),
    ("comment.jpg", jpeg_with_script_comment, "photo_polyglot"),
    ("trailer.png", png_with_trailing_html, "photo_polyglot"),
    ("anim.gif", gif_bytes, "photo_unsupported_type"),
    ("empty.jpg", lambda: b"", "photo_empty"),
]
