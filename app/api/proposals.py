"""Proposals: submit, read, open, withdraw, vote, pay out and close.

Views parse, check who is asking, call one service function in one unit of work and shape the
answer; the rules live in ``ledger.governance``.

A draft is its proposer's and co-proposers' alone until it opens, as on the pages: every view
finds the proposal through ``proposals.get_for`` (``may_see``), so someone else's draft is a
404, exactly like an id nobody used, whatever is asked of it; lists hold the public proposals
and the caller's own drafts (``proposals.visible_to``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app import markdown
from app.api.access import role_required, signed_in
from app.api.pots import decode_cursor, encode_cursor
from app.api.proposal_schemas import (
    PayoutInSchema,
    PayoutResultSchema,
    ProposalDetailSchema,
    ProposalInSchema,
    ProposalPageSchema,
    ProposalQuerySchema,
    VoteInSchema,
)
from app.auth import current_user, require_role, require_user
from app.extensions import database
from app.idempotency import idempotent
from ledger import pots as ledger_pots
from ledger.governance import proposals, reading
from ledger.governance.models import Proposal
from ledger.people.models import Role
from ledger.timestamps import utcnow

blp = Blueprint("proposals", __name__, description="Proposals, votes and their money")
F = TypeVar("F", bound=Callable[..., Any])


def ballot_key() -> bytes:
    """The key that names secret-ballot rows (see ``ledger.governance.voting.voter_key``)."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"commonpot ballot key v1", hashlib.sha256).digest()


def treasurer_of_its_pot(view: F) -> F:
    """401/403 before the body is read, unless a treasurer of the proposal's pot asks."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _require_role_for(kwargs["proposal_id"], Role.TREASURER)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _require_role_for(proposal_id: int, role: Role) -> None:
    user = require_user()
    with database().read() as session:
        # Not found before forbidden: a 403 would say there is a draft behind the id.
        proposal = proposals.get_for(session, proposal_id, viewer_id=user.id)
        slug = proposals.pot_of(session, proposal).slug
    require_role(slug, role)


def viewer_id() -> int | None:
    """Whom the proposals are read for: the signed-in caller, or None for the public."""
    user = current_user()
    return user.id if user else None


def describe(session: Any, proposal: Proposal) -> dict[str, Any]:
    pot = proposals.pot_of(session, proposal)
    return reading.summary(session, pot, proposal, now=utcnow(), render=markdown.render)


def describe_fully(session: Any, proposal: Proposal) -> dict[str, Any]:
    pot = proposals.pot_of(session, proposal)
    return reading.detail(
        session,
        pot,
        proposal,
        now=utcnow(),
        render=markdown.render,
        viewer_id=viewer_id(),
        ballot_key=ballot_key(),
    )


@blp.route("/pots/<slug>/proposals")
class PotProposals(MethodView):
    @blp.arguments(ProposalQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, ProposalPageSchema)
    def get(self, slug: str, limit: int, cursor: str | None = None, **filters: Any) -> dict:
        """Proposals of a pot, oldest first, filtered by status, category or proposer.

        Drafts are listed only for their proposer and co-proposers (`status=draft`: the
        caller's own drafts); everyone else sees the proposals opened for votes."""
        after = decode_cursor(cursor) if cursor else 0
        with database().read() as session:
            pot = ledger_pots.get_pot(session, slug)
            page = proposals.list_proposals(
                session,
                pot,
                status=filters.get("status"),
                category=filters.get("category"),
                proposer_id=filters.get("proposer"),
                public_only=True,
                viewer_id=viewer_id(),
                after_id=after,
                limit=limit + 1,
            )
            items = reading.summaries(
                session, pot, page[:limit], now=utcnow(), render=markdown.render
            )
        more = len(page) > limit
        return {"items": items, "next_cursor": encode_cursor(page[limit - 1].id) if more else None}

    @role_required()
    @idempotent
    @blp.arguments(ProposalInSchema)
    @blp.response(201, ProposalDetailSchema)
    def post(self, body: dict[str, Any], slug: str) -> dict[str, Any]:
        """Submit a proposal (open for votes at once, unless ``draft`` is true). Members only."""
        user = require_user()
        draft = proposals.Draft(
            title=body["title"],
            summary=body["summary"],
            amount=body["amount"],
            payee_name=body["payee"]["name"],
            payee_oc_slug=body["payee"]["opencollective"],
            category=body["category"],
            co_proposers=body["co_proposers"],
        )
        with database().write() as session:
            proposal = proposals.submit(
                session, slug, draft, user_id=user.id, open_now=not body["draft"], now=utcnow()
            )
            return describe_fully(session, proposal)


@blp.route("/proposals/<int:proposal_id>")
class ProposalDetail(MethodView):
    @blp.response(200, ProposalDetailSchema)
    def get(self, proposal_id: int) -> dict[str, Any]:
        """One proposal with its tally, decision, money and timeline. A draft is found only
        by its proposer and co-proposers (404 for anyone else)."""
        with database().read() as session:
            proposal = proposals.get_for(session, proposal_id, viewer_id=viewer_id())
            return describe_fully(session, proposal)


def _proposal_action(name: str, doc: str, action: Any) -> None:
    """Register ``POST /proposals/<id>/<name>`` running ``action(session, id, user)``."""

    def view(proposal_id: int) -> dict[str, Any]:
        user = require_user()
        with database().write() as session:
            proposals.get_for(session, proposal_id, viewer_id=user.id)
            proposal = action(session, proposal_id, user)
            return describe_fully(session, proposal)

    view.__name__ = f"proposal_{name}"
    view.__doc__ = doc
    blp.route(f"/proposals/<int:proposal_id>/{name}", methods=["POST"])(
        blp.response(200, ProposalDetailSchema)(view)
    )


_proposal_action(
    "open",
    "Open a draft for votes (its proposer).",
    lambda s, pid, user: proposals.open_for_votes(s, pid, user_id=user.id, now=utcnow()),
)
_proposal_action(
    "withdraw",
    "Withdraw a proposal (its proposer); a funded, unpaid one gives its money back.",
    lambda s, pid, user: proposals.withdraw(s, pid, user_id=user.id, now=utcnow()),
)


@blp.route("/proposals/<int:proposal_id>/close", methods=["POST"])
@treasurer_of_its_pot
@blp.response(200, ProposalDetailSchema)
def close_proposal(proposal_id: int) -> dict[str, Any]:
    """Close a funded proposal (treasurers): what was not paid goes back to available."""
    with database().write() as session:
        proposal = proposals.close(session, proposal_id, actor=_actor(), now=utcnow())
        return describe_fully(session, proposal)


@blp.route("/proposals/<int:proposal_id>/votes", methods=["POST"])
@signed_in
@blp.arguments(VoteInSchema)
@blp.response(200, ProposalDetailSchema)
def cast_vote(body: dict[str, Any], proposal_id: int) -> dict[str, Any]:
    """Vote ``approve``, ``object`` (a block under consent) or ``abstain``; voting again changes
    your vote until the proposal is decided."""
    user = require_user()
    with database().write() as session:
        proposals.get_for(session, proposal_id, viewer_id=user.id)
        proposal = proposals.vote(
            session,
            proposal_id,
            user_id=user.id,
            choice=body["choice"],
            reason=body["reason"],
            ballot_key=ballot_key(),
            now=utcnow(),
        )
        return describe_fully(session, proposal)


@blp.route("/proposals/<int:proposal_id>/payouts", methods=["POST"])
@treasurer_of_its_pot
@idempotent
@blp.arguments(PayoutInSchema)
@blp.response(201, PayoutResultSchema)
def pay_out(body: dict[str, Any], proposal_id: int) -> dict[str, Any]:
    """Record money paid out of a funded proposal's commitment (treasurers); partial payouts
    are allowed, never more than is left."""
    with database().write() as session:
        proposal, seq = proposals.pay(
            session,
            proposal_id,
            body["amount"],
            memo=body["memo"],
            actor=_actor(),
            idempotency_key=_ledger_key(request.headers.get("Idempotency-Key")),
            now=utcnow(),
        )
        return {"proposal": describe(session, proposal), "entry_seq": seq}


def _ledger_key(key: str | None) -> str | None:
    """The ledger's idempotency keys are per pot, the API's per caller: keep them apart."""
    return None if key is None else f"api:{require_user().id}:{key}"


def _actor() -> str:
    user = require_user()
    return f"user:{user.id}"
