"""`flask --app wsgi …` commands: thin wrappers over services (names fixed by DESIGN.md)."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from gridgov.cli import demo, users

    app.cli.add_command(demo.demo)
    app.cli.add_command(users.users)
    for name in ("geo", "jobs", "audit", "stats"):
        try:
            module = __import__(f"gridgov.cli.{name}", fromlist=[name])
        except ModuleNotFoundError:
            continue
        app.cli.add_command(getattr(module, name))
