"""The few SQL expressions that differ between SQLite and PostgreSQL, behind one name each."""
from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement


def name(session_or_bind) -> str:
    bind = session_or_bind.get_bind() if hasattr(session_or_bind, "get_bind") else session_or_bind
    return bind.dialect.name


def seconds_between(dialect: str, start, end) -> ColumnElement:
    """end - start in seconds, as a float (julianday on SQLite, epoch on PostgreSQL)."""
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def compact_stamp(dialect: str, value) -> ColumnElement:
    """A timestamp as YYYYMMDDHHMMSS text, for dedupe keys built in SQL."""
    if dialect == "sqlite":
        return func.strftime("%Y%m%d%H%M%S", value)
    return func.to_char(value, "YYYYMMDDHH24MISS")


def json_object(dialect: str, *pairs) -> ColumnElement:
    """A JSON object from alternating key, value arguments."""
    if dialect == "sqlite":
        return func.json_object(*pairs)
    return func.json_build_object(*pairs)


def insert_ignoring_duplicates(dialect: str, table):
    """INSERT … ON CONFLICT DO NOTHING: a concurrent or repeated insert of the same key is a no-op."""
    module = sqlite if dialect == "sqlite" else postgresql
    return module.insert(table)


def json_array_agg(dialect: str, value) -> ColumnElement:
    """Aggregate values into a JSON array (json_group_array on SQLite, json_agg on PostgreSQL)."""
    if dialect == "sqlite":
        return func.json(func.json_group_array(value))
    return func.json_agg(value)
