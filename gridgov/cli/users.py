"""`flask users create|unlock`: add a user with a role and a jurisdiction, lift a lock-out; both are audited
with the operating-system login of whoever ran the command."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from gridgov.extensions import db
from gridgov.models import ROLES, User
from gridgov.services import accounts
from gridgov.services.admin_audit import cli_actor


@click.group(cls=AppGroup, help="Manage users. 用户管理。")
def users() -> None:
    pass


@users.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--area", "area_code", required=True, help="Area code of the jurisdiction.")
@click.option("--department", "department_code", default=None)
@click.option("--display-name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create(username, role, area_code, department_code, display_name, password_stdin):
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = accounts.create_user(
            username=username, password=password, role=role, area_code=area_code,
            department_code=department_code, display_name=display_name, actor=cli_actor(),
        )
    except accounts.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from exc
    click.echo(f"created user {user.username} ({user.role} @ {user.area_code})")


@users.command("unlock")
@click.argument("username")
def unlock_command(username):
    """Lift a lock-out after repeated wrong passwords."""
    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"找不到用户 / no such user: {username}")
    accounts.unlock_user(user.id, actor=cli_actor())
    click.echo(f"unlocked {username}")
