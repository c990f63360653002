"""Run hot statements straight through the database driver.

For a textual statement SQLAlchemy's Connection builds a result object with its column key map afresh
on every execution, asks the driver for the cursor description (psycopg builds one Column object per
column each time) and runs its execution events. For the one or two statements of a workflow action
that costs more CPU than the rest of the action. Here a statement goes to the driver's cursor, and
what SQLAlchemy does on failure is done the same way: the driver's error wrapped as SQLAlchemy's
(IntegrityError, OperationalError …), and after a lost server the pool invalidated, so the next
checkout connects afresh.

When someone watches statements (a `before_cursor_execute` listener: tests that count statements,
bench/profile_*.py), statements go through SQLAlchemy instead, which tells them.

`DriverStatements` runs statements on a SQLAlchemy connection as it is, inside its transaction.
`autocommit_fetch_one` runs one statement as its own transaction on a pooled connection, with no
SQLAlchemy connection or session around it at all (the report statement); `AutocommitStatements` does
that for each statement of a workflow action.
"""
from __future__ import annotations

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError


def watched(target) -> bool:
    dispatch = target.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


_CURSOR = "gridgov_driver_cursor"


def cached_cursor(pooled, key: str = _CURSOR, cursor_class=None):
    """The pooled connection's own cursor under `key`, made once per driver connection: psycopg spends
    about as much CPU building a cursor (its adapters map) as on a short statement itself."""
    driver = pooled.driver_connection
    cursor = pooled.info.get(key)
    if cursor is None or cursor.closed or cursor.connection is not driver:
        cursor = pooled.info[key] = driver.cursor() if cursor_class is None else cursor_class(driver)
    return cursor


def _execute(pooled, sql: str, params: dict) -> tuple | None:
    cursor = cached_cursor(pooled)
    cursor.execute(sql, params)
    return cursor.fetchone()


def wrapped_error(engine: Engine, sql: str, params: dict, exc: Exception, driver) -> tuple[DBAPIError, bool]:
    dialect = engine.dialect
    disconnect = dialect.is_disconnect(exc, driver, None)
    error = DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error, hide_parameters=engine.hide_parameters,
                                dialect=dialect, connection_invalidated=disconnect)
    return error, disconnect


class DriverStatements:
    """Statements on a SQLAlchemy connection, sent through its driver connection."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.dialect = connection.dialect
        # Whether someone watches statements, asked once: listeners do not come and go within an action.
        self.watched = watched(connection.engine) or watched(connection)

    def fetch_one(self, sql: str, params: dict) -> tuple | None:
        """Execute `sql` (driver paramstyle, %(name)s) and return its first row as a tuple, or None."""
        connection = self.connection
        if self.watched:
            row = connection.exec_driver_sql(sql, params).first()
            return tuple(row) if row is not None else None
        pooled = connection.connection
        try:
            return _execute(pooled, sql, params)
        except connection.dialect.loaded_dbapi.Error as exc:
            error, disconnect = wrapped_error(connection.engine, sql, params, exc, pooled.driver_connection)
            if disconnect:
                # As Connection._handle_dbapi_exception does: every pooled connection is suspect now.
                connection.engine.pool._invalidate(connection.connection, exc)
                connection.invalidate(exc)
            raise error from exc


class AutocommitStatements:
    """Statements each its own transaction (autocommit) on a connection checked out of the pool for
    that statement alone, with no SQLAlchemy connection or session around it: a workflow action's read
    and its write. A session's connection would cost an action about a fifth of its CPU in our process
    (transaction bookkeeping, the isolation level set and reset, the commit and close events). One
    statement at a time holds a connection, so a thread never waits for a second one while holding a
    first (twenty threads on a pool of twenty would deadlock)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect

    def fetch_one(self, sql: str, params: dict) -> tuple | None:
        """Execute `sql` (driver paramstyle, %(name)s) and return its first row as a tuple, or None."""
        return autocommit_fetch_one(self.engine, sql, params)


def autocommit_fetch_one(engine: Engine, sql: str, params: dict) -> tuple | None:
    """Run one statement as its own transaction (autocommit) on a pooled connection: its first row."""
    if watched(engine):  # through SQLAlchemy, which tells the listeners
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            row = connection.exec_driver_sql(sql, params).first()
            return tuple(row) if row is not None else None
    try:
        pooled = engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error as exc:
        # No connection to be had (the server restarts, refuses connections): SQLAlchemy's error, as
        # Engine.connect() would raise it, which the web layer answers with 503 and Retry-After.
        raise wrapped_error(engine, sql, params, exc, None)[0] from exc
    driver = pooled.driver_connection
    try:
        driver.autocommit = True
        try:
            return _execute(pooled, sql, params)
        finally:
            if not driver.closed:
                driver.autocommit = False  # the pool hands out connections in transaction mode
    except engine.dialect.loaded_dbapi.Error as exc:
        error, disconnect = wrapped_error(engine, sql, params, exc, driver)
        if disconnect:
            engine.pool._invalidate(pooled, exc)  # as Connection._handle_dbapi_exception does
        raise error from exc
    finally:
        pooled.close()
