"""A member's own pages: joining a pot with an invitation, and "my drafts, proposals and votes".

Joining calls ``ledger.people.membership.accept`` as the API does: signed in, you join as
yourself; otherwise the invitation makes your account (name and password). Someone whose email
already has an account signs in first and comes back to the link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import login_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from app.api.proposals import ballot_key
from app.extensions import database
from app.problems import status_for
from app.web.forms import AcceptInvitationForm, sentence
from app.web.proposals import PotView, describe_all
from app.web.signin import SignedIn, login_required, signed_in
from ledger.chain import format_timestamp
from ledger.errors import LedgerError, Unauthenticated
from ledger.governance import proposals, voting
from ledger.governance.models import Proposal, Status, Vote
from ledger.models import Pot
from ledger.people import membership
from ledger.people.models import User

blp = Blueprint("account", __name__)

#: How many of a pot's newest proposals "my votes" looks through.
VOTES_LOOKBACK = 1000


@blp.route("/invitations/accept", methods=["GET", "POST"])
def accept_invitation() -> Response | tuple[str, int]:
    user = signed_in()
    form = AcceptInvitationForm()
    form.creating_account = user is None
    if request.method == "GET":
        form.token.data = request.args.get("token", "")
    problem = None
    status = 200
    if form.validate_on_submit():
        try:
            with database().write() as db_session:
                account = db_session.get(User, user.id) if user else None
                joined = membership.accept(
                    db_session,
                    form.token.data or "",
                    user=account,
                    name=None if user else form.name.data,
                    password=None if user else form.password.data,
                )
                person = SignedIn(
                    joined.user.id,
                    joined.user.email,
                    joined.user.display_name,
                    joined.user.is_admin,
                )
                slug, pot_name = joined.pot.slug, joined.pot.name
        except LedgerError as exc:
            problem = sentence(exc.detail)
            status = status_for(exc)
            if isinstance(exc, Unauthenticated):
                status = 409  # an existing account: sign in first (not a failed sign-in)
        else:
            if user is None:
                session.clear()  # a new session for the new account (no fixation)
                login_user(person)
            flash(f"Welcome to {pot_name}. You are a member now.")
            return redirect(url_for("web.pots.overview", slug=slug))
    elif form.is_submitted():
        status = 400
    if not form.token.data:
        problem = (
            problem or "This link has no invitation token: open the link from your invitation."
        )
        status = 400
    return render_template(
        "account/accept.html",
        form=form,
        user=user,
        problem=problem,
        sign_in_next=url_for("web.account.accept_invitation", token=form.token.data or ""),
    ), status


@dataclass(frozen=True)
class MyVote:
    proposal: dict[str, Any]
    choice: str
    reason: str | None
    changed_at: str


@dataclass(frozen=True)
class MyPot:
    pot: PotView
    role: str
    drafts: list[dict[str, Any]]  # mine and those I co-propose: only their proposers see them
    proposals: list[dict[str, Any]]
    votes: list[MyVote]


@blp.get("/me")
@login_required
def me() -> str:
    user = signed_in()
    assert user is not None
    with database().read() as db_session:
        account = db_session.get(User, user.id)
        assert account is not None
        mine = [
            MyPot(
                PotView.of(pot),
                joined.role,
                describe_all(db_session, pot, proposals.drafts_of(db_session, pot, user.id)),
                _my_proposals(db_session, pot, user.id),
                _my_votes(db_session, pot, user.id),
            )
            for pot, joined in membership.memberships_of(db_session, account)
        ]
    return render_template("account/me.html", mine=mine)


def _my_proposals(db_session: Session, pot: Pot, user_id: int) -> list[dict[str, Any]]:
    """Everything I proposed but my drafts (listed apart)."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        batch = proposals.list_proposals(
            db_session, pot, proposer_id=user_id, after_id=after, limit=100
        )
        found.extend(describe_all(db_session, pot, [p for p in batch if p.status != Status.DRAFT]))
        if len(batch) < 100:
            return found[::-1]  # newest first
        after = batch[-1].id


def _my_votes(db_session: Session, pot: Pot, user_id: int) -> list[MyVote]:
    """Found by the key that names the voter's row, so secret-ballot votes are found too
    (and only by the voter)."""
    recent = db_session.scalars(
        select(Proposal)
        .where(Proposal.pot_id == pot.id, Proposal.opened_at.is_not(None))
        .order_by(Proposal.id.desc())
        .limit(VOTES_LOOKBACK)
    ).all()
    key = ballot_key()
    by_key = {voting.voter_key(key, p.id, user_id): p for p in recent}
    if not by_key:
        return []
    votes = db_session.scalars(
        select(Vote).where(
            Vote.proposal_id.in_([p.id for p in recent]), Vote.voter_key.in_(list(by_key))
        )
    ).all()
    voted_on = describe_all(db_session, pot, [by_key[v.voter_key] for v in votes])
    described = {v.voter_key: d for v, d in zip(votes, voted_on, strict=True)}
    return sorted(
        (
            MyVote(described[v.voter_key], v.choice, v.reason, format_timestamp(v.changed_at))
            for v in votes
        ),
        key=lambda v: v.proposal["id"],
        reverse=True,
    )
