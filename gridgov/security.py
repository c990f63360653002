"""Response headers every page carries: a content security policy the pages pass, no framing, no sniffing.

Scripts come only from our own origin (all JavaScript is in static files; data for scripts travels in
`<script type="application/json">` blocks, which browsers never execute). Styles allow inline
attributes because Leaflet and ECharts position elements with them. Images may be blobs and data URLs
(photo previews before upload) and, when a tile server is configured, tiles from its origin.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response


def content_security_policy(tile_url: str = "") -> str:
    img = ["'self'", "data:", "blob:"]
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "a"))
        if parts.scheme and parts.netloc:
            img.append(f"{parts.scheme}://{parts.netloc.replace('a.', '*.', 1) if '{s}' in tile_url else parts.netloc}")
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src {' '.join(img)}",
        "connect-src 'self'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


_HEADERS = "gridgov_security_headers"


def register(app: Flask) -> None:
    policy = content_security_policy(app.config.get("MAP_TILE_URL", ""))
    app.extensions[_HEADERS] = [("Content-Security-Policy", policy), ("X-Frame-Options", "DENY"),
                                ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
                                ("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()")]
    app.after_request(lambda response: add_headers(app, response))


HSTS = ("Strict-Transport-Security", "max-age=31536000")


def add_headers(app: Flask, response: Response) -> Response:
    """The security headers the response does not set itself. Every answer passes here (Flask's
    after_request, and the report fast path of gridgov/api/report_fastpath.py)."""
    # setdefault for each, with one pass over the response's headers instead of one per header
    # (werkzeug's Headers is a list searched case-insensitively).
    headers = response.headers
    present = {key.lower() for key, _ in headers.items()}
    wanted = app.extensions[_HEADERS]
    if app.config.get("SESSION_COOKIE_SECURE"):
        wanted = wanted + [HSTS]
    headers.extend([(key, value) for key, value in wanted if key.lower() not in present])
    return response
