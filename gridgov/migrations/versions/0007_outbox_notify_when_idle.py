"""outbox rows NOTIFY only while no relay follower is awake

Revision ID: 0007_outbox_notify_when_idle
Revises: 0006_drop_redundant_indexes
Create Date: 2026-12-02 14:30:00

A NOTIFY is not free: at commit PostgreSQL serialises every transaction that notified behind one
database-wide lock held through the commit's WAL flush (so those commits cannot share a flush), and
each one signals the listening backend and wakes the follower. Under a stream of reports that was a
notification per report while the follower was busy relaying anyway. Now:

- the follower holds the advisory lock AWAKE (exclusive, on its listening session) while it relays in
  rounds; a writing transaction notifies only when it can take AWAKE shared, i.e. when no follower is
  awake (none running, or the one there is waiting for work);
- every writing transaction holds INFLIGHT shared until its commit. A follower going back to sleep
  releases AWAKE, then tries INFLIGHT exclusive, without waiting (a queued request would hold up every
  writer behind it): while it fails, some transaction that may have skipped its NOTIFY is still open,
  and the follower relays again shortly and tries again; once it succeeds, every such transaction has
  ended, one more round relays their rows, and any later row notifies. gridgov/jobs/follower.py holds
  the other half.

The two keys (class 7461, ids 1 and 2) are gridgov.jobs.follower.LOCK_CLASS / AWAKE_KEY / INFLIGHT_KEY;
tests/integration/jobs/test_relay_follower.py checks that the function and the follower agree.
"""
from alembic import op


revision = '0007_outbox_notify_when_idle'
down_revision = '0006_drop_redundant_indexes'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # elsewhere the follower polls
    op.execute("""
        CREATE OR REPLACE FUNCTION gridgov_outbox_notify() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock_shared(7461, 2);
            IF pg_try_advisory_xact_lock_shared(7461, 1) THEN
                PERFORM pg_notify('gridgov_outbox', '');
            END IF;
            RETURN NULL;
        END $$ LANGUAGE plpgsql
    """)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION gridgov_outbox_notify() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('gridgov_outbox', '');
            RETURN NULL;
        END $$ LANGUAGE plpgsql
    """)
