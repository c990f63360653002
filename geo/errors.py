"""Geometry errors that carry a message a person understands, in Chinese and in English."""
from __future__ import annotations


class GeoError(Exception):
    """Base of every error raised by geo/; the web layer turns it into a status and a bilingual message."""

    code = "geo_error"

    def __init__(self, message_zh: str, message_en: str, **details):
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details or None


class InvalidCoordinate(GeoError):
    code = "invalid_coordinate"


class UnknownCRS(GeoError):
    code = "unknown_crs"


class InvalidGeometry(GeoError):
    code = "invalid_geometry"
