"""`flask demo load`: a synthetic but realistic county to try every console with."""
from __future__ import annotations

import click
from flask.cli import AppGroup


@click.group(cls=AppGroup, help="Demo data. 演示数据。")
def demo() -> None:
    pass


@demo.command("load")
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option("--password", default=None, help="Password for every demo_* user (default: random, printed once).")
@click.option("--events", "event_count", default=300, show_default=True, type=int)
def load(seed: int, password: str | None, event_count: int) -> None:
    # Imported here: the demo pulls in the synthetic-county generator, which other commands never need.
    from gridgov.demo.load import DemoAlreadyLoaded, load_demo

    try:
        result = load_demo(seed=seed, password=password, event_count=event_count)
    except DemoAlreadyLoaded as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"demo county {result.county_code}: {result.townships} townships, {result.villages} villages, "
        f"{result.grids} grids, {result.events} events"
    )
    click.echo("users (password shown once / 密码只显示这一次):")
    for username, role in result.users:
        click.echo(f"  {username:18} {role:12} {result.password}")
