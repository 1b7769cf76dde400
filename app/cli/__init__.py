"""The ``commonpot`` console script: a Flask CLI group bound to the app."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from app.settings import ConfigurationError


def _create_app() -> Flask:
    from app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def cli() -> None:
    """Commonpot: a community's shared pot, its decisions and its verifiable ledger."""


def register_commands(app: Flask) -> None:
    from app.cli import db, demo, ledger, members, oc, pb, pots, proposals, rounds, users

    pots.pot.add_command(members.invite)
    pots.pot.add_command(members.list_members)
    for command in (
        db.db,
        pots.pot,
        ledger.ledger,
        demo.demo,
        pb.pb,
        oc.oc,
        users.user,
        proposals.proposals,
        rounds.rounds,
    ):
        app.cli.add_command(command)


def main() -> None:
    try:
        cli.main(prog_name="commonpot")
    except ConfigurationError as exc:
        click.echo(f"commonpot: configuration error: {exc}", err=True)
        sys.exit(2)
