"""events carry the head of their log chain (log_seq, log_hash) and their task count (task_seq)

Revision ID: 0004_log_head
Revises: 0201_stats_indexes
Create Date: 2026-11-23 00:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004_log_head'
down_revision = '0201_stats_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log_seq', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('log_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('task_seq', sa.Integer(), server_default='0', nullable=False))
    # Existing chains: copy each event's last row into its head (portable SQL, SQLite and PostgreSQL).
    op.execute(
        "UPDATE events SET"
        " log_seq = COALESCE((SELECT MAX(l.seq) FROM event_log l WHERE l.event_id = events.id), 0),"
        " log_hash = (SELECT l.hash FROM event_log l WHERE l.event_id = events.id ORDER BY l.seq DESC LIMIT 1),"
        " task_seq = COALESCE((SELECT MAX(t.seq) FROM tasks t WHERE t.event_id = events.id), 0)"
    )


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('task_seq')
        batch_op.drop_column('log_hash')
        batch_op.drop_column('log_seq')
