"""Photo intake without a database: what is accepted, what is refused and why, what is kept."""
from __future__ import annotations

import io
from datetime import datetime

import pytest
from PIL import ExifTags, Image

from gridgov.errors import AppError
from gridgov.media import InvalidPhoto, inspect_photo, inspect_photos
from gridgov.media import samples
from gridgov.media.containers import Polyglot, Truncated, check_jpeg
from gridgov.media.intake import HEIF_SUPPORTED, THUMB_LONG_SIDE

CONFIG = {"MAX_PHOTO_BYTES": 10 * 1024 * 1024, "MAX_PHOTO_PIXELS": 40_000_000, "GRIDGOV_TIMEZONE": "Asia/Shanghai"}


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("filename, make, code", samples.BAD_UPLOADS, ids=[row[0] for row in samples.BAD_UPLOADS])
def test_each_bad_upload_is_refused_with_its_code_and_a_bilingual_message(filename, make, code):
    with pytest.raises(InvalidPhoto) as caught:
        inspect_photo(make(), filename, CONFIG)
    error = caught.value
    assert isinstance(error, AppError)
    assert error.code == code
    assert error.status == 400
    assert filename in error.message_zh and filename in error.message_en
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error.message_zh)  # Chinese
    assert error.message_en.isascii() or "“" in error.message_en
    assert error.details == {"filename": filename}


def test_oversized_photo_is_refused_with_413_after_reading_at_most_cap_plus_one_bytes():
    class CountingStream(io.BytesIO):
        read_total = 0

        def read(self, n=-1):
            chunk = super().read(n)
            self.read_total += len(chunk)
            return chunk

    data = samples.jpeg_bytes(size=(800, 600))
    cap = len(data) - 100
    stream = CountingStream(data + b"\x00" * 1_000_000)
    with pytest.raises(InvalidPhoto) as caught:
        inspect_photo(stream, "big.jpg", {**CONFIG, "MAX_PHOTO_BYTES": cap})
    assert caught.value.status == 413
    assert caught.value.code == "photo_too_large"
    assert stream.read_total == cap + 1
    assert "上限" in caught.value.message_zh and "limit" in caught.value.message_en


def test_photo_exactly_at_the_size_cap_is_accepted():
    data = samples.jpeg_bytes()
    assert inspect_photo(io.BytesIO(data), "a.jpg", {**CONFIG, "MAX_PHOTO_BYTES": len(data)}).width == 640


def test_pixel_cap_comes_from_config_and_is_checked_before_decoding():
    data = samples.png_bytes(size=(400, 300))
    with pytest.raises(InvalidPhoto) as caught:
        inspect_photo(data, "wide.png", {**CONFIG, "MAX_PHOTO_PIXELS": 400 * 300 - 1})
    assert caught.value.code == "photo_too_many_pixels"
    assert inspect_photo(data, "wide.png", {**CONFIG, "MAX_PHOTO_PIXELS": 400 * 300}).height == 300


def test_decompression_bomb_is_tiny_on_disk():
    bomb = samples.png_bomb()
    assert len(bomb) < 20_000
    with pytest.raises(InvalidPhoto, match="too many pixels"):
        inspect_photo(bomb, "bomb.png", {**CONFIG, "MAX_PHOTO_PIXELS": 10**12})  # Pillow's own guard


@pytest.mark.parametrize("make, mime, ext", [
    (samples.jpeg_with_gps, "image/jpeg", "jpg"),
    (samples.png_bytes, "image/png", "png"),
    (samples.webp_bytes, "image/webp", "webp"),
])
def test_good_photos_are_accepted_whatever_the_filename_says(make, mime, ext):
    candidate = inspect_photo(make(), "IMG_0001.txt", CONFIG)
    assert (candidate.mime, candidate.ext) == (mime, ext)
    assert opened(candidate.public_bytes).format == {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[ext]
    assert candidate.size_bytes == len(candidate.public_bytes)
    assert len(candidate.sha256) == 64


@pytest.mark.skipif(not HEIF_SUPPORTED or samples.heic_bytes() is None, reason="pillow-heif without an encoder")
def test_heic_is_accepted_and_stored_as_jpeg_with_its_gps_read():
    candidate = inspect_photo(samples.heic_bytes(exif=samples.gps_exif()), "IMG_0002.HEIC", CONFIG)
    assert candidate.source_mime in ("image/heic", "image/heif")
    assert candidate.mime == "image/jpeg" and opened(candidate.public_bytes).format == "JPEG"
    assert candidate.exif_lat == pytest.approx(samples.DEMO_LAT, abs=1e-6)


def test_exif_gps_and_time_are_read_in_wgs84_degrees_and_utc():
    candidate = inspect_photo(samples.jpeg_with_gps(120.5, 30.25), "a.jpg", CONFIG)
    assert candidate.exif_lon == pytest.approx(120.5, abs=1e-6)
    assert candidate.exif_lat == pytest.approx(30.25, abs=1e-6)
    assert candidate.exif_taken_at == datetime(2026, 3, 1, 1, 30)  # 09:30 at +08:00


def test_southern_and_western_hemispheres_are_negative():
    candidate = inspect_photo(samples.jpeg_with_gps(-43.2, -22.9), "rio.jpg", CONFIG)
    assert (candidate.exif_lon, candidate.exif_lat) == (pytest.approx(-43.2, abs=1e-6), pytest.approx(-22.9, abs=1e-6))


def test_time_without_an_offset_is_taken_as_the_county_zone():
    candidate = inspect_photo(samples.jpeg_with_gps(offset=None), "a.jpg", CONFIG)
    assert candidate.exif_taken_at == datetime(2026, 3, 1, 1, 30)
    utc_config = {**CONFIG, "GRIDGOV_TIMEZONE": "UTC"}
    assert inspect_photo(samples.jpeg_with_gps(offset=None), "a.jpg", utc_config).exif_taken_at == datetime(2026, 3, 1, 9, 30)


def test_photo_without_exif_has_no_point_or_time():
    candidate = inspect_photo(samples.jpeg_bytes(), "a.jpg", CONFIG)
    assert (candidate.exif_lon, candidate.exif_lat, candidate.exif_taken_at) == (None, None, None)


def test_garbage_exif_values_are_ignored_not_fatal():
    data = samples.jpeg_with_gps(taken="0000:00:00 00:00:00", offset="later")
    exif = samples.gps_exif(0.0, 0.0)  # "null island": no fix
    candidate = inspect_photo(data, "a.jpg", CONFIG)
    assert candidate.exif_taken_at is None and candidate.exif_lat is not None
    assert inspect_photo(samples.jpeg_bytes(exif=exif), "b.jpg", CONFIG).exif_lon is None


@pytest.mark.parametrize("make", [samples.jpeg_with_gps, lambda: samples.webp_bytes(exif=samples.gps_exif())])
def test_public_copy_and_thumbnail_carry_no_metadata(make):
    original = make()
    assert opened(original).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the sample does have GPS
    candidate = inspect_photo(original, "a.jpg", CONFIG)
    for data in (candidate.public_bytes, candidate.thumb_bytes):
        image = opened(data)
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert len(image.getexif()) == 0
        assert b"Exif" not in data and b"gridgov-sample" not in data


def test_orientation_is_applied_to_the_public_copy():
    # Orientation 6 means "rotate 90° clockwise to display": the red top-left corner goes top-right.
    candidate = inspect_photo(samples.jpeg_with_gps(orientation=6, size=(640, 480)), "a.jpg", CONFIG)
    assert (candidate.width, candidate.height) == (480, 640)
    image = opened(candidate.public_bytes)
    red, _, blue = image.getpixel((image.width - 5, 5))
    assert red > 200 and blue < 60


def test_thumbnail_is_webp_with_a_320_pixel_long_side():
    candidate = inspect_photo(samples.jpeg_bytes(size=(1200, 900)), "a.jpg", CONFIG)
    thumb = opened(candidate.thumb_bytes)
    assert thumb.format == "WEBP"
    assert max(thumb.size) == THUMB_LONG_SIDE and thumb.size == (320, 240)


def test_small_photo_thumbnail_is_not_enlarged():
    thumb = opened(inspect_photo(samples.png_bytes(size=(100, 50)), "a.png", CONFIG).thumb_bytes)
    assert thumb.size == (100, 50)


def test_same_content_gives_the_same_hash_and_different_content_does_not():
    a1 = inspect_photo(samples.jpeg_with_gps(seed=1), "a.jpg", CONFIG)
    a2 = inspect_photo(samples.jpeg_with_gps(seed=1), "other-name.jpg", CONFIG)
    b = inspect_photo(samples.jpeg_with_gps(seed=2), "a.jpg", CONFIG)
    assert a1.sha256 == a2.sha256 != b.sha256


def test_png_transparency_survives_re_encoding():
    candidate = inspect_photo(samples.png_bytes(mode="RGBA"), "a.png", CONFIG)
    assert opened(candidate.public_bytes).mode == "RGBA"


def test_multi_picture_jpeg_from_a_phone_is_accepted():
    out = io.BytesIO()
    samples.picture(seed=1).save(out, "MPO", save_all=True, append_images=[samples.picture(seed=2)])
    candidate = inspect_photo(out.getvalue(), "portrait.jpg", CONFIG)
    assert candidate.mime == "image/jpeg" and b"MPF" not in candidate.public_bytes


def test_jpeg_walk_finds_truncation_and_trailers():
    good = samples.jpeg_bytes()
    check_jpeg(good)
    check_jpeg(good + b"\x00" * 64)  # padding is harmless
    with pytest.raises(Truncated):
        check_jpeg(good[:-2])
    with pytest.raises(Polyglot):
        check_jpeg(good + b"PK\x03\x04junk")


def test_request_with_one_bad_photo_among_good_ones_is_refused_as_a_whole():
    uploads = [(io.BytesIO(samples.jpeg_bytes(seed=i)), f"{i}.jpg") for i in range(3)]
    uploads.insert(1, (io.BytesIO(samples.text_as_jpg()), "notes.jpg"))
    with pytest.raises(InvalidPhoto) as caught:
        inspect_photos(uploads, CONFIG)
    assert caught.value.details["filename"] == "notes.jpg"


def test_more_photos_than_allowed_are_refused():
    uploads = [(io.BytesIO(samples.jpeg_bytes()), "a.jpg")] * 3
    with pytest.raises(InvalidPhoto) as caught:
        inspect_photos(uploads, {**CONFIG, "MAX_PHOTOS_PER_REPORT": 2})
    assert caught.value.code == "photo_too_many"
    assert "2" in caught.value.message_zh


def test_client_path_in_the_filename_is_reduced_to_its_last_part():
    with pytest.raises(InvalidPhoto) as caught:
        inspect_photo(samples.text_as_jpg(), "C:\\Users\\wang\\x.jpg", CONFIG)
    assert caught.value.details["filename"] == "x.jpg"
