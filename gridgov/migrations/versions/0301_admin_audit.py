"""admin audit log: one hash chain over every admin action, append-only in the database too

Revision ID: 0301_admin_audit
Revises: 0005_outbox_notify
Create Date: 2026-11-23 12:00:00

The chain's head (last seq and hash) lives in `settings` under `admin_audit_head`: appends lock that
row, so concurrent admin actions queue for the next seq instead of colliding, and `audit verify`
compares it with the last row to notice rows cut from the end. Triggers refuse UPDATE and DELETE
(and TRUNCATE on PostgreSQL): the application never changes a written row, and a stray statement
should fail loudly rather than quietly break the chain.
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0301_admin_audit'
down_revision = '0005_outbox_notify'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade():
    op.create_table(
        'admin_audit',
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_name', sa.String(length=100), nullable=False),
        sa.Column('actor_role', sa.String(length=20), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('target_type', sa.String(length=20), nullable=False),
        sa.Column('target_id', sa.String(length=64), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_admin_audit')),
    )
    op.create_index('ix_admin_audit_at', 'admin_audit', ['at'])
    op.create_index('ix_admin_audit_action_seq', 'admin_audit', ['action', 'seq'])
    op.create_index('ix_admin_audit_actor_seq', 'admin_audit', ['actor_name', 'seq'])
    settings = sa.table('settings', sa.column('key', sa.String), sa.column('value', sa.Text),
                        sa.column('updated_at', sa.DateTime))
    op.bulk_insert(settings, [{"key": "admin_audit_head", "value": f"0:{GENESIS}",
                               "updated_at": datetime.now(timezone.utc).replace(tzinfo=None)}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION gridgov_admin_audit_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'admin_audit is append-only';
            END $$ LANGUAGE plpgsql
        """)
        op.execute("CREATE TRIGGER admin_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON admin_audit"
                   " FOR EACH STATEMENT EXECUTE FUNCTION gridgov_admin_audit_append_only()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER admin_audit_no_{verb.lower()} BEFORE {verb} ON admin_audit"
                       " BEGIN SELECT RAISE(ABORT, 'admin_audit is append-only'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS admin_audit_append_only ON admin_audit")
        op.execute("DROP FUNCTION IF EXISTS gridgov_admin_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS admin_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS admin_audit_no_delete")
    op.execute("DELETE FROM settings WHERE key = 'admin_audit_head'")
    op.drop_index('ix_admin_audit_actor_seq', table_name='admin_audit')
    op.drop_index('ix_admin_audit_action_seq', table_name='admin_audit')
    op.drop_index('ix_admin_audit_at', table_name='admin_audit')
    op.drop_table('admin_audit')
