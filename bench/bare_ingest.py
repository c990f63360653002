"""The baseline of bench/ingest.py: a bare Flask route that inserts one row into PostgreSQL.

No auth, no validation beyond parsing the JSON, no ORM: one connection per worker process and
one INSERT per request, committed. Served by the same gunicorn settings as the real app.
"""
from __future__ import annotations

import json
import os

import psycopg
from flask import Flask, request

app = Flask(__name__)
_conn = None

CREATE = ("CREATE TABLE IF NOT EXISTS bench_bare (id bigserial PRIMARY KEY, client_uuid varchar(64) UNIQUE, "
          "body jsonb NOT NULL, created_at timestamp NOT NULL DEFAULT now())")


def connection():
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(os.environ["BARE_DATABASE_URL"])
    return _conn


@app.post("/bare")
def bare():
    body = request.get_json()
    conn = connection()
    with conn.cursor() as cur:
        cur.execute("INSERT INTO bench_bare (client_uuid, body) VALUES (%s, %s) RETURNING id",
                    (body.get("client_uuid"), json.dumps(body)))
        new_id = cur.fetchone()[0]
    conn.commit()
    return {"id": new_id}, 201
