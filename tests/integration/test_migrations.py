"""Migrations build the schema from empty on both databases, and the models have not drifted."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gridgov.extensions import db
from tests.conftest import build_app, drop_pg_database, make_database, upgrade_schema


def test_upgrade_from_empty_then_no_drift(backend, tmp_path):
    url = make_database(backend, tmp_path)
    app = build_app(url, tmp_path)
    try:
        upgrade_schema(app)
        with app.app_context():
            with db.engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(context, db.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
            tables = set(db.inspect(db.engine).get_table_names())
            assert {"areas", "users", "events", "tasks", "event_log", "outbox"} <= tables
            db.session.remove()
            db.engine.dispose()
    finally:
        if backend == "postgresql":
            drop_pg_database(url)
