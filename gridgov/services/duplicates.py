"""Likely duplicates (网格事件只报一次): open events of the same category, close by, recently reported.

Candidates come from a lon/lat box around the point (the `ix_events_lon_lat` index narrows to it), then
the same category, an open state and the time window; the exact circle is checked in Python. The report
statement (report_statement.py) runs the same candidate query inside its own statement, from
`candidate_box` and CANDIDATES_SQL below, so both paths agree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from gridgov.extensions import db
from gridgov.models import Event
from gridgov.models.events import OPEN_STATES

METRES_PER_DEGREE = 111_320.0
CANDIDATE_FACTOR = 4  # candidates read per duplicate wanted: some fall outside the circle


@dataclass(frozen=True)
class Box:
    min_lon: float
    max_lon: float
    min_lat: float
    max_lat: float
    since: datetime
    until: datetime


def candidate_box(lon: float, lat: float, reported_at: datetime) -> Box:
    radius = current_app.config["DUPLICATE_RADIUS_M"]
    window = timedelta(hours=current_app.config["DUPLICATE_WINDOW_HOURS"])
    dlat = radius / METRES_PER_DEGREE
    dlon = radius / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.1))
    return Box(lon - dlon, lon + dlon, lat - dlat, lat + dlat, reported_at - window, reported_at + window)


def within_radius(lon: float, lat: float, candidates, limit: int = 10) -> list:
    """The candidates (anything with .lon and .lat) inside the radius, in the order given, at most `limit`."""
    radius = current_app.config["DUPLICATE_RADIUS_M"]
    scale = METRES_PER_DEGREE * math.cos(math.radians(lat))

    def metres(other) -> float:
        return math.hypot((other.lon - lon) * scale, (other.lat - lat) * METRES_PER_DEGREE)

    return [e for e in candidates if metres(e) <= radius][:limit]


def likely_duplicates(event: Event, limit: int = 10) -> list[Event]:
    box = candidate_box(event.lon, event.lat, event.reported_at)
    # The box first, on its own (a materialised CTE on PostgreSQL): otherwise the planner may prefer
    # a time-ordered index and read every event of the window, which grows with the day's reports.
    near = (db.select(Event.id)
            .where(Event.lon.between(box.min_lon, box.max_lon), Event.lat.between(box.min_lat, box.max_lat))
            .cte("near").prefix_with("MATERIALIZED", dialect="postgresql"))
    candidates = db.session.scalars(
        db.select(Event).where(
            Event.id.in_(db.select(near.c.id)), Event.id != event.id, Event.category_code == event.category_code,
            Event.state.in_(OPEN_STATES), Event.reported_at >= box.since, Event.reported_at <= box.until,
        ).order_by(Event.reported_at).limit(limit * CANDIDATE_FACTOR)
    ).all()
    return within_radius(event.lon, event.lat, candidates, limit)


# PostgreSQL text of the query above, for a statement that has not inserted its event yet (so no
# `id <>`): parameters d_category, d_min_lon … d_until; the open states and the limit are constants of
# the text (no array to adapt per report; the plan is the same). Each row also
# carries what decides whether the reporter may see it (CANDIDATE_COLUMNS: reporter and area codes,
# gridgov.access.can_see), so the answer needs no second query to leave out foreign events.
CANDIDATE_COLUMNS = ("id", "number", "state", "lon", "lat", "reporter_id", "county_code", "township_code",
                     "village_code", "grid_code")
CANDIDATES_SQL = (
    f"WITH near AS MATERIALIZED (SELECT {','.join(CANDIDATE_COLUMNS)},category_code,reported_at FROM events "
    "WHERE lon BETWEEN %(d_min_lon)s AND %(d_max_lon)s AND lat BETWEEN %(d_min_lat)s AND %(d_max_lat)s) "
    "SELECT * FROM near "
    f"WHERE category_code = %(d_category)s AND state IN ({', '.join(repr(s) for s in OPEN_STATES)}) "
    "AND reported_at >= %(d_since)s AND reported_at <= %(d_until)s "
    f"ORDER BY reported_at LIMIT {10 * CANDIDATE_FACTOR}"
)
assert all(s.isidentifier() for s in OPEN_STATES)  # quoted into the text above as they are


def candidate_params(category_code: str, box: Box) -> dict:
    """The parameters of CANDIDATES_SQL (which reads at most 10 × CANDIDATE_FACTOR candidates)."""
    return {"d_category": category_code, "d_min_lon": box.min_lon, "d_max_lon": box.max_lon,
            "d_min_lat": box.min_lat, "d_max_lat": box.max_lat, "d_since": box.since, "d_until": box.until}
