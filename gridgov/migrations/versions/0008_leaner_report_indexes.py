"""every report writes fewer index entries: drop two indexes no query reads, make four partial

Revision ID: 0008_leaner_report_indexes
Revises: 0007_outbox_notify_when_idle
Create Date: 2026-12-02 15:00:00

A report inserts one events row, one event_log row and one outbox row, and every index on those tables
is one more entry written (and WAL logged) per report. Of them:

- ix_events_county_code: a deployment serves one county (the root area), so every row has the same
  code and no plan ever reads it; county-level lists and figures use the other indexes.
- ix_event_log_at: no query selects log rows by time (the log is read per event, through
  uq_event_log_event_seq, and whole by `audit verify`).
- ix_events_duplicate_of, ix_events_department_state, ix_events_stats_registered: the column is NULL
  when an event is reported (no master, no department yet, not registered), and every query that
  reads these indexes compares the column (`duplicate_of = …`, `department_code = …`, a registered_at
  range), which a NULL never satisfies. Partial on `IS NOT NULL`, they answer the same queries and a
  report writes nothing to them.
- ix_outbox_pending (sent_at, id) → (id) WHERE sent_at IS NULL: every reader asks for unsent rows in id
  order (the relay's claim, jobs status); the partial index holds only rows still waiting, and the
  claim's UPDATE adds no entry to it.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_leaner_report_indexes'
down_revision = '0007_outbox_notify_when_idle'
branch_labels = None
depends_on = None

AREA_AND_GROUPS = ["county_code", "township_code", "village_code", "grid_code", "department_code", "category_code",
                   "reporter_id"]
REGISTERED_INCLUDE = ["state", "deadline", "closed_on_time", "handling_working_seconds", "satisfaction",
                      *AREA_AND_GROUPS]


def _where(text: str) -> dict:
    return {"postgresql_where": sa.text(text), "sqlite_where": sa.text(text)}


def upgrade():
    op.drop_index('ix_events_county_code', table_name='events')
    op.drop_index('ix_event_log_at', table_name='event_log')
    op.drop_index('ix_events_duplicate_of', table_name='events')
    op.create_index('ix_events_duplicate_of', 'events', ['duplicate_of'], **_where('duplicate_of IS NOT NULL'))
    op.drop_index('ix_events_department_state', table_name='events')
    op.create_index('ix_events_department_state', 'events', ['department_code', 'state'],
                    **_where('department_code IS NOT NULL'))
    op.drop_index('ix_events_stats_registered', table_name='events')
    op.create_index('ix_events_stats_registered', 'events', ['registered_at'], postgresql_include=REGISTERED_INCLUDE,
                    **_where('registered_at IS NOT NULL'))
    op.drop_index('ix_outbox_pending', table_name='outbox')
    op.create_index('ix_outbox_pending', 'outbox', ['id'], **_where('sent_at IS NULL'))


def downgrade():
    op.drop_index('ix_outbox_pending', table_name='outbox')
    op.create_index('ix_outbox_pending', 'outbox', ['sent_at', 'id'])
    op.drop_index('ix_events_stats_registered', table_name='events')
    op.create_index('ix_events_stats_registered', 'events', ['registered_at'], postgresql_include=REGISTERED_INCLUDE)
    op.drop_index('ix_events_department_state', table_name='events')
    op.create_index('ix_events_department_state', 'events', ['department_code', 'state'])
    op.drop_index('ix_events_duplicate_of', table_name='events')
    op.create_index('ix_events_duplicate_of', 'events', ['duplicate_of'])
    op.create_index('ix_event_log_at', 'event_log', ['at'])
    op.create_index('ix_events_county_code', 'events', ['county_code'])
