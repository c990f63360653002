"""What the dispatcher may learn from a photo's EXIF: where (WGS-84, as phones record) and when.

Only these two facts survive intake; the stored public copy carries no metadata at all.
Broken or implausible values are ignored rather than refused: a photo is still evidence without them.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image

GPS = ExifTags.GPS
TAG_DATETIME_ORIGINAL = ExifTags.Base.DateTimeOriginal
TAG_OFFSET_TIME_ORIGINAL = ExifTags.Base.OffsetTimeOriginal
TAG_DATETIME = ExifTags.Base.DateTime

_EXIF_DATETIME = re.compile(r"^\s*(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


def _number(value) -> float:
    """An EXIF rational (IFDRational, tuple or plain number) as a float; NaN on garbage."""
    try:
        if isinstance(value, tuple) and len(value) == 2:
            return value[0] / value[1] if value[1] else math.nan
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return math.nan


def _degrees(dms, ref) -> float | None:
    try:
        parts = [_number(v) for v in dms]
    except TypeError:
        return None
    if not 1 <= len(parts) <= 3 or any(math.isnan(p) or p < 0 for p in parts):
        return None
    parts += [0.0] * (3 - len(parts))
    value = parts[0] + parts[1] / 60 + parts[2] / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    ref = (ref or "").strip().upper()[:1]
    if ref in ("S", "W"):
        value = -value
    elif ref not in ("N", "E"):
        return None
    return round(value, 7)


def gps_point(exif: Image.Exif) -> tuple[float, float] | None:
    """(lon, lat) in decimal degrees, or None when absent, partial or out of range."""
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:  # a corrupt GPS IFD is the same as none
        return None
    if not gps:
        return None
    lat = _degrees(gps.get(GPS.GPSLatitude), gps.get(GPS.GPSLatitudeRef))
    lon = _degrees(gps.get(GPS.GPSLongitude), gps.get(GPS.GPSLongitudeRef))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:  # "null island": a receiver without a fix
        return None
    return lon, lat


def _parse_local(text) -> datetime | None:
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    match = _EXIF_DATETIME.match(text or "")
    if not match:
        return None
    try:
        return datetime(*(int(g) for g in match.groups()))
    except ValueError:  # "0000:00:00 00:00:00" and friends
        return None


def _offset(text) -> timezone | None:
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    match = _OFFSET.match(text or "")
    if not match:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


def _gps_time(gps) -> datetime | None:
    """GPSDateStamp + GPSTimeStamp, which the standard defines as UTC."""
    day = _parse_local(f"{gps.get(GPS.GPSDateStamp, '')} 00:00:00") if gps else None
    stamp = gps.get(GPS.GPSTimeStamp) if gps else None
    if day is None or not stamp or len(stamp) != 3:
        return None
    h, m, s = (_number(v) for v in stamp)
    if any(math.isnan(v) for v in (h, m, s)) or not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 61):
        return None
    return day + timedelta(hours=h, minutes=m, seconds=s)


def taken_at(exif: Image.Exif, local_zone: str) -> datetime | None:
    """When the photo was taken, as naive UTC (the form the database stores).

    DateTimeOriginal is the camera's wall clock; phones add OffsetTimeOriginal. Without an offset the
    clock is taken to be in the county's zone, since that is where grid workers patrol.
    """
    try:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:
        sub = {}
    local = _parse_local(sub.get(TAG_DATETIME_ORIGINAL)) or _parse_local(exif.get(TAG_DATETIME))
    if local is not None:
        zone = _offset(sub.get(TAG_OFFSET_TIME_ORIGINAL)) or ZoneInfo(local_zone)
        return local.replace(tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)
    try:
        return _gps_time(exif.get_ifd(ExifTags.IFD.GPSInfo))
    except Exception:
        return None
