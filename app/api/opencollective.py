"""Open Collective: link a pot, read its sync and push state, reconcile it and resolve differences.

Reading is public; linking needs a steward of the pot, resolving a reconciliation item a treasurer
(site admins pass both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from app.api.access import role_required
from app.auth import require_user
from app.extensions import database
from integrations.opencollective import push as oc_push
from integrations.opencollective import reconcile as oc_reconcile
from integrations.opencollective import store as oc_store
from integrations.opencollective.client import ENV_API_URL, ENV_TOKEN, OpenCollectiveClient
from integrations.opencollective.errors import (
    OpenCollectiveAuthError,
    OpenCollectiveError,
    OpenCollectiveNotFound,
)
from ledger import pots as ledger_pots
from ledger.people.models import Role

from .schemas import MoneySchema

blp = Blueprint(
    "opencollective",
    __name__,
    description="Open Collective: link, sync state, reconciliation and its resolutions",
)

# --- the client, configured from the app (tests) or the environment -----------------------


def open_client(*, quick: bool = False) -> OpenCollectiveClient:
    """A client from OPENCOLLECTIVE_API_URL / OPENCOLLECTIVE_TOKEN (app config first, then the
    environment). ``quick``: short timeouts and one retry, for answering a webhook in time."""
    env = dict(os.environ)
    for key in (ENV_API_URL, ENV_TOKEN):
        if current_app.config.get(key):
            env[key] = str(current_app.config[key])
    options: dict[str, Any] = (
        {"timeout": (3.0, 5.0), "max_retries": 1, "backoff": 0.2} if quick else {}
    )
    return OpenCollectiveClient.from_env(env, **options)


@contextmanager
def upstream_errors() -> Iterator[None]:
    """Open Collective's failures as problems: the request was fine, the upstream was not."""
    try:
        yield
    except OpenCollectiveNotFound as exc:
        abort(404, message=exc.message)
    except OpenCollectiveAuthError as exc:
        abort(502, message=f"Open Collective refused our token: {exc.message}")
    except OpenCollectiveError as exc:
        abort(502, message=f"Open Collective did not answer usefully: {exc.message}")


def _actor() -> str:
    return f"user:{require_user().id}"


def webhook_url(token: str) -> str:
    return url_for("oc_web.webhook", token=token, _external=True)


# --- schemas -------------------------------------------------------------------------------


class LinkRequestSchema(Schema):
    collective = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "The Open Collective account's slug", "example": "civic-tech"},
    )


class PendingPushSchema(Schema):
    proposal = fields.Integer(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    payee = fields.String(required=True, metadata={"description": "Open Collective slug"})


class ExpenseStateSchema(Schema):
    expense_id = fields.String(required=True, metadata={"description": "Public id, ex_..."})
    proposal = fields.Integer(required=True)
    status = fields.String(allow_none=True, required=True)
    last_checked_at = fields.String(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)
    last_error_at = fields.String(allow_none=True, required=True)


class LinkSchema(Schema):
    pot = fields.String(required=True)
    collective = fields.String(required=True)
    linked_at = fields.String(required=True)
    linked_by = fields.String(required=True)
    next_offset = fields.Integer(required=True, metadata={"description": "Sync cursor"})
    last_synced_at = fields.String(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)
    last_error_at = fields.String(allow_none=True, required=True)
    oc_balance = fields.Nested(MoneySchema, allow_none=True, required=True)
    oc_balance_at = fields.String(allow_none=True, required=True)
    expense_type = fields.String(
        required=True, metadata={"description": "GRANT or INVOICE: the type of pushed expenses"}
    )
    last_pushed_at = fields.String(allow_none=True, required=True)
    push_error = fields.String(allow_none=True, required=True)
    push_error_at = fields.String(allow_none=True, required=True)
    pending_pushes = fields.List(
        fields.Nested(PendingPushSchema),
        required=True,
        metadata={"description": "Funded proposals waiting for their Open Collective expense"},
    )
    expenses = fields.List(
        fields.Nested(ExpenseStateSchema),
        required=True,
        metadata={"description": "Pushed expenses still in play or needing a treasurer"},
    )
    finished_expenses = fields.Integer(
        required=True, metadata={"description": "Pushed expenses paid or ended"}
    )


class LinkCreatedSchema(Schema):
    pot = fields.String(required=True)
    collective = fields.String(required=True)
    currency = fields.String(required=True)
    webhook_url = fields.String(
        required=True,
        metadata={
            "description": "Register this URL for collective.transaction.created on Open "
            "Collective. Shown only now: only a hash of its token is kept."
        },
    )


class ItemSchema(Schema):
    key = fields.String(required=True, metadata={"description": "oc:<uuid> or balance"})
    problem = fields.String(required=True)
    currency = fields.String(required=True)
    theirs = fields.Integer(allow_none=True, required=True)
    ours = fields.Integer(required=True)
    delta = fields.Integer(allow_none=True, required=True)
    actions = fields.List(fields.String(), required=True)
    transaction_id = fields.String(allow_none=True)
    legacy_id = fields.Integer(allow_none=True)
    seq = fields.Integer(allow_none=True)
    description = fields.String()
    created_at = fields.String(allow_none=True)


class ReconciliationSchema(Schema):
    pot = fields.String(required=True)
    collective = fields.String(required=True)
    checked_at = fields.String(required=True)
    ok = fields.Boolean(required=True)
    transactions = fields.Integer(required=True)
    matched = fields.Integer(required=True)
    held = fields.Nested(MoneySchema, required=True)
    oc_balance = fields.Nested(MoneySchema, required=True)
    difference = fields.Nested(MoneySchema, required=True)
    items = fields.List(fields.Nested(ItemSchema), required=True)


class ResolutionRequestSchema(Schema):
    item = fields.String(required=True, validate=validate.Length(min=1, max=210))
    action = fields.String(required=True, validate=validate.OneOf(["import", "adjust"]))
    reason = fields.String(validate=validate.Length(max=oc_reconcile.MAX_REASON))
    amount = fields.Integer(
        metadata={"description": "Adjustment in signed minor units (default: the difference)"}
    )


class ResolutionSchema(Schema):
    item = fields.String(required=True)
    problem = fields.String(required=True)
    action = fields.String(required=True)
    seq = fields.Integer(required=True)
    amount = fields.Integer(allow_none=True, required=True)


# --- shaping -------------------------------------------------------------------------------


def report_json(report: oc_reconcile.Report) -> dict[str, Any]:
    def money(amount: int) -> dict[str, Any]:
        return {"amount": amount, "currency": report.currency}

    return {
        "pot": report.slug,
        "collective": report.collective,
        "checked_at": report.checked_at,
        "ok": report.ok,
        "transactions": report.transactions,
        "matched": report.matched,
        "held": money(report.held),
        "oc_balance": money(report.oc_balance),
        "difference": money(report.difference),
        "items": [vars(item) | {"actions": list(item.actions)} for item in report.items],
    }


def push_json(state: oc_push.PushState, link: oc_store.OCLink, currency: str) -> dict[str, Any]:
    return {
        "expense_type": link.expense_type,
        "last_pushed_at": link.last_pushed_at,
        "push_error": link.push_error,
        "push_error_at": link.push_error_at,
        "pending_pushes": [
            {
                "proposal": plan.proposal_id,
                "amount": {"amount": plan.amount, "currency": currency},
                "payee": plan.payee,
            }
            for plan in state.pending
        ],
        "expenses": [
            {
                "expense_id": e.expense_id,
                "proposal": e.proposal_id,
                "status": e.status,
                "last_checked_at": e.last_checked_at,
                "last_error": e.last_error,
                "last_error_at": e.last_error_at,
            }
            for e in state.expenses
        ],
        "finished_expenses": state.finished,
    }


# --- resources -----------------------------------------------------------------------------


@blp.route("/<slug>/opencollective")
class LinkState(MethodView):
    @blp.response(200, LinkSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """The pot's link to Open Collective, the state of its sync and of the push of its
        funded proposals as expenses."""
        with database().read() as session:
            pot, link = oc_store.link_for_slug(session, slug)
            balance = link.oc_balance
            return {
                "pot": pot.slug,
                "collective": link.collective_slug,
                "linked_at": link.linked_at,
                "linked_by": link.linked_by,
                "next_offset": link.next_offset,
                "last_synced_at": link.last_synced_at,
                "last_error": link.last_error,
                "last_error_at": link.last_error_at,
                "oc_balance": None
                if balance is None
                else {"amount": balance, "currency": pot.currency},
                "oc_balance_at": link.oc_balance_at,
                **push_json(oc_push.push_state(session, pot, link), link, pot.currency),
            }


@blp.route("/<slug>/opencollective/link")
class Link(MethodView):
    @role_required(Role.STEWARD)
    @blp.arguments(LinkRequestSchema)
    @blp.response(201, LinkCreatedSchema)
    def post(self, body: dict[str, Any], slug: str) -> dict[str, Any]:
        """Link the pot to an Open Collective account in the same currency.

        The answer holds the webhook URL, shown this once. Linking again to the same collective
        gives a new URL (the old one stops working) and keeps the sync where it was.
        Stewards only.
        """
        with database().read() as session:
            ledger_pots.get_pot(session, slug)  # an unknown pot is a 404 before any network call
        with upstream_errors(), open_client() as client:
            linked = oc_store.link_pot(database(), slug, body["collective"], client, actor=_actor())
        return {
            "pot": linked.slug,
            "collective": linked.collective,
            "currency": linked.currency,
            "webhook_url": webhook_url(linked.webhook_token),
        }


@blp.route("/<slug>/reconciliation")
class Reconciliation(MethodView):
    @blp.response(200, ReconciliationSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """Compare the pot with Open Collective, transaction by transaction, and the balances.

        Reads every Open Collective transaction of the collective: slow for big ones.
        """
        with database().read() as session:
            oc_store.link_for_slug(session, slug)
        with upstream_errors(), open_client() as client:
            return report_json(oc_reconcile.reconcile(database(), slug, client))


@blp.route("/<slug>/reconciliation/resolutions")
class Resolutions(MethodView):
    @role_required(Role.TREASURER)
    @blp.arguments(ResolutionRequestSchema)
    @blp.response(201, ResolutionSchema)
    def post(self, body: dict[str, Any], slug: str) -> dict[str, Any]:
        """Resolve an item: import the missing transaction, or append an adjustment with a
        written reason. Treasurers only."""
        with database().read() as session:
            oc_store.link_for_slug(session, slug)
        with upstream_errors(), open_client() as client:
            done = oc_reconcile.resolve(
                database(),
                slug,
                body["item"],
                client,
                action=body["action"],
                actor=_actor(),
                reason=body.get("reason"),
                amount=body.get("amount"),
            )
        return vars(done)
