"""Geometry for gridgov: areas, their validation and import, the geofence index and coordinate systems.

A plain package: nothing here imports Flask, SQLAlchemy or gridgov, so it can be tested and
benchmarked on its own and reused by the CLI, the API and background jobs alike.
"""
