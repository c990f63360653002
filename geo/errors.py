"""Geometry errors with messages a person understands, in Chinese and English."""
from __future__ import annotations


class GeoError(Exception):
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
