"""`flask audit verify`: check every event's hash chain and the admin audit chain; name the first broken row."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup


@click.group(cls=AppGroup, help="Audit trail checks. 流转记录与管理操作日志校验。")
def audit() -> None:
    pass


@audit.command("verify")
def verify() -> None:
    from gridgov.services.admin_audit import verify_chain
    from gridgov.services.audit import verify_all

    failed = False
    checked, broken = verify_all()
    if broken is None:
        click.echo(f"ok: {checked} log rows, every chain intact")
    else:
        failed = True
        click.echo(
            f"BROKEN: event {broken.event_id} log seq {broken.seq} (row id {broken.log_id}): {broken.reason}; "
            f"{checked} rows checked"
        )
    admin = verify_chain()
    if admin.broken is None:
        # The head hash, kept somewhere else each night, also catches a rewrite of the whole chain.
        click.echo(f"ok: {admin.checked} admin audit rows, chain intact, head {admin.head_hash}")
    else:
        failed = True
        click.echo(f"BROKEN: admin audit seq {admin.broken.seq}: {admin.broken.reason}; {admin.checked} rows checked")
    if failed:
        sys.exit(1)
