"""statistics: covering indexes for the three cohorts, and the sealed-month cache

Revision ID: 0201_stats_indexes
Revises: 0003_pause_escalation
Create Date: 2026-11-22 21:40:00

Each statistics query reads one cohort — events by reported_at, events by registered_at, tasks by
handled_at — over a time range, and needs only a handful of narrow columns. An index on the
timestamp that also carries those columns lets PostgreSQL answer from the index alone
(index-only scan: no visit to the wide event rows, which hold descriptions and addresses), and
GROUPING SETS then computes every grouping of the dashboard in that one pass. The extra columns
are INCLUDE payload on PostgreSQL; SQLite has no INCLUDE and gets the plain timestamp index (the
models declare the same, in gridgov/models/stats_indexes.py, so autogenerate sees no drift).
"""
from alembic import op
import sqlalchemy as sa

revision = "0201_stats_indexes"
down_revision = "0003_pause_escalation"
branch_labels = None
depends_on = None

AREA_AND_GROUPS = ["county_code", "township_code", "village_code", "grid_code", "department_code",
                   "category_code", "reporter_id"]
INDEXES = {
    "ix_events_stats_registered": ("events", "registered_at",
                                   ["state", "deadline", "closed_on_time", "handling_working_seconds", "satisfaction",
                                    *AREA_AND_GROUPS]),
    "ix_events_stats_reported": ("events", "reported_at", ["self_resolved", "state", *AREA_AND_GROUPS]),
    "ix_tasks_stats_handled": ("tasks", "handled_at", ["status", "department_code", "event_id"]),
    "ix_events_stats_id": ("events", "id", ["state", "county_code", "township_code", "village_code", "grid_code",
                                            "category_code", "reporter_id"]),
    "ix_tasks_stats_event": ("tasks", "event_id", ["handled_at", "status", "department_code"]),
}
OPEN_STATES = ("reported", "registered", "dispatched", "in_progress", "handled", "returned", "escalated", "visited")


def upgrade():
    for name, (table, key, payload) in INDEXES.items():
        op.create_index(name, table, [key], postgresql_include=payload)
    open_only = sa.column("state").in_(OPEN_STATES)
    op.create_index("ix_events_stats_open", "events", ["deadline"],
                    postgresql_include=["id", "state", "supervision_level", "reported_at", "registered_at",
                                        "self_resolved", "closed_on_time", "handling_working_seconds", "satisfaction",
                                        *AREA_AND_GROUPS],
                    postgresql_where=open_only, sqlite_where=open_only)
    op.create_index("ix_events_stats_updated", "events", ["updated_at"])
    op.create_table(
        "stats_month_cache",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_month_cache")),
        sa.UniqueConstraint("signature", "month", name="uq_stats_month_cache_signature_month"),
    )
    # The covering index on reported_at makes the plain one redundant (and the planner preferred
    # the plain one, then fetched every row from the table).
    op.drop_index("ix_events_reported_at", table_name="events")


def downgrade():
    op.create_index("ix_events_reported_at", "events", ["reported_at"])
    op.drop_table("stats_month_cache")
    op.drop_index("ix_events_stats_updated", table_name="events")
    op.drop_index("ix_events_stats_open", table_name="events")
    for name, (table, _, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
