"""notification preferences; partial index for the deadline sweep

Revision ID: 0101_jobs_prefs
Revises: 0002_handling_seconds
Create Date: 2026-11-23 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0101_jobs_prefs'
down_revision = '0002_handling_seconds'
branch_labels = None
depends_on = None

RUNNING = "state IN ('dispatched', 'in_progress') AND deadline IS NOT NULL"


def upgrade():
    op.create_table(
        'notification_prefs',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.Column('quiet_start', sa.String(length=5), nullable=True),
        sa.Column('quiet_end', sa.String(length=5), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_prefs_user_id_users')),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_prefs')),
    )
    op.create_index('ix_events_running_deadline', 'events', ['deadline'], unique=False,
                    postgresql_where=sa.text(RUNNING), sqlite_where=sa.text(RUNNING))


def downgrade():
    op.drop_index('ix_events_running_deadline', table_name='events')
    op.drop_table('notification_prefs')
