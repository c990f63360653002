#!/bin/sh
# PostGIS for bench/geofence.py's baseline (Debian's package for the PostgreSQL 15 server).
set -e
apt-get update
apt-get install -y postgresql-15-postgis-3
