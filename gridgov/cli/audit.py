"""`flask audit verify`: check every event's hash chain and name the first broken row."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup


@click.group(cls=AppGroup, help="Audit trail checks. 流转记录校验。")
def audit() -> None:
    pass


@audit.command("verify")
def verify() -> None:
    from gridgov.services.audit import verify_all

    checked, broken = verify_all()
    if broken is None:
        click.echo(f"ok: {checked} log rows, every chain intact")
        return
    click.echo(
        f"BROKEN: event {broken.event_id} log seq {broken.seq} (row id {broken.log_id}): {broken.reason}; "
        f"{checked} rows checked"
    )
    sys.exit(1)
