"""``commonpot demo``: load the demo community's pot (safe to run again)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app import signing
from app.api.proposals import ballot_key
from app.api.rounds import ballot_key as round_key
from app.cli.common import refusals_as_errors, write_session
from app.demo import DEMO_SLUG, load_demo
from app.demo_community import DEMO_PASSWORD, PEOPLE, load_community
from app.demo_rounds import load_rounds
from app.extensions import database
from ledger.checkpoints import current_checkpoint


@click.command()
@with_appcontext
@refusals_as_errors
def demo() -> None:
    """Load a demo community pot (idempotent: running it twice changes nothing)."""
    with write_session() as session:
        written = load_demo(session)
    click.echo(f"demo pot {DEMO_SLUG}: {written} new entries")
    added = load_community(database(), DEMO_SLUG, ballot_key=ballot_key())
    click.echo(
        f"demo community: {added} new people, rules and proposals; sign in as "
        f"{PEOPLE[0].email} (steward), {PEOPLE[1].email} (treasurer) or "
        f"{PEOPLE[2].email} (member), password {DEMO_PASSWORD}"
    )
    click.echo(f"demo rounds: {load_rounds(database(), DEMO_SLUG, ballot_key=round_key())} new")
    checkpoint = current_checkpoint(database(), DEMO_SLUG, signing.signer(), signing.log_origin())
    click.echo(
        f"signed checkpoint: {checkpoint.tree_size} entries, root {checkpoint.root_base64} "
        "(check it yourself: docs/verify.md)"
    )
