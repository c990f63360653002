"""Likely duplicates (网格事件只报一次): open events of the same category, close by, recently reported."""
from __future__ import annotations

import math
from datetime import timedelta

from flask import current_app

from gridgov.extensions import db
from gridgov.models import Event
from gridgov.models.events import OPEN_STATES

METRES_PER_DEGREE = 111_320.0


def likely_duplicates(event: Event, limit: int = 10) -> list[Event]:
    radius = current_app.config["DUPLICATE_RADIUS_M"]
    window = timedelta(hours=current_app.config["DUPLICATE_WINDOW_HOURS"])
    dlat = radius / METRES_PER_DEGREE
    dlon = radius / (METRES_PER_DEGREE * max(math.cos(math.radians(event.lat)), 0.1))
    # The lon/lat index narrows to a box; the exact circle is checked below.
    candidates = db.session.scalars(
        db.select(Event).where(
            Event.id != event.id, Event.category_code == event.category_code, Event.state.in_(OPEN_STATES),
            Event.lon.between(event.lon - dlon, event.lon + dlon), Event.lat.between(event.lat - dlat, event.lat + dlat),
            Event.reported_at >= event.reported_at - window, Event.reported_at <= event.reported_at + window,
        ).order_by(Event.reported_at).limit(limit * 4)
    ).all()

    def metres(other: Event) -> float:
        x = (other.lon - event.lon) * METRES_PER_DEGREE * math.cos(math.radians(event.lat))
        y = (other.lat - event.lat) * METRES_PER_DEGREE
        return math.hypot(x, y)

    return [e for e in candidates if metres(e) <= radius][:limit]
