"""``commonpot oc``: link pots to Open Collective, sync them, reconcile and resolve differences.

Exit codes: 0 done; 1 a sync stopped or a reconciliation found differences; 2 a refused request
(nothing written), as everywhere in the CLI. Open Collective is reached through
OPENCOLLECTIVE_API_URL (default: production) with OPENCOLLECTIVE_TOKEN.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from flask.cli import AppGroup

from app.api.opencollective import open_client
from app.cli.common import CommandError, cli_actor, refusals_as_errors, stop_on_signals
from app.extensions import database
from integrations.opencollective import reconcile as oc_reconcile
from integrations.opencollective import store as oc_store
from integrations.opencollective import sync as oc_sync
from integrations.opencollective.errors import OpenCollectiveError
from ledger import pots as ledger_pots
from ledger.money import to_decimal_string

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

PUBLIC_URL_ENV = "COMMONPOT_PUBLIC_URL"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"


def upstream_as_errors(func: F) -> F:
    """Open Collective failures as one-line errors (exit 2): nothing was written."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OpenCollectiveError as exc:
            raise CommandError(exc.message) from None

    return wrapper  # type: ignore[return-value]


@click.group(cls=AppGroup)
def oc() -> None:
    """Open Collective: link, sync, reconcile."""


@oc.command()
@click.argument("slug")
@click.argument("collective")
@click.option(
    "--base-url",
    envvar=PUBLIC_URL_ENV,
    default=DEFAULT_PUBLIC_URL,
    show_default=True,
    help=f"Where Open Collective reaches this service (or set {PUBLIC_URL_ENV}).",
)
@refusals_as_errors
@upstream_as_errors
def link(slug: str, collective: str, base_url: str) -> None:
    """Link pot SLUG to the Open Collective account COLLECTIVE (same currency)."""
    with open_client() as client:
        linked = oc_store.link_pot(database(), slug, collective, client, actor=cli_actor())
    url = f"{base_url.rstrip('/')}/integrations/opencollective/webhooks/{linked.webhook_token}"
    verb = "linked" if linked.created else "re-linked (the previous webhook URL stops working)"
    click.echo(f"{verb} pot {linked.slug} to {linked.collective} ({linked.currency})")
    click.echo("Webhook URL (shown only now; register it for collective.transaction.created):")
    click.echo(f"  {url}")


@oc.command()
@click.argument("slug", required=False)
@click.option("--all", "all_pots", is_flag=True, help="Every linked pot.")
@click.option(
    "--every",
    type=click.IntRange(min=1),
    help="Keep syncing every SECONDS until SIGTERM/SIGINT (for a Procfile worker).",
)
@click.option("--page-size", type=click.IntRange(1, 1000), default=oc_sync.DEFAULT_PAGE_SIZE)
@refusals_as_errors
@upstream_as_errors
def sync(slug: str | None, all_pots: bool, every: int | None, page_size: int) -> None:
    """Append pot SLUG's new Open Collective transactions to its ledger (or --all pots)."""
    if (slug is None) == (not all_pots):
        raise CommandError("give a pot's SLUG or --all (not both)")
    if every is None:
        if not _sync_round(slug, page_size, lambda: False):
            sys.exit(1)
        return
    with stop_on_signals() as stop:
        click.echo(f"syncing every {every}s until stopped")
        while not stop.is_set():
            try:
                _sync_round(slug, page_size, stop.is_set)
            except Exception:  # a worker outlives a bad round (database restart, bad token)
                log.exception("sync round failed; trying again in %ss", every)
            stop.wait(every)
    click.echo("stopped")


def _sync_round(slug: str | None, page_size: int, should_stop: Callable[[], bool]) -> bool:
    """One sync of one or every linked pot. False if any stopped with an error (stored on its
    link and printed); the others still run."""
    slugs = [slug] if slug is not None else oc_sync.pots_to_sync(database())
    ok = True
    for each in slugs:
        if should_stop():
            break
        try:
            with open_client() as client:
                result = oc_sync.sync_pot(
                    database(), each, client, page_size=page_size, should_stop=should_stop
                )
        except oc_sync.SyncFailed as exc:
            click.echo(f"{each}: {_progress(exc.result)}; STOPPED: {exc.message}", err=True)
            ok = False
            continue
        click.echo(f"{each}: {_progress(result)}")
    return ok


def _progress(result: oc_sync.SyncResult) -> str:
    return (
        f"{result.appended} new entries, {result.skipped} already there, "
        f"offset {result.start_offset} -> {result.next_offset}"
    )


@oc.command()
@click.argument("slug", required=False)
@refusals_as_errors
def status(slug: str | None) -> None:
    """The link and sync state of pot SLUG (or of every linked pot)."""
    with database().read() as session:
        slugs = [slug] if slug else oc_store.linked_slugs(session)
        for each in slugs:
            pot, link = oc_store.link_for_slug(session, each)
            balance = (
                "unknown"
                if link.oc_balance is None
                else f"{to_decimal_string(link.oc_balance, pot.currency)} {pot.currency} "
                f"at {link.oc_balance_at}"
            )
            click.echo(
                f"{pot.slug}: {link.collective_slug}, offset {link.next_offset}, "
                f"last sync {link.last_synced_at or 'never'}, Open Collective balance {balance}"
            )
            if link.last_error:
                click.echo(f"  last sync stopped ({link.last_error_at}): {link.last_error}")


@oc.command()
@click.argument("slug")
@refusals_as_errors
@upstream_as_errors
def reconcile(slug: str) -> None:
    """Compare pot SLUG with Open Collective; exit 1 when anything differs."""
    with open_client() as client:
        report = oc_reconcile.reconcile(database(), slug, client)

    def money(minor: int | None, currency: str = report.currency) -> str:
        if minor is None:
            return "?"
        if currency != report.currency:
            return f"{minor} minor units of {currency}"
        return f"{to_decimal_string(minor, currency)} {currency}"

    click.echo(
        f"{report.slug} vs {report.collective}: {report.transactions} transactions, "
        f"{report.matched} matched"
    )
    click.echo(
        f"held {money(report.held)}, Open Collective {money(report.oc_balance)}, "
        f"difference {money(report.difference)}"
    )
    for item in report.items:
        click.echo(
            f"{item.key}\t{item.problem}\ttheirs {money(item.theirs, item.currency)}\t"
            f"ours {money(item.ours)}\tdelta {money(item.delta)}\t"
            f"resolve: {' or '.join(item.actions)}"
            + (f"\t{item.description}" if item.description else "")
        )
    if report.ok:
        click.echo("everything matches")
        return
    click.echo(f"{len(report.items)} item(s) to resolve (commonpot oc resolve {slug} ITEM ...)")
    sys.exit(1)


@oc.command()
@click.argument("slug")
@click.argument("item")
@click.option("--import", "import_", is_flag=True, help="Import the missing transaction.")
@click.option("--adjust", is_flag=True, help="Append an adjustment entry (needs --reason).")
@click.option("--reason", help="Why, in words (kept with the adjustment).")
@click.option(
    "--amount",
    help="Adjustment as a signed decimal (e.g. -12.50); default: the item's difference.",
)
@refusals_as_errors
@upstream_as_errors
def resolve(
    slug: str, item: str, import_: bool, adjust: bool, reason: str | None, amount: str | None
) -> None:
    """Resolve reconciliation ITEM (oc:<id> or balance) of pot SLUG."""
    if import_ == adjust:
        raise CommandError("choose one of --import or --adjust")
    if adjust and not (reason or "").strip():
        raise CommandError("--adjust needs --reason TEXT")
    with database().read() as session:
        currency = ledger_pots.get_pot(session, slug).currency
    minor = oc_reconcile.parse_adjustment(amount, currency) if amount is not None else None
    with open_client() as client:
        done = oc_reconcile.resolve(
            database(),
            slug,
            item,
            client,
            action="import" if import_ else "adjust",
            actor=cli_actor(),
            reason=reason,
            amount=minor,
        )
    what = "imported" if done.action == "import" else "adjusted"
    detail = "" if done.amount is None else f" by {to_decimal_string(done.amount, currency)}"
    click.echo(f"{done.item}: {what}{detail} as entry #{done.seq}")
