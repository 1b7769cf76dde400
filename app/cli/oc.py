"""``commonpot oc``: link pots to Open Collective, sync them, push funded proposals as expenses,
reconcile and resolve differences.

Exit codes: 0 done; 1 a sync or push stopped or a reconciliation found differences; 2 a refused
request (nothing written), as everywhere in the CLI. Open Collective is reached through
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
from sqlalchemy.orm import Session

from app.api.opencollective import open_client
from app.cli.common import CommandError, cli_actor, refusals_as_errors, stop_on_signals
from app.extensions import database
from integrations.opencollective import push as oc_push
from integrations.opencollective import reconcile as oc_reconcile
from integrations.opencollective import store as oc_store
from integrations.opencollective import sync as oc_sync
from integrations.opencollective.errors import OpenCollectiveError
from ledger import pots as ledger_pots
from ledger.models import Pot
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


EXPENSE_TYPE = click.Choice(oc_store.EXPENSE_TYPES, case_sensitive=False)


@click.group(cls=AppGroup)
def oc() -> None:
    """Open Collective: link, sync, push, reconcile."""


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
@click.option(
    "--expense-type",
    type=EXPENSE_TYPE,
    help="Type of the expenses pushed for funded proposals (default GRANT; kept on a re-link).",
)
@refusals_as_errors
@upstream_as_errors
def link(slug: str, collective: str, base_url: str, expense_type: str | None) -> None:
    """Link pot SLUG to the Open Collective account COLLECTIVE (same currency)."""
    kind = expense_type.upper() if expense_type else None
    with open_client() as client:
        linked = oc_store.link_pot(
            database(), slug, collective, client, actor=cli_actor(), expense_type=kind
        )
    url = f"{base_url.rstrip('/')}/integrations/opencollective/webhooks/{linked.webhook_token}"
    verb = "linked" if linked.created else "re-linked (the previous webhook URL stops working)"
    click.echo(f"{verb} pot {linked.slug} to {linked.collective} ({linked.currency})")
    click.echo("Webhook URL (shown only now; register it for collective.transaction.created):")
    click.echo(f"  {url}")


@oc.command()
@click.argument("slug")
@click.option("--expense-type", type=EXPENSE_TYPE, help="GRANT or INVOICE, for future pushes.")
@refusals_as_errors
def settings(slug: str, expense_type: str | None) -> None:
    """Show (or change) how pot SLUG's funded proposals are pushed to Open Collective."""
    if expense_type is not None:
        oc_push.set_expense_type(database(), slug, expense_type)
    with database().read() as session:
        _, linked = oc_store.link_for_slug(session, slug)
        click.echo(f"{slug}: expense type {linked.expense_type}")


@oc.command()
@click.argument("slug", required=False)
@click.option("--all", "all_pots", is_flag=True, help="Every linked pot.")
@refusals_as_errors
def push(slug: str | None, all_pots: bool) -> None:
    """Create the Open Collective expenses of pot SLUG's funded proposals (or --all pots), and
    follow the statuses of those already created. Exit 1 if anything failed (it is kept on the
    link and retried next time)."""
    if (slug is None) == (not all_pots):
        raise CommandError("give a pot's SLUG or --all (not both)")
    if slug is not None:
        with database().read() as session:
            oc_store.link_for_slug(session, slug)  # unknown or unlinked: refused, exit 2
    if not _push_round(slug):
        sys.exit(1)


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
            if not stop.is_set():
                try:
                    _push_round(slug, stop.is_set, quiet=True)
                except Exception:
                    log.exception("push round failed; trying again in %ss", every)
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


def _push_round(
    slug: str | None, should_stop: Callable[[], bool] = lambda: False, *, quiet: bool = False
) -> bool:
    """Push and follow one or every linked pot. False if anything failed (kept on the link or
    the expense, and printed); one pot's failure does not stop the others. ``quiet``: say
    nothing about pots where nothing happened (the worker's loop)."""
    slugs = [slug] if slug is not None else oc_sync.pots_to_sync(database())
    ok = True
    for each in slugs:
        if should_stop():
            break
        try:
            with open_client() as client:
                pushed = oc_push.push_funded(database(), each, client)
                followed = oc_push.follow_expenses(database(), each, client)
        except OpenCollectiveError as exc:  # no client (token not set): nothing was tried
            click.echo(f"{each}: push not tried: {exc.message}", err=True)
            ok = False
            continue
        ok = ok and pushed.ok and followed.ok
        for line in _push_lines(pushed, followed, quiet=quiet):
            click.echo(f"{each}: {line}", err=line.startswith("FAILED"))
    return ok


def _push_lines(
    pushed: oc_push.PushResult, followed: oc_push.FollowResult, *, quiet: bool
) -> list[str]:
    if pushed.busy:
        lines = ["push already running elsewhere; skipped"]
    else:
        lines = [f"proposal #{p}: created expense {e}" for p, e in pushed.created]
        lines += [
            f"proposal #{p}: found expense {e} (already created)" for p, e in pushed.recovered
        ]
    lines += [
        f"expense {e}: {before or 'unknown'} -> {after}" for e, before, after in followed.changed
    ]
    lines += [f"proposal #{p}: closed, commitment released" for p in followed.released]
    lines += [f"FAILED {message}" for message in pushed.errors + followed.errors]
    if not lines and not quiet:
        lines = [f"nothing to push; {followed.checked} expense(s) followed, no change"]
    return lines


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
            _push_status(session, pot, link)


def _push_status(session: Session, pot: Pot, link: oc_store.OCLink) -> None:
    state = oc_push.push_state(session, pot, link)
    click.echo(
        f"  push: {link.expense_type} expenses, last push {link.last_pushed_at or 'never'}, "
        f"{len(state.pending)} waiting to be pushed"
    )
    if link.push_error:
        click.echo(f"  last push failed ({link.push_error_at}): {link.push_error}")
    for plan in state.pending:
        amount = f"{to_decimal_string(plan.amount, pot.currency)} {pot.currency}"
        click.echo(f"  waiting: proposal #{plan.proposal_id} {amount} to {plan.payee}")
    if state.finished:
        click.echo(f"  {state.finished} expense(s) paid or ended on Open Collective")
    for expense in state.expenses:
        click.echo(
            f"  expense {expense.expense_id} (proposal #{expense.proposal_id}): "
            f"{expense.status or 'unknown'}, checked {expense.last_checked_at or 'never'}"
            + (
                f"; ERROR ({expense.last_error_at}): {expense.last_error}"
                if expense.last_error
                else ""
            )
        )


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
