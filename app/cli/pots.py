"""``commonpot pot``: create and list pots."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import refusals_as_errors, write_session
from app.extensions import database
from ledger import pots as ledger_pots
from ledger.money import to_decimal_string


@click.group(cls=AppGroup)
def pot() -> None:
    """Pots of shared money."""


@pot.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The pot's name, as people know it.")
@click.option("--currency", required=True, help="ISO 4217 code, e.g. GBP.")
@refusals_as_errors
def create(slug: str, name: str, currency: str) -> None:
    """Create the pot SLUG."""
    with write_session() as session:
        created = ledger_pots.create_pot(session, slug, name=name, currency=currency.upper())
        click.echo(f"created pot {created.slug} ({created.currency})")


@pot.command("list")
def list_() -> None:
    """List pots with what each holds."""
    with database().read() as session:
        for item in ledger_pots.list_pots(session):
            summary = ledger_pots.summarise(session, item)
            held = to_decimal_string(summary.held, summary.currency)
            click.echo(
                f"{summary.slug}\t{summary.currency}\theld {held}\t{summary.entry_count} entries"
            )
