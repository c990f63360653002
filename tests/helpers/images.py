"""Images made in memory for tests: no binary fixtures."""
from __future__ import annotations

import io

from PIL import Image
from werkzeug.datastructures import FileStorage


def jpeg_bytes(color=(200, 80, 40), size=(64, 48), gps: tuple[float, float] | None = None) -> bytes:
    image = Image.new("RGB", size, color)
    buffer = io.BytesIO()
    exif = Image.Exif()
    if gps is not None:
        lon, lat = gps

        def dms(value):
            degrees = int(value)
            minutes = int((value - degrees) * 60)
            seconds = ((value - degrees) * 60 - minutes) * 60
            return (float(degrees), float(minutes), round(seconds, 4))

        exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon)}
        exif[306] = "2026:11:20 09:15:00"
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def png_bytes(size=(32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 0, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type=content_type)


def candidates(app, *datas):
    from gridgov.services.photos import inspect_photo

    return [inspect_photo(io.BytesIO(d), f"p{i}.jpg") for i, d in enumerate(datas or [jpeg_bytes()])]
