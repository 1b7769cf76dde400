"""``commonpot proposals``: apply decisions that fell due, and list a pot's proposals."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import EVERY_HELP, once_or_every, refusals_as_errors
from app.extensions import database
from ledger import pots as ledger_pots
from ledger.governance import proposals as governance
from ledger.money import to_decimal_string
from ledger.timestamps import utcnow


@click.group(cls=AppGroup)
def proposals() -> None:
    """Proposals and their decisions."""


@proposals.command("close-due")
@click.option("--every", type=click.IntRange(min=1), help=EVERY_HELP)
@refusals_as_errors
def close_due(every: int | None) -> None:
    """Apply every decision whose deadline has passed (all pots), and fund what waits.

    Safe to run from cron on several hosts at once: each pot is settled under its lock, and a
    proposal already settled by another run is left alone.
    """
    once_or_every(every, _close_due_round, "closing due proposals")


def _close_due_round() -> None:
    db = database()
    now = utcnow()
    with db.read() as session:
        slugs = governance.pots_with_due_proposals(session, now=now)
    settled = 0
    for slug in slugs:
        with db.write() as session:
            for proposal in governance.close_due(session, slug, now=now):
                settled += 1
                click.echo(f"{slug}: proposal #{proposal.id} {proposal.status}")
    click.echo(f"ok: {settled} decision(s) applied")


@proposals.command("list")
@click.argument("slug")
@click.option("--status", help="Only proposals with this status.")
@refusals_as_errors
def list_command(slug: str, status: str | None) -> None:
    """List pot SLUG's proposals."""
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        for p in governance.list_proposals(session, pot, status=status, limit=10_000):
            amount = to_decimal_string(p.amount, pot.currency)
            click.echo(f"#{p.id}\t{p.status}\t{amount} {pot.currency}\t{p.title}")
