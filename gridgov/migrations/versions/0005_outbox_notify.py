"""outbox rows wake the relay follower (PostgreSQL NOTIFY at commit)

Revision ID: 0005_outbox_notify
Revises: 0004_log_head
Create Date: 2026-11-23 00:30:00

"""
from alembic import op


revision = '0005_outbox_notify'
down_revision = '0004_log_head'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # elsewhere the follower polls
    # One notification per statement, delivered at commit (none for a rolled-back transaction); the
    # payload is empty because the follower claims whatever is pending anyway.
    op.execute("""
        CREATE OR REPLACE FUNCTION gridgov_outbox_notify() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('gridgov_outbox', '');
            RETURN NULL;
        END $$ LANGUAGE plpgsql
    """)
    op.execute("CREATE TRIGGER outbox_notify AFTER INSERT ON outbox"
               " FOR EACH STATEMENT EXECUTE FUNCTION gridgov_outbox_notify()")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS gridgov_outbox_notify()")
