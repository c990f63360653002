"""Write a plain report (no photos, not self-resolved) as one statement on PostgreSQL.

Through the ORM a report is a replay check, a category read, the counter bump, three INSERTs and,
after the commit, the duplicate query: seven round trips, each with the unit of work around it, and
the day's counter row locked from the bump to the commit. Here it is one data-modifying CTE:

    WITH prior AS (SELECT id FROM events WHERE client_uuid = …),        -- a replay writes nothing
         cat   AS (SELECT … FROM categories WHERE code = … AND active     -- nor an unknown category
                   AND NOT EXISTS (SELECT FROM prior) AND <reporter active>),
         n     AS (INSERT INTO daily_counters … ON CONFLICT … RETURNING value),   -- the day's number
         ids   AS (SELECT nextval(<events id sequence>) AS id, value FROM n),
         ev    AS (INSERT INTO events (…) SELECT … FROM ids, cat RETURNING …),
         lg    AS (INSERT INTO event_log (…) SELECT … FROM ev),
         ob    AS (INSERT INTO outbox (…) SELECT … FROM ev)
    SELECT prior id, new id, number, …, the likely duplicates (same snapshot, before this insert)

The log row's hash covers the event id, which only the database knows, so the statement hashes
it: the canonical JSON of the row is made in Python (workflows.audit, with a sentinel standing for
the id) and split around the sentinel; PostgreSQL computes sha256(head || id || tail) — the same
bytes Python would hash. The caller recomputes that hash in Python before committing, so a
difference can never be stored. The event row also gets its chain head (log_seq 1, log_hash).

Values come from the caller exactly as the ORM path builds them (gridgov/services/reporting.py);
columns the caller leaves out get their model defaults. Each row travels as one JSON parameter read
back by json_populate_record (floats and timestamps survive exactly), which keeps the statement under
psycopg's limits for caching its parsed form (4 KB, 50 parameters).
"""
from __future__ import annotations

import hashlib
import json
import logging
import weakref
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import JSON, event
from sqlalchemy.orm import Session

from gridgov.models import Category, Event, EventLog, OutboxMessage
from gridgov.services import duplicates, group_commit, numbering
from gridgov.services.audit import log_record
from gridgov.services.driver_sql import autocommit_fetch_one
from workflows.audit import canonical_json

log = logging.getLogger(__name__)

# Stands for the event id where a value holds it (the log's canonical JSON, the outbox payload and
# key) before the database has chosen it. Such a value must hold it exactly once: a description quoting
# the number makes the log's JSON hold it twice, and that report is written through the ORM (split()).
SENTINEL = 918273645546372819
_SENTINEL_TEXT = str(SENTINEL)


class NotWritable(Exception):
    """This report cannot take the one-statement path; the ORM path writes it."""


@dataclass
class Written:
    prior_id: int | None       # a stored event with the same client UUID (nothing was written)
    event_id: int | None       # the new event (None: nothing written — unknown/inactive category, or
    number: str | None         #   reporter inactive, see reporter_active)
    workflow: str | None
    log_hash: str | None
    category_name: str | None
    reporter_active: bool
    candidates: list           # possible duplicates: objects with duplicates.CANDIDATE_COLUMNS
    event_values: dict         # the event's columns as written (but id, number, workflow and log head)
    committed: bool            # written in a transaction of its own (else the caller's session commits)


def supported(session: Session) -> bool:
    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        return False
    facts = _facts_for(engine)
    return facts["utf8"]


_engine_facts: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


_PROBE = ('{"comment":"网格 \\"引号\\" 😀 \\\\ ', '","event_id":', ',"data":{"é":"ß"}}')


def _facts_for(engine) -> dict:
    """Per engine, read once: the events id sequence, and whether the database hashes text exactly as
    Python does (sha256 of convert_to(…, 'UTF8'); a probe with CJK, an emoji and escapes decides)."""
    facts = _engine_facts.get(engine)
    if facts is None:
        head, middle, tail = _PROBE
        with engine.connect() as conn:
            sequence = conn.exec_driver_sql("SELECT pg_get_serial_sequence('events', 'id')").scalar()
            digest = conn.exec_driver_sql(
                "SELECT encode(sha256(convert_to(%(head)s || 7 || %(tail)s, 'UTF8')), 'hex')",
                {"head": head + middle, "tail": tail}).scalar()
        python = hashlib.sha256((head + middle + "7" + tail).encode("utf-8")).hexdigest()
        facts = _engine_facts[engine] = {"sequence": sequence, "utf8": digest == python and sequence is not None}
    return facts


# session.info flag: the session's current transaction holds a database connection (it may have
# written): a report joins that transaction instead of committing on a connection of its own.
_HOLDS_CONNECTION = "gridgov_holds_connection"


@event.listens_for(Session, "after_begin")
def _began(session, transaction, connection) -> None:
    session.info[_HOLDS_CONNECTION] = True


@event.listens_for(Session, "after_transaction_end")
def _ended(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_HOLDS_CONNECTION, None)


def split(text: str) -> tuple[str, str]:
    """(head, tail) of a text holding the sentinel exactly once; NotWritable otherwise."""
    parts = text.split(_SENTINEL_TEXT)
    if len(parts) != 2:
        raise NotWritable("the sentinel must occur exactly once")
    return parts[0], parts[1]


def write_report(session: Session, *, event: dict, log: dict, notice: dict, day: str, workflow: str | None,
                 reporter_id: int | None, box: duplicates.Box, grouped: bool = True) -> Written:
    """Run the statement in the session's transaction (the caller commits), or as a transaction of its
    own when the session has none open: committed with the reports other threads send meanwhile
    (group_commit.py) if `grouped`. `event`, `log` and `notice` are column values of the three rows;
    the notice's payload and key hold SENTINEL where the event id goes. Raises NotWritable (nothing
    sent) or the database's errors (IntegrityError on a racing replay)."""
    engine = session.get_bind()
    plan = _plan_for(engine)
    params: dict = {"day": day, "workflow": workflow or None, "reporter": reporter_id,
                    "client_uuid": event.get("client_uuid"), "category": event["category_code"]}
    params.update(duplicates.candidate_params(event["category_code"], box))

    # The log row's hash, as workflows.audit.chain_hash would take it, with the id left open.
    hashed = log["prev_hash"] + canonical_json(log_record(SimpleNamespace(event_id=SENTINEL, **log)))
    params["h_head"], params["h_tail"] = split(hashed)

    event_values = {}
    for name, values in (("ev", event), ("lg", log), ("ob", notice)):
        record = event_values if name == "ev" else {}
        for column_name, default, kind, bind in plan.columns[name]:
            value = values[column_name] if column_name in values else default()
            if kind == "record":
                record[column_name] = value
                continue
            bound = bind(value) if bind is not None and value is not None else value
            key = f"{name}_{column_name}"
            if kind == "id":
                params[f"{key}_h"], params[f"{key}_t"] = split(bound)
            else:
                params[key] = bound
        try:
            params[name] = json.dumps(record, default=_json_value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:  # NaN, or a type with no exact JSON form
            raise NotWritable(str(exc)) from None
    if session.info.get(_HOLDS_CONNECTION):
        # The session already has a transaction open: write inside it (the caller commits).
        row, committed = session.connection().exec_driver_sql(plan.sql, params).one(), False
    else:
        # Nothing of this session's is pending: the statement is its own transaction (autocommit,
        # one round trip, no BEGIN or COMMIT of its own), or one of a group sent together. Watched
        # statements (a test, bench/profile_ingest.py) go alone through SQLAlchemy, which tells the
        # listeners. With a client UUID the statement is safe to send twice: a replay writes nothing.
        if grouped:
            row = group_commit.fetch_one(engine, plan.sql, params, resend_safe=params["client_uuid"] is not None)
        else:
            row = autocommit_fetch_one(engine, plan.sql, params)
        committed = True
    written = Written(prior_id=row[0], event_id=row[1], number=row[2], workflow=row[3], log_hash=row[4],
                      category_name=row[5], reporter_active=bool(row[6]),
                      candidates=[SimpleNamespace(**dict(zip(duplicates.CANDIDATE_COLUMNS, c)))
                                  for c in (row[7] or [])], event_values=event_values, committed=committed)
    if written.event_id is not None:
        expected = hashlib.sha256(
            (params["h_head"] + str(written.event_id) + params["h_tail"]).encode("utf-8")).hexdigest()
        if written.log_hash != expected:  # ruled out by _facts_for's probe, but never silent
            message = (f"event {written.event_id}: the database hashed its report row as {written.log_hash}, "
                       f"Python as {expected}")
            if not committed:
                raise HashMismatch(message)  # the caller rolls back and writes through the ORM
            log.error("%s; stored as is, `audit verify` will name it", message)
    return written


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()  # naive UTC, as the columns hold it; read back exactly
    raise TypeError(f"no JSON form for {type(value).__name__}")


class HashMismatch(Exception):
    """The database hashed the log row differently from workflows.audit: the caller rolls back."""


TABLES = {"ev": Event.__table__, "lg": EventLog.__table__, "ob": OutboxMessage.__table__}
# Columns not taken from the caller's values: written by the statement from the new id.
_COMPUTED = {"ev": ("id", "number", "workflow", "log_seq", "log_hash"), "lg": ("id", "event_id", "hash"),
             "ob": ("id",)}
# Values that hold the event id (the SENTINEL, exactly once): completed in SQL.
_WITH_ID = {"ob": ("payload", "dedupe_key")}


@dataclass
class _Plan:
    sql: str
    columns: dict  # row name → [(column name, default(), kind, bind processor)]


_plans: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _plan_for(engine) -> _Plan:
    """Per engine, built once: how each column travels, and the statement's text.
    kind: "record" (in the row's JSON object), "param" (a JSON column, bound as the ORM binds it),
    "id" (holds the event id: head and tail parameters)."""
    plan = _plans.get(engine)
    if plan is None:
        dialect = engine.dialect
        columns = {}
        for name, table in TABLES.items():
            columns[name] = []
            for column in table.columns:
                if column.name in _COMPUTED[name]:
                    continue
                if column.name in _WITH_ID.get(name, ()):
                    kind = "id"
                elif isinstance(column.type, JSON):
                    kind = "param"
                else:
                    kind = "record"
                columns[name].append((column.name, _default_of(column), kind, column.type.bind_processor(dialect)))
        plan = _plans[engine] = _Plan(_build_sql(columns, _facts_for(engine)["sequence"], dialect), columns)
    return plan


def _build_sql(columns: dict, sequence: str, dialect) -> str:
    selects = {}
    for name, table in TABLES.items():
        id_source = "ids.id" if name == "ev" else "ev.id"
        exprs = []
        for column_name, _, kind, _ in columns[name]:
            key = f"{name}_{column_name}"
            if kind == "id":
                exprs.append((column_name, f"(%({key}_h)s || {id_source} || %({key}_t)s)::{_cast(table.c[column_name], dialect)}"))
            elif kind == "param":
                exprs.append((column_name, f"%({key})s::{_cast(table.c[column_name], dialect)}"))
            else:
                exprs.append((column_name, f"{name}_r.{column_name}"))
        selects[name] = exprs
    log_hash = "encode(sha256(convert_to(%(h_head)s || ids.id || %(h_tail)s, 'UTF8')), 'hex')"
    event_columns = [("id", "ids.id"), ("number", numbering.number_sql("day", "ids.value")),
                     ("workflow", "COALESCE(%(workflow)s::VARCHAR, NULLIF(cat.workflow, ''), 'default')"),
                     ("log_seq", "1"), ("log_hash", log_hash)] + selects["ev"]
    log_columns = [("event_id", "ev.id"), ("hash", "ev.log_hash")] + selects["lg"]

    def insert(name: str, columns, source: str) -> str:
        table = TABLES[name].name
        return (f"INSERT INTO {table} ({', '.join(c for c, _ in columns)}) "
                f"SELECT {', '.join(e for _, e in columns)} "
                f"FROM {source}, json_populate_record(NULL::{table}, %({name})s::json) AS {name}_r")

    return (
        "WITH prior AS (SELECT id FROM events WHERE client_uuid = %(client_uuid)s::VARCHAR),\n"
        " cat AS (SELECT workflow FROM categories WHERE code = %(category)s::VARCHAR AND active"
        " AND NOT EXISTS (SELECT FROM prior)"
        " AND (%(reporter)s::INTEGER IS NULL OR EXISTS"
        " (SELECT FROM users WHERE id = %(reporter)s::INTEGER AND active))),\n"
        f" n AS ({numbering.bump_sql('day', 'cat')}),\n"
        f" ids AS (SELECT nextval('{sequence}') AS id, value FROM n),\n"
        f" ev AS ({insert('ev', event_columns, 'ids, cat')} RETURNING id, number, workflow, log_hash),\n"
        f" lg AS ({insert('lg', log_columns, 'ev')}),\n"
        f" ob AS ({insert('ob', selects['ob'], 'ev')})\n"
        "SELECT (SELECT id FROM prior), ev.id, ev.number, ev.workflow, ev.log_hash,"
        " (SELECT name_zh FROM categories WHERE code = %(category)s::VARCHAR),"
        " %(reporter)s::INTEGER IS NULL OR EXISTS (SELECT FROM users WHERE id = %(reporter)s::INTEGER AND active),"
        f" (SELECT json_agg(json_build_array({','.join('d.' + c for c in duplicates.CANDIDATE_COLUMNS)})"
        " ORDER BY d.reported_at, d.id)"
        f" FROM ({duplicates.CANDIDATES_SQL}) d)\n"
        "FROM (SELECT 1) AS one LEFT JOIN ev ON true"
    )


def _cast(column, dialect) -> str:
    # Unbounded VARCHAR: a bound cast like VARCHAR(300) would truncate silently, where the column's
    # own check refuses an over-long value (as the ORM path's INSERT does).
    type_name = column.type.compile(dialect=dialect)
    return "VARCHAR" if type_name.startswith("VARCHAR") else type_name


def _default_of(column):
    """A function giving the column's Python-side default, as a flush would fill it in."""
    default = column.default
    if default is None:
        return lambda: None
    if default.is_callable:
        return lambda: default.arg(None)  # SQLAlchemy wraps zero-argument callables to take a context
    if default.is_scalar:
        value = default.arg
        return lambda: value
    raise NotWritable(f"{column} has an SQL default")


def category_stub(code: str, name_zh: str | None) -> Category:
    """A Category for the answer, looking loaded with its code and name (the rest load on access)."""
    from sqlalchemy.orm import make_transient_to_detached

    stub = Category(code=code, name_zh=name_zh)
    make_transient_to_detached(stub)
    return stub
