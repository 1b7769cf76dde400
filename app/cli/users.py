"""``commonpot user``: accounts, from the server's shell (the way to make the first admin)."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.cli.common import CommandError, refusals_as_errors, write_session
from ledger.people import accounts


@click.group(cls=AppGroup)
def user() -> None:
    """People who sign in."""


@user.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The name other members see.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (its first line); otherwise you are asked.",
)
@click.option("--admin", is_flag=True, help="A site admin: every role in every pot.")
@refusals_as_errors
def create(email: str, name: str, password_stdin: bool, admin: bool) -> None:
    """Create the account EMAIL."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("no password on standard input")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with write_session() as session:
        created = accounts.create_user(session, email, name=name, password=password, admin=admin)
        click.echo(
            f"created user {created.id} {created.email}" + (" (site admin)" if admin else "")
        )
