"""A scratch PostgreSQL database for one benchmark run: created fresh, dropped at the end."""
from __future__ import annotations

import os

import psycopg

ADMIN_URL = os.environ.get("GRIDGOV_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class ScratchDatabase:
    def __init__(self, name: str, admin_url: str = ADMIN_URL):
        self.name = name
        self.admin_url = admin_url
        self.url = admin_url.rpartition("/")[0] + "/" + name

    def recreate(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
