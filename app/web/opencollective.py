"""Open Collective on the web side: the webhook endpoint, and the pot's reconciliation page.

Who sees what: the reconciliation page is public, like the reconciliation in the API (a pot's
money is public, and so is whether it agrees with its host). Resolving an item is a treasurer's:
the page shows them a form per item (import, or adjust with a written reason), posting to the
same service as ``commonpot oc resolve`` and the resolutions API. The webhook needs no sign-in:
its URL token is what authorises it.

Two blueprints: ``blp`` (the webhook, registered on the app, outside the pages' CSRF and error
pages) and ``pages`` (nested in ``web``, so its errors are HTML pages).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.api.opencollective import open_client
from app.extensions import database
from app.problems import status_for
from app.web.signin import login_required, require_pot_role, signed_in
from app.web.treasury import manage_links
from app.web.treasury_forms import ResolveForm, sentence
from integrations.opencollective import push as oc_push
from integrations.opencollective import reconcile as oc_reconcile
from integrations.opencollective import store as oc_store
from integrations.opencollective.errors import OpenCollectiveError
from integrations.opencollective.webhooks import handle_webhook
from ledger import pots as ledger_pots
from ledger.errors import InvalidAmount, LedgerError
from ledger.money import to_decimal_string
from ledger.people.membership import may_act
from ledger.people.models import Role

blp = Blueprint("oc_web", __name__, template_folder="templates")
pages = Blueprint("opencollective", __name__)


@blp.post("/integrations/opencollective/webhooks/<token>")
def webhook(token: str) -> tuple[dict[str, Any], int]:
    """A hint from Open Collective. 404 wrong token, 400 malformed (problem+json, from the
    errors handle_webhook raises); otherwise 200 quickly, whatever the hint led to."""
    outcome = handle_webhook(
        database(), token, request.get_data(cache=False), lambda: open_client(quick=True)
    )
    return {"status": outcome.status, "detail": outcome.detail, "seq": outcome.seq}, 200


@pages.get("/pots/<slug>/opencollective")
def reconciliation_page(slug: str) -> str:
    """The pot's link, its sync state and a fresh reconciliation, item by item."""
    return render_reconciliation(slug)


@pages.post("/pots/<slug>/opencollective/resolutions")
@login_required
def resolve_item(slug: str) -> Response | tuple[str, int]:
    """Resolve one item (treasurers), then back to a fresh reconciliation."""
    user = require_pot_role(slug, Role.TREASURER)
    form = ResolveForm()
    if not form.validate_on_submit():
        return render_reconciliation(slug, form=form), 400
    if form.action.data == "adjust" and not (form.reason.data or "").strip():
        form.reason.errors = ["Say why you adjust it: the reason is kept with the entry."]
        return render_reconciliation(slug, form=form), 400
    with database().read() as session:
        pot, _ = oc_store.link_for_slug(session, slug)
    amount: int | None = None
    if form.action.data == "adjust" and (form.amount.data or "").strip():
        try:
            amount = oc_reconcile.parse_adjustment(form.amount.data, pot.currency)
        except InvalidAmount as exc:
            form.amount.errors = [sentence(exc.detail)]
            return render_reconciliation(slug, form=form), 400
    try:
        with open_client() as client:
            done = oc_reconcile.resolve(
                database(),
                slug,
                form.item.data,
                client,
                action=form.action.data,
                actor=f"user:{user.id}",
                reason=form.reason.data if form.action.data == "adjust" else None,
                amount=amount,
            )
    except LedgerError as exc:
        return render_reconciliation(slug, form=form, refusal=exc), status_for(exc)
    except OpenCollectiveError as exc:
        message = f"Open Collective could not be read, so nothing was changed: {exc.message}"
        return render_reconciliation(slug, form=form, upstream=message), 502
    if done.action == "import":
        flash(f"{done.item} was imported as entry #{done.seq}.", "success")
    else:
        moved = to_decimal_string(done.amount or 0, pot.currency)
        flash(f"{done.item} was adjusted by {moved} {pot.currency} (entry #{done.seq}).", "success")
    return redirect(url_for(".reconciliation_page", slug=slug))


def render_reconciliation(
    slug: str,
    *,
    form: ResolveForm | None = None,
    refusal: LedgerError | None = None,
    upstream: str | None = None,
) -> str:
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        link = oc_store.find_link(session, pot)
        pushes = oc_push.push_state(session, pot, link) if link is not None else None
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
        pushes=pushes,
        report=report,
        error=error,
        can_resolve=_may_resolve(slug),
        form=form,
        refusal=refusal,
        upstream=upstream,
        manage=manage_links(slug),
        amount=lambda minor: "—" if minor is None else to_decimal_string(minor, pot.currency),
    )


def _may_resolve(slug: str) -> bool:
    user = signed_in()
    if user is None:
        return False
    with database().read() as session:
        return may_act(session, user, slug, (Role.TREASURER,))
