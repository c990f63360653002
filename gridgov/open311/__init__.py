"""Open311 GeoReport v2: the citizen channel (see gridgov.open311.views)."""
