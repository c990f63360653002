"""drop the single-column event_id indexes of tasks and event_log: their (event_id, seq) unique indexes serve every lookup by event, and each index is one more write per action

Revision ID: 0006_drop_redundant_indexes
Revises: 0901_outbox_done
Create Date: 2026-12-02 08:00:00

"""
from alembic import op


revision = '0006_drop_redundant_indexes'
down_revision = '0901_outbox_done'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_event_id')
    with op.batch_alter_table('event_log', schema=None) as batch_op:
        batch_op.drop_index('ix_event_log_event_id')


def downgrade():
    with op.batch_alter_table('event_log', schema=None) as batch_op:
        batch_op.create_index('ix_event_log_event_id', ['event_id'], unique=False)
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_event_id', ['event_id'], unique=False)
