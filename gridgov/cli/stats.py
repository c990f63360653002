"""`flask stats …`: the statistics cache and a quick look at the figures from the shell."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group()
def stats():
    """统计 / statistics."""


@stats.command("clear-cache")
@with_appcontext
def clear_cache():
    """Forget the sealed-month cache (needed only after deleting events or raw SQL updates)."""
    from gridgov.services.stats import cache

    click.echo(f"cleared {cache.clear()} cached months")


@stats.command("show")
@click.option("--from", "first", required=True, help="local date YYYY-MM-DD")
@click.option("--to", "last", required=True, help="local date YYYY-MM-DD")
@click.option("--area", default=None)
@click.option("--group-by", default="total")
@with_appcontext
def show(first: str, last: str, area: str | None, group_by: str):
    """Print the figures as JSON lines, one per group."""
    from datetime import date

    from gridgov.services.stats import Period, StatsQuery, compute

    q = StatsQuery(period=Period(date.fromisoformat(first), date.fromisoformat(last),
                                 current_app.config["GRIDGOV_TIMEZONE"]), area=area)
    for fig in compute(q, group_by):
        click.echo(json.dumps(fig.as_dict(), ensure_ascii=False))
