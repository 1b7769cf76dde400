"""``commonpot rounds``: move rounds on with the clock, and export a counted round."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import EVERY_HELP, CommandError, once_or_every, refusals_as_errors
from app.extensions import database
from ledger import pots as ledger_pots
from ledger.rounds import services, settlement
from ledger.timestamps import utcnow


@click.group(cls=AppGroup)
def rounds() -> None:
    """Participatory-budgeting rounds."""


@rounds.command("advance")
@click.option("--every", type=click.IntRange(min=1), help=EVERY_HELP)
@refusals_as_errors
def advance(every: int | None) -> None:
    """Count every round whose voting has closed and fund every round whose funding date has
    come (all pots).

    Safe to run from cron on several hosts at once: each pot is advanced under its lock and
    re-read there, so a round is counted once and funded once.
    """
    once_or_every(every, _advance_round, "advancing rounds")


def _advance_round() -> None:
    db = database()
    now = utcnow()
    with db.read() as session:
        slugs = settlement.pots_with_due_rounds(session, now=now)
    changed = 0
    for slug in slugs:
        with db.write() as session:
            for round_ in settlement.advance(session, slug, now=now):
                changed += 1
                click.echo(f"{slug}: round #{round_.id} {round_.state}")
    click.echo(f"ok: {changed} round(s) advanced")


@rounds.command("export")
@click.argument("slug")
@click.argument("round_id", type=int)
@refusals_as_errors
def export(slug: str, round_id: int) -> None:
    """Print counted round ROUND_ID of pot SLUG as a pabulib .pb file (anonymous ballots)."""
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        round_ = services.get_round(session, round_id)
        if round_.pot_id != pot.id:
            raise CommandError(f"Round not found: pot {slug} has no round {round_id}")
        result = settlement.stored_result(session, round_)
        if result is None:
            raise CommandError(
                f"Not counted yet: round #{round_id} is counted once voting closes "
                "(run 'commonpot rounds advance')"
            )
        if result.pb_text is None:
            raise CommandError("No export: a co-funding round has no pabulib file")
        click.echo(result.pb_text, nl=False)


@rounds.command("list")
@click.argument("slug")
@refusals_as_errors
def list_command(slug: str) -> None:
    """List pot SLUG's rounds with their phase by the clock."""
    now = utcnow()
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        for r in services.list_rounds(session, pot):
            phase = services.phase_of(r, now).value
            click.echo(f"#{r.id}\t{phase}\t{r.kind}\t{r.rule or '-'}\t{r.title}")
