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


def test_index_predicates_match_the_models(backend, tmp_path):
    """Autogenerate compares an index's columns, not its WHERE: that each index the models declare
    partial is built partial (and no other), and the predicates of migration 0008, are checked here."""
    url = make_database(backend, tmp_path)
    app = build_app(url, tmp_path)
    option = "postgresql_where" if backend == "postgresql" else "sqlite_where"
    try:
        upgrade_schema(app)
        with app.app_context():
            inspector = db.inspect(db.engine)
            built = {}
            for table in db.metadata.sorted_tables:
                for found in inspector.get_indexes(table.name):
                    built[found["name"]] = found.get("dialect_options", {}).get(option)
                for index in table.indexes:
                    partial = index.dialect_options[option.partition("_")[0]]["where"] is not None
                    assert partial == (built[index.name] is not None), (index.name, built[index.name])
            squeezed = {name: " ".join(str(where).lower().replace('"', "").replace("(", " ").replace(")", " ").split())
                        for name, where in built.items() if where is not None}
            for name, predicate in [("ix_events_duplicate_of", "duplicate_of is not null"),
                                    ("ix_events_department_state", "department_code is not null"),
                                    ("ix_events_stats_registered", "registered_at is not null"),
                                    ("ix_outbox_pending", "sent_at is null")]:
                assert predicate in squeezed[name], (name, squeezed[name])
            assert "ix_events_county_code" not in built and "ix_event_log_at" not in built
            db.session.remove()
            db.engine.dispose()
    finally:
        if backend == "postgresql":
            drop_pg_database(url)
