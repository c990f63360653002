"""outbox rows record when their job ran to the end (done_at), so a job Redis lost can be sent again

Revision ID: 0901_outbox_done
Revises: 0301_admin_audit
Create Date: 2026-11-23 01:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0901_outbox_done'
down_revision = '0301_admin_audit'
branch_labels = None
depends_on = None

UNFINISHED = "sent_at IS NOT NULL AND done_at IS NULL"


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('done_at', sa.DateTime(), nullable=True))
    # Rows sent before this release: their jobs ran or are long gone; nothing to send again.
    op.execute("UPDATE outbox SET done_at = sent_at WHERE sent_at IS NOT NULL")
    op.create_index('ix_outbox_unfinished', 'outbox', ['id'], unique=False,
                    postgresql_where=sa.text(UNFINISHED), sqlite_where=sa.text(UNFINISHED))


def downgrade():
    op.drop_index('ix_outbox_unfinished', table_name='outbox')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('done_at')
