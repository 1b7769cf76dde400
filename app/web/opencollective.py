"""Open Collective on the web side: the webhook endpoint and the treasurer's reconciliation page.

There is no sign-in yet (issue 3), so the page is read-only: it shows each item with the
``commonpot oc resolve`` command that resolves it. The webhook needs no sign-in: its URL token is
what authorises it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from app.api.opencollective import open_client
from app.extensions import database
from integrations.opencollective import reconcile as oc_reconcile
from integrations.opencollective import store as oc_store
from integrations.opencollective.errors import OpenCollectiveError
from integrations.opencollective.webhooks import handle_webhook
from ledger import pots as ledger_pots
from ledger.errors import LedgerError
from ledger.money import to_decimal_string

blp = Blueprint("oc_web", __name__, template_folder="templates")


@blp.post("/integrations/opencollective/webhooks/<token>")
def webhook(token: str) -> tuple[dict[str, Any], int]:
    """A hint from Open Collective. 404 wrong token, 400 malformed (problem+json, from the
    errors handle_webhook raises); otherwise 200 quickly, whatever the hint led to."""
    outcome = handle_webhook(
        database(), token, request.get_data(cache=False), lambda: open_client(quick=True)
    )
    return {"status": outcome.status, "detail": outcome.detail, "seq": outcome.seq}, 200


@blp.get("/pots/<slug>/opencollective")
def reconciliation_page(slug: str) -> str:
    """The pot's link, its sync state and a fresh reconciliation, item by item."""
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        link = oc_store.find_link(session, pot)
    report: oc_reconcile.Report | None = None
    error: str | None = None
    if link is not None:
        try:
            with open_client() as client:
                report = oc_reconcile.reconcile(database(), slug, client)
        except OpenCollectiveError as exc:
            error = f"Open Collective could not be read: {exc.message}"
        except LedgerError as exc:
            error = f"{exc.title}: {exc.detail}"
    return render_template(
        "oc/reconciliation.html",
        pot=pot,
        link=link,
        report=report,
        error=error,
        amount=lambda minor: "—" if minor is None else to_decimal_string(minor, pot.currency),
    )
