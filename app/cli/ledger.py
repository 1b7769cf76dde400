"""``commonpot ledger``: record, reverse, verify and export."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.cli.common import cli_actor, refusals_as_errors, write_session
from app.extensions import database
from ledger import audit, operations
from ledger import entries as ledger_entries
from ledger import pots as ledger_pots
from ledger.governance import treasury
from ledger.money import parse_amount, to_decimal_string
from ledger.verify import verify_pot


@click.group(cls=AppGroup)
def ledger() -> None:
    """The pot's append-only ledger."""


# ignore_unknown_options: "-5" is a (refused) amount, not an unknown option.
@ledger.command(context_settings={"ignore_unknown_options": True})
@click.argument("slug")
@click.argument("kind", type=click.Choice(operations.RECORDABLE_KINDS))
@click.argument("amount")
@click.option("--memo", required=True, help="What this is, in words.")
@click.option("--external-ref", help="An outside id (e.g. an Open Collective transaction).")
@click.option("--idempotency-key", help="Makes retrying this command safe.")
@click.option("--commitment", help="For payouts, allocations, releases: e.g. proposal:42.")
@click.option(
    "--direction",
    type=click.Choice(["increase", "decrease"]),
    help="For adjustments: increase or decrease the available money (default increase).",
)
@refusals_as_errors
def record(
    slug: str,
    kind: str,
    amount: str,
    memo: str,
    external_ref: str | None,
    idempotency_key: str | None,
    commitment: str | None,
    direction: str | None,
) -> None:
    """Record KIND of AMOUNT (a decimal in the pot's currency, e.g. 250.00) in pot SLUG."""
    with write_session() as session:
        pot = ledger_pots.get_pot(session, slug)
        minor = parse_amount(amount, pot.currency)
        if kind == "adjustment" and direction is None:
            direction = "increase"
        recorded = treasury.record_money(
            session,
            slug,
            kind,
            minor,
            memo=memo,
            actor=cli_actor(),
            external_ref=external_ref,
            idempotency_key=idempotency_key,
            commitment=commitment,
            direction=direction,  # type: ignore[arg-type]
        )
        entry = recorded.entry
        note = "recorded" if recorded.created else "already recorded (nothing new)"
        click.echo(
            f"{note}: #{entry.seq} {entry.kind} {to_decimal_string(minor, pot.currency)} "
            f"{pot.currency} {entry.hash}"
        )
        for proposal in recorded.funded:
            click.echo(f"funded proposal #{proposal.id} (it was waiting for funds)")


@ledger.command()
@click.argument("slug")
@click.argument("seq", type=int)
@click.option("--memo", required=True, help="Why this entry is being reversed.")
@click.option("--idempotency-key", help="Makes retrying this command safe.")
@refusals_as_errors
def reverse(slug: str, seq: int, memo: str, idempotency_key: str | None) -> None:
    """Append the entry that reverses entry SEQ of pot SLUG."""
    with write_session() as session:
        reversed_by = treasury.reverse_entry(
            session, slug, seq, memo=memo, actor=cli_actor(), idempotency_key=idempotency_key
        )
        entry = reversed_by.entry
        note = "reversed" if reversed_by.created else "already reversed (nothing new):"
        click.echo(f"{note} #{seq} with #{entry.seq} {entry.hash}")
        for proposal in reversed_by.funded:
            click.echo(f"funded proposal #{proposal.id} (it was waiting for funds)")


@ledger.command()
@click.argument("slug", required=False)
@refusals_as_errors
def verify(slug: str | None) -> None:
    """Recompute every hash and balance from scratch (all pots, or SLUG)."""
    failed = False
    checked = events = 0
    with database().read() as session:
        pots = [ledger_pots.get_pot(session, slug)] if slug else ledger_pots.list_pots(session)
        for item in pots:
            report = verify_pot(session, item)
            checked += report.entries
            if not report.ok:
                failed = True
                where = f" at entry #{report.first_bad_seq}" if report.first_bad_seq else ""
                click.echo(f"FAILED {item.slug}{where}: {report.problems[0]}", err=True)
            count, bad_event = audit.verify_events(session, item)
            events += count
            if bad_event is not None:
                failed = True
                click.echo(
                    f"FAILED {item.slug} audit log at event #{bad_event}: its hash or chain "
                    "does not match what was recorded",
                    err=True,
                )
    if failed:
        sys.exit(1)
    click.echo(
        f"ok: {len(pots)} pot(s), {checked} entries and {events} audit events, "
        "every hash and balance verified"
    )


@ledger.command()
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl")
@refusals_as_errors
def export(slug: str, fmt: str) -> None:
    """Stream pot SLUG's entries to stdout."""
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        chunks = (
            ledger_entries.export_csv(session, pot)
            if fmt == "csv"
            else ledger_entries.export_jsonl(session, pot)
        )
        for chunk in chunks:
            click.echo(chunk, nl=False)
