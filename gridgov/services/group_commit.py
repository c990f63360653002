"""Group commit: the reports a process sends while the database is busy go in one transaction.

A plain report is one statement, committed on its own (report_statement.py). Much of what PostgreSQL
spends on it is per transaction, not per row: the transaction's start and end, the commit's WAL
flush, the wake-ups on both sides of the socket, and the wait for the day's counter row, which each
report holds from its number to its commit. In bench/ingest.py's rounds, committing the reports that
meet in a process together took the database's CPU per report from about 1.1 ms to about 0.6 ms.

How: while one thread's statement is at the database, the same statement from other threads of the
process waits in line. When it comes back, the first thread in line sends everything waiting as one
message and hands every caller its own row. Nothing ever waits for company: a statement that finds
no one at the database goes at once, alone, as its own transaction, exactly as before.

The message is `EXECUTE name(…); EXECUTE name(…); …`: the statement is prepared once per connection
and each caller's parameters are bound in the client, as literals (psycopg's ClientCursor quotes
them). PostgreSQL runs the statements of one simple-protocol message as one transaction and commits
after the last, with no word from the client in between. (psycopg's pipeline mode was tried first:
it sends each statement as it is queued, so the day's counter row stayed locked while the sending
thread waited for Python's GIL between statements, and the database sat idle in the transaction.)
A statement prepared with SQL's PREPARE lives on one server connection, so behind a pooler that hands
out server connections per transaction (PgBouncer's transaction mode) a group finds it missing and
falls back to sending each statement alone: turn group commit off there (REPORT_GROUP_COMMIT).

Each statement still runs whole and in order, so each sees those before it in its group: a retry of a
report earlier in the same group finds it as a replay, and the day's numbers follow the order. If any
statement fails, the database rolls the whole group back and each statement is sent again alone, so
each caller gets its own statement's answer or error and a bad report costs the others only a retry.
A connection lost mid-group leaves the group committed or not at all, and the client cannot tell
which. Then only the statements their callers marked safe to send twice are sent again alone (a
report with a client UUID: it writes the report, or finds it written and answers it as a replay);
the others get the error, as they would have alone, and are not written twice.
"""
from __future__ import annotations

import collections
import hashlib
import logging
import re
import threading
import weakref

from psycopg import ClientCursor
from sqlalchemy.engine import Engine

from gridgov.services import driver_sql

log = logging.getLogger(__name__)

_GROUP_CURSOR = "gridgov_group_commit_cursor"  # binds parameters in the client (mogrify)
_PREPARED = "gridgov_group_commit_prepared"   # names of the statements prepared on a connection
_NO_SUCH_STATEMENT = "26000"                   # invalid_sql_statement_name
_NAMED = re.compile(r"%\((\w+)\)s")


class _Waiting:
    """One caller's statement parameters, and in time its row or its error."""

    __slots__ = ("params", "resend_safe", "row", "error", "done")

    def __init__(self, params: dict, resend_safe: bool):
        self.params = params
        self.resend_safe = resend_safe
        self.row = None
        self.error: BaseException | None = None
        self.done = False

    def answer(self):
        if self.error is not None:
            raise self.error
        return self.row


class StatementGroup:
    """One statement on one engine, sent by the threads of a process: in groups while the database is busy."""

    def __init__(self, engine: Engine, sql: str):
        self.engine = engine
        self.sql = sql
        # Prepared once per connection (PREPARE), executed by name: a group is one message of
        # `EXECUTE name(literal, …)` statements, each planned as a prepared statement is.
        self.name = "gridgov_group_" + hashlib.sha1(sql.encode()).hexdigest()[:16]
        positional, self.names = _positional(sql)
        self.prepare = f"PREPARE {self.name} AS {positional}"
        self.execute = f"EXECUTE {self.name}({', '.join(['%s'] * len(self.names))})"
        self._turn = threading.Condition()
        self._line: list[_Waiting] = []
        self._sending = False
        self.sizes: collections.Counter = collections.Counter()  # how many statements each send held

    def fetch_one(self, params: dict, resend_safe: bool) -> tuple | None:
        """Run the statement with `params`, committed (alone or with others'): its first row.
        `resend_safe`: running it twice does no harm (sent again alone if its group's fate is unknown)."""
        mine = _Waiting(params, resend_safe)
        with self._turn:
            self._line.append(mine)
            while self._sending and not mine.done:
                self._turn.wait()
            if mine.done:  # someone sent it with theirs
                return mine.answer()
            # No one is at the database, and mine is still in line: send it with all waiting.
            self._sending = True
            group, self._line = self._line, []
        try:
            self._send(group)
        finally:
            for waiting in group:
                if not waiting.done:  # interrupted (a worker's shutdown): no one may wait forever
                    waiting.error, waiting.done = RuntimeError("the statement's group was interrupted"), True
            with self._turn:
                self._sending = False
                self._turn.notify_all()
        return mine.answer()

    def _send(self, group: list[_Waiting]) -> None:
        self.sizes[len(group)] += 1
        if len(group) > 1:
            try:
                rows = self._send_together(group)
            except _FateUnknown as unknown:
                log.warning("a group of %d statements lost its connection; sending again alone those safe to "
                            "send twice", len(group))
                for waiting in group:
                    if not waiting.resend_safe:
                        # An error of its own, with its own parameters: one exception object raised in
                        # several threads would have their tracebacks written over each other.
                        waiting.error, waiting.done = unknown.error_for(waiting.params), True
                group = [waiting for waiting in group if not waiting.done]
            except Exception as exc:  # noqa: BLE001 - nothing was committed; each is sent alone below
                log.info("a group of %d statements failed (%s); sending each alone", len(group), type(exc).__name__)
            else:
                for waiting, row in zip(group, rows):
                    waiting.row, waiting.done = row, True
                return
        for waiting in group:
            try:
                waiting.row = driver_sql.autocommit_fetch_one(self.engine, self.sql, waiting.params)
            except Exception as exc:  # noqa: BLE001 - the caller's own error, raised in its thread
                waiting.error = exc
            waiting.done = True

    def _prepare_on(self, cursor, prepared: set) -> None:
        if self.name not in prepared:
            cursor.execute(self.prepare, prepare=False)
            prepared.add(self.name)

    def _send_together(self, group: list[_Waiting]) -> list[tuple | None]:
        """All the statements in one message: one round trip, one transaction, nothing to wait for.
        Raises _FateUnknown if the group may have been committed, else the error (nothing committed)."""
        engine = self.engine
        pooled = engine.raw_connection()
        driver = pooled.driver_connection
        try:
            cursor = driver_sql.cached_cursor(pooled, _GROUP_CURSOR, ClientCursor)
            prepared = pooled.info.setdefault(_PREPARED, set())
            # Autocommit: psycopg sends no BEGIN of its own. The statements of one simple-protocol
            # message are one transaction, which the server commits after the last of them.
            driver.autocommit = True
            try:
                message = "; ".join(cursor.mogrify(self.execute, [waiting.params[name] for name in self.names])
                                    for waiting in group)
                try:
                    self._prepare_on(cursor, prepared)
                    cursor.execute(message, prepare=False)
                except engine.dialect.loaded_dbapi.Error as exc:
                    if getattr(exc, "sqlstate", None) != _NO_SUCH_STATEMENT or driver.closed:
                        raise
                    # Dropped under us: psycopg sends DEALLOCATE ALL when it sees a ROLLBACK, DROP or
                    # ALTER on the connection. The first EXECUTE failed, so nothing ran: prepare again.
                    prepared.discard(self.name)
                    self._prepare_on(cursor, prepared)
                    cursor.execute(message, prepare=False)
                rows = [cursor.fetchone()]
                while cursor.nextset():
                    rows.append(cursor.fetchone())
                if len(rows) != len(group):  # committed, but the rows cannot be told apart
                    counted = f"{len(rows)} results for {len(group)} statements"
                    raise _FateUnknown(lambda params: RuntimeError(counted))
                return rows
            except engine.dialect.loaded_dbapi.Error as exc:
                disconnect = engine.dialect.is_disconnect(exc, driver, None)
                if disconnect:
                    engine.pool._invalidate(pooled, exc)  # as autocommit_fetch_one does on a lost server
                elif driver.closed or driver.broken:
                    pooled.invalidate(exc)  # this connection alone is gone (its backend was ended)
                if disconnect or driver.closed or driver.broken:
                    lost = exc  # bound now: Python unbinds `exc` when this except clause ends
                    raise _FateUnknown(
                        lambda params: driver_sql.wrapped_error(engine, self.sql, params, lost, driver)[0]) from exc
                raise  # the server answered with an error: it rolled the whole message back
            finally:
                if not driver.closed:
                    driver.autocommit = False  # the pool hands out connections in transaction mode
        finally:
            pooled.close()


class _FateUnknown(Exception):
    """The connection was lost after the group was sent: it may or may not have been committed."""

    def __init__(self, make_error):
        super().__init__("the group's connection was lost")
        self.error_for = make_error  # params → what a caller whose statement is not sent again gets


def _positional(sql: str) -> tuple[str, list[str]]:
    """`sql` with its %(name)s parameters as $1, $2 … (a name used twice keeps its number) and `%%` as
    the `%` the driver would have sent, and the names in order of first use."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return "%".join(_NAMED.sub(number, part) for part in sql.split("%%")), names


_groups: "weakref.WeakKeyDictionary[Engine, dict[str, StatementGroup]]" = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def group_for(engine: Engine, sql: str) -> StatementGroup:
    by_sql = _groups.get(engine)
    group = by_sql.get(sql) if by_sql is not None else None
    if group is None:
        with _groups_lock:
            group = _groups.setdefault(engine, {}).setdefault(sql, StatementGroup(engine, sql))
    return group


def fetch_one(engine: Engine, sql: str, params: dict, *, resend_safe: bool) -> tuple | None:
    """Run `sql` committed, grouped with the same statement from other threads while the database is
    busy. `resend_safe`: these parameters may run twice without harm, so the statement is sent again
    alone if its group's connection is lost (see the module's docstring). Raises as
    driver_sql.autocommit_fetch_one does."""
    if driver_sql.watched(engine):  # someone watches statements: one by one, through SQLAlchemy
        return driver_sql.autocommit_fetch_one(engine, sql, params)
    return group_for(engine, sql).fetch_one(params, resend_safe)
