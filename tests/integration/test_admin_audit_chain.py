"""The admin audit chain holds: `flask audit verify` names the first row changed, removed or re-hashed behind the
app's back; the database refuses UPDATE and DELETE on the table; concurrent admins still make one gapless chain.

Each test gets its own copy of a small database (five calendar overrides, so five audit rows): SQLite by copying
the file, PostgreSQL by CREATE DATABASE … TEMPLATE, which is much quicker than migrating again.
"""
from __future__ import annotations

import shutil
import sqlite3
import threading
import uuid

import psycopg
import pytest
from sqlalchemy import exc, text

from gridgov.extensions import db
from gridgov.models import AdminAudit
from gridgov.services import admin_audit, catalog_admin
from tests.conftest import build_app, drop_pg_database, make_database, pg_admin_url, upgrade_schema
from workflows.audit import chain_hash

ROWS = 5
SQLITE_TRIGGERS = [f"CREATE TRIGGER admin_audit_no_{verb.lower()} BEFORE {verb} ON admin_audit"
                   " BEGIN SELECT RAISE(ABORT, 'admin_audit is append-only'); END" for verb in ("UPDATE", "DELETE")]


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="module")
def template(backend, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"audit-chain-{backend}")
    url = make_database(backend, tmp)
    app = build_app(url, tmp)
    upgrade_schema(app)
    with app.app_context():
        for day in range(1, ROWS + 1):
            catalog_admin.set_calendar_day(f"2031-01-{day:02d}", is_workday=True, note=f"第{day}天")
        db.session.remove()
        db.engine.dispose()
    yield url
    if backend == "postgresql":
        drop_pg_database(url)


@pytest.fixture
def chain_app(backend, template, tmp_path):
    """An app on a fresh copy of the template database."""
    if backend == "sqlite":
        source = template.removeprefix("sqlite:///")
        target = tmp_path / "copy.sqlite3"
        shutil.copy(source, target)
        url = f"sqlite:///{target}"
    else:
        name = f"gridgov_chain_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg_admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.rpartition("/")[2]}"')
        url = f"{pg_admin_url().rpartition('/')[0]}/{name}"
    app = build_app(url, tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if backend == "postgresql":
        drop_pg_database(url)


def behind_the_apps_back(app, *statements: str) -> None:
    """What someone with the database password could do: switch the append-only guard off, edit, switch it on."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        db.engine.dispose()  # no pooled connection of the app's stays in the way of ALTER TABLE
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            conn.execute("DROP TRIGGER admin_audit_no_update")
            conn.execute("DROP TRIGGER admin_audit_no_delete")
            for statement in statements:
                conn.execute(statement)
            for trigger in SQLITE_TRIGGERS:
                conn.execute(trigger)
            conn.commit()
        finally:
            conn.close()
        return
    with psycopg.connect(_plain(url)) as conn:  # one transaction: nobody sees the guard down
        conn.execute("ALTER TABLE admin_audit DISABLE TRIGGER admin_audit_append_only")
        for statement in statements:
            conn.execute(statement)
        conn.execute("ALTER TABLE admin_audit ENABLE TRIGGER admin_audit_append_only")


def verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_an_intact_chain_verifies_and_prints_its_head(chain_app):
    result = verify(chain_app)
    assert result.exit_code == 0, result.output
    assert f"ok: {ROWS} admin audit rows, chain intact, head " in result.output
    assert "ok: 0 log rows, every chain intact" in result.output  # the event log is still checked first
    with chain_app.app_context():
        report = admin_audit.verify_chain()
        assert (report.checked, report.broken) == (ROWS, None) and f"head {ROWS}:{report.head_hash}" in result.output


def _rewrite_from_the_start(app) -> None:
    """Someone with write access recomputes every hash after editing row 1: the chain holds again."""
    with app.app_context():
        rows = db.session.scalars(db.select(AdminAudit).order_by(AdminAudit.seq)).all()
        statements, prev = [], admin_audit.GENESIS
        for row in rows:
            row.prev_hash = prev
            if row.seq == 1:
                row.actor_name = "mallory"
            row.hash = chain_hash(prev, admin_audit.audit_record(row))
            statements.append(f"UPDATE admin_audit SET actor_name = '{row.actor_name}', prev_hash = '{row.prev_hash}',"
                              f" hash = '{row.hash}' WHERE seq = {row.seq}")
            prev = row.hash
        statements.append(f"UPDATE settings SET value = '{rows[-1].seq}:{prev}' WHERE key = 'admin_audit_head'")
        db.session.rollback()
    behind_the_apps_back(app, *statements)


def test_an_anchor_kept_off_the_machine_catches_a_chain_rewritten_from_the_start(chain_app):
    anchor = verify(chain_app).output.split("head ")[1].split()[0]
    assert verify(chain_app).exit_code == 0 and chain_app.test_cli_runner().invoke(
        args=["audit", "verify", "--anchor", anchor]).exit_code == 0
    _rewrite_from_the_start(chain_app)
    assert verify(chain_app).exit_code == 0  # every hash inside the database agrees again ...
    result = chain_app.test_cli_runner().invoke(args=["audit", "verify", "--anchor", anchor])
    assert result.exit_code == 1 and f"BROKEN: admin audit seq {ROWS}: the row's hash differs from the anchor" \
        in result.output, result.output  # ... the anchor does not
    assert chain_app.test_cli_runner().invoke(args=["audit", "verify", "--anchor", "nonsense"]).exit_code == 2


def _rehash_row_3(app) -> list[str]:
    """Edit row 3 and give it the hash its new content deserves: the next row's prev_hash still gives it away."""
    with app.app_context():
        row = db.session.get(AdminAudit, 3)
        row.actor_name = "mallory"
        new_hash = chain_hash(row.prev_hash, admin_audit.audit_record(row))
        db.session.rollback()
    return ["UPDATE admin_audit SET actor_name = 'mallory', hash = '%s' WHERE seq = 3" % new_hash]


TAMPERING = {
    "content edited": (lambda app: ["UPDATE admin_audit SET actor_name = 'mallory' WHERE seq = 3"],
                       "seq 3: hash does not match the row's content"),
    "data edited": (lambda app: ["UPDATE admin_audit SET data = '{\"is_workday\": false, \"note\": \"x\", "
                                 "\"previous\": null}' WHERE seq = 2"],
                    "seq 2: hash does not match the row's content"),
    "re-hashed": (_rehash_row_3, "seq 4: prev_hash does not match the previous row"),
    "row removed": (lambda app: ["DELETE FROM admin_audit WHERE seq = 2"], "seq 3: sequence gap: expected seq 2"),
    "last row removed": (lambda app: [f"DELETE FROM admin_audit WHERE seq = {ROWS}"],
                         f"seq {ROWS - 1}: the recorded head (seq {ROWS}) does not match the last row"),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_a_row_changed_behind_the_apps_back_is_named_by_audit_verify(chain_app, how):
    statements, expected = TAMPERING[how]
    behind_the_apps_back(chain_app, *statements(chain_app))
    result = verify(chain_app)
    assert result.exit_code == 1, result.output
    assert f"BROKEN: admin audit {expected}" in result.output, result.output


def test_the_database_refuses_to_change_or_remove_a_written_row(chain_app):
    with chain_app.app_context():
        for statement in ("UPDATE admin_audit SET actor_name = 'mallory' WHERE seq = 1",
                          "DELETE FROM admin_audit WHERE seq = 5"):
            with pytest.raises(exc.DBAPIError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        if db.engine.dialect.name == "postgresql":
            with pytest.raises(exc.DBAPIError, match="append-only"):
                db.session.execute(text("TRUNCATE admin_audit"))
            db.session.rollback()
    assert verify(chain_app).exit_code == 0


def test_concurrent_admins_append_one_gapless_chain(chain_app):
    threads, per_thread, errors = 4, 5, []

    def admin(n: int) -> None:
        try:
            with chain_app.app_context():
                for i in range(per_thread):
                    catalog_admin.set_calendar_day(f"2033-0{n + 1}-{i + 1:02d}", is_workday=bool(i % 2))
        except Exception as error:  # reported below: a lost append would be a gap or a unique violation
            errors.append(repr(error))

    workers = [threading.Thread(target=admin, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    with chain_app.app_context():
        report = admin_audit.verify_chain()
        assert (report.checked, report.broken) == (ROWS + threads * per_thread, None)
