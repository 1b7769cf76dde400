"""A proposal's life: drafted, opened for votes, withdrawn, decided, funded, paid, closed.

Each function is one thing a person (or the clock) does, run in the caller's transaction. The
writing ones lock the pot first (``ledger.journal.lock_pot``), so that the rules in force, the
open-proposal limit, the votes and the pot's money are all read and changed under one lock, and
each records its event in the pot's audit log.

A draft is its proposers' own until it opens: only its proposer changes it (its terms, its
co-proposers), only they and its co-proposers may read it (:func:`may_see`, :data:`PUBLIC`,
:func:`get_for`, :func:`visible_to`), and nothing about it goes in the public audit log until it
opens: the event that opens it is its first, and records the terms put to the vote. A draft
withdrawn before it opens leaves no event at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.errors import Forbidden, InvalidInput
from ledger.governance import funding, voting
from ledger.governance.errors import ProposalNotFound, TooManyOpenProposals, WrongState
from ledger.governance.models import (
    MAX_CATEGORY,
    MAX_PAYEE,
    MAX_SUMMARY,
    MAX_TITLE,
    CoProposer,
    Proposal,
    Status,
)
from ledger.governance.rulebook import stored_rules_in_force
from ledger.journal import lock_pot
from ledger.models import Pot
from ledger.money import MAX_AMOUNT, to_decimal_string
from ledger.people.membership import role_in

# Open Collective account slugs: lowercase letters, digits and hyphens.
_OC_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,254}$")
MAX_CO_PROPOSERS = 20
#: The proposals anyone may read: those opened for votes, and those a round's result decided
#: (they never open: the round's vote was theirs). Before that (a draft, or a draft withdrawn
#: unopened) a proposal is seen only by its proposer and co-proposers.
PUBLIC = Proposal.opened_at.is_not(None) | Proposal.decided_at.is_not(None)


def is_public(proposal: Proposal) -> bool:
    """:data:`PUBLIC`, for one proposal in hand."""
    return proposal.opened_at is not None or proposal.decided_at is not None


@dataclass(frozen=True)
class Draft:
    """What a member submits; validated by :func:`submit`."""

    title: str
    summary: str
    amount: int
    payee_name: str
    payee_oc_slug: str | None = None
    category: str | None = None
    co_proposers: Sequence[int] = ()


def submit(
    session: Session, slug: str, draft: Draft, *, user_id: int, open_now: bool, now: datetime
) -> Proposal:
    pot = lock_pot(session, slug)
    _check_draft(draft, pot)
    if role_in(session, pot.id, user_id) is None:
        raise Forbidden(f"only members of {slug} may submit proposals")
    co = sorted(set(draft.co_proposers) - {user_id})
    for other in co:
        _check_member(session, pot, other)
    proposal = Proposal(
        pot_id=pot.id,
        proposer_id=user_id,
        title=draft.title.strip(),
        summary=draft.summary,
        amount=draft.amount,
        payee_name=draft.payee_name.strip(),
        payee_oc_slug=draft.payee_oc_slug,
        category=(draft.category or "").strip() or None,
        status=Status.DRAFT,
        created_at=now,
        paid_amount=0,
    )
    session.add(proposal)
    session.flush()
    session.add_all(CoProposer(proposal_id=proposal.id, user_id=u) for u in co)
    if not open_now:
        # No event: the audit log is public and a draft is not. Its opening records its terms.
        return proposal
    audit.record(
        session,
        pot,
        "proposal_created",
        actor=f"user:{user_id}",
        proposal_id=proposal.id,
        data={
            "title": proposal.title,
            "amount": proposal.amount,
            "currency": pot.currency,
            "payee": proposal.payee_name,
            "co_proposers": co,
        },
        now=now,
    )
    _open(session, pot, proposal, user_id=user_id, now=now)
    return proposal


def open_for_votes(session: Session, proposal_id: int, *, user_id: int, now: datetime) -> Proposal:
    pot, proposal = _locked(session, proposal_id)
    if proposal.proposer_id != user_id:
        raise Forbidden("only its proposer can open a draft for votes")
    _open(session, pot, proposal, user_id=user_id, now=now)
    return proposal


def revise(session: Session, proposal_id: int, draft: Draft, *, user_id: int) -> Proposal:
    """Its proposer changes a draft's terms. Co-proposers are not terms: they are added and
    removed one by one (:func:`add_co_proposer`). Nothing goes in the audit log until the draft
    opens, and the opening event records the terms as they are then."""
    pot, proposal = _locked(session, proposal_id)
    check_may_change(proposal, user_id)
    if draft.co_proposers:
        raise InvalidInput("co-proposers are added and removed one at a time, not by editing")
    _check_draft(draft, pot)
    proposal.title = draft.title.strip()
    proposal.summary = draft.summary
    proposal.amount = draft.amount
    proposal.payee_name = draft.payee_name.strip()
    proposal.payee_oc_slug = draft.payee_oc_slug
    proposal.category = (draft.category or "").strip() or None
    return proposal


def add_co_proposer(
    session: Session, proposal_id: int, member_id: int, *, user_id: int
) -> Proposal:
    """Its proposer names another member of the pot as putting the draft forward with them (so
    they may read it, and will not vote on it). Naming someone already named changes nothing."""
    pot, proposal = _locked(session, proposal_id)
    check_may_change(proposal, user_id)
    if member_id == proposal.proposer_id:
        raise InvalidInput("co-proposer: you are already its proposer")
    named = co_proposers_of(session, proposal)
    if member_id in named:
        return proposal
    if len(named) >= MAX_CO_PROPOSERS:
        raise InvalidInput(f"co-proposer: at most {MAX_CO_PROPOSERS} co-proposers")
    _check_member(session, pot, member_id)
    session.add(CoProposer(proposal_id=proposal.id, user_id=member_id))
    session.flush()
    return proposal


def remove_co_proposer(
    session: Session, proposal_id: int, member_id: int, *, user_id: int
) -> Proposal:
    """Its proposer takes a co-proposer off a draft, or a co-proposer takes themselves off (nobody
    stays named on a proposal, and out of its vote, against their will). Taking off someone not
    named changes nothing."""
    _, proposal = _locked(session, proposal_id)  # locked: no change races the vote opening
    if user_id != member_id:
        check_may_change(proposal, user_id)
    elif proposal.status != Status.DRAFT:
        raise _no_longer_a_draft(proposal)
    named = session.get(CoProposer, (proposal.id, member_id))
    if named is not None:
        session.delete(named)
        session.flush()
    return proposal


def check_may_change(proposal: Proposal, user_id: int) -> None:
    """Only its proposer changes a proposal, and only while it is a draft: once open, members
    vote on what they read."""
    if proposal.proposer_id != user_id:
        raise Forbidden("only its proposer can change a draft")
    if proposal.status != Status.DRAFT:
        raise _no_longer_a_draft(proposal)


def withdraw(session: Session, proposal_id: int, *, user_id: int, now: datetime) -> Proposal:
    """The proposer takes it back: before a decision, or funded but not yet paid (the
    commitment is released and waiting proposals may be funded from it). A draft taken back
    before it opened stays its proposers' alone: nothing is recorded in the audit log."""
    pot, proposal = _locked(session, proposal_id)
    if proposal.proposer_id != user_id:
        raise Forbidden("only its proposer can withdraw a proposal")
    voting.settle(session, pot, proposal, now=now)  # a decision already due stands
    if proposal.status not in (Status.DRAFT, Status.OPEN, Status.APPROVED, Status.FUNDED):
        raise WrongState(f"proposal #{proposal.id} is {proposal.status}; it cannot be withdrawn")
    released = funding.release(
        session, pot, proposal, actor=f"user:{user_id}", why="withdrawn", now=now
    )
    proposal.status = Status.WITHDRAWN
    if is_public(proposal):  # a draft never in the public log stays out of it
        audit.record(
            session,
            pot,
            "proposal_withdrawn",
            actor=f"user:{user_id}",
            proposal_id=proposal.id,
            data={"released": released},
            now=now,
        )
    if released:
        funding.fund_waiting(session, pot, now=now)
    return proposal


def vote(
    session: Session,
    proposal_id: int,
    *,
    user_id: int,
    choice: str,
    reason: str | None,
    ballot_key: bytes,
    now: datetime,
) -> Proposal:
    pot, proposal = _locked(session, proposal_id)
    voting.cast_vote(
        session,
        pot,
        proposal,
        user_id=user_id,
        choice=choice,
        reason=reason,
        ballot_key=ballot_key,
        now=now,
    )
    return proposal


def pay(
    session: Session,
    proposal_id: int,
    amount: int,
    *,
    memo: str | None,
    actor: str,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[Proposal, int]:
    """A treasurer records a payout against a funded proposal; returns it and the entry's seq."""
    pot, proposal = _locked(session, proposal_id)
    result = funding.record_payout(
        session,
        pot,
        proposal,
        amount,
        memo=memo or f"Payment for proposal #{proposal.id}: {proposal.title}",
        actor=actor,
        idempotency_key=idempotency_key,
        now=now,
    )
    return proposal, result.entry.seq


def close(session: Session, proposal_id: int, *, actor: str, now: datetime) -> Proposal:
    """A treasurer closes a funded or partly paid proposal: what was not paid goes back."""
    pot, proposal = _locked(session, proposal_id)
    if proposal.status not in (*funding.HOLDING, Status.PAID):
        raise WrongState(f"proposal #{proposal.id} is {proposal.status}; only funded ones close")
    released = funding.release(session, pot, proposal, actor=actor, why="closed", now=now)
    proposal.status = Status.CLOSED
    audit.record(
        session,
        pot,
        "proposal_closed",
        actor=actor,
        proposal_id=proposal.id,
        data={"paid": proposal.paid_amount, "released": released},
        now=now,
    )
    if released:
        funding.fund_waiting(session, pot, now=now)
    return proposal


def close_due(session: Session, slug: str, *, now: datetime) -> list[Proposal]:
    """Apply every decision due in the pot by ``now``, then fund what waits. Safe to run from
    several hosts at once: each runs under the pot's lock and re-reads the statuses."""
    pot = lock_pot(session, slug)
    due = session.scalars(
        select(Proposal)
        .where(
            Proposal.pot_id == pot.id,
            Proposal.status == Status.OPEN,
            Proposal.closes_at <= now,
        )
        .order_by(Proposal.closes_at, Proposal.id)
    ).all()
    settled = [p for p in due if voting.settle(session, pot, p, now=now) is not None]
    funding.fund_waiting(session, pot, now=now)
    return settled


def pots_with_due_proposals(session: Session, *, now: datetime) -> list[str]:
    """Pots with a decision due, or with approved proposals waiting for funds."""
    due = (Proposal.status == Status.OPEN) & (Proposal.closes_at <= now)
    return list(
        session.scalars(
            select(Pot.slug)
            .join(Proposal, Proposal.pot_id == Pot.id)
            .where(due | (Proposal.status == Status.APPROVED))
            .distinct()
            .order_by(Pot.slug)
        )
    )


def get(session: Session, proposal_id: object) -> Proposal:
    valid = isinstance(proposal_id, int) and not isinstance(proposal_id, bool)
    if not valid or not 0 < proposal_id <= MAX_AMOUNT:  # type: ignore[operator]
        raise ProposalNotFound(f"there is no proposal {proposal_id!r:.40}")
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise ProposalNotFound(f"there is no proposal {proposal_id}")
    return proposal


def get_for(session: Session, proposal_id: object, *, viewer_id: int | None) -> Proposal:
    """:func:`get`, as ``viewer_id`` (None: the public) may read it: someone else's draft is
    not found, in the very words used for a proposal that does not exist, so that the answer
    does not tell whether there is a draft behind the id."""
    proposal = get(session, proposal_id)
    if not may_see(session, proposal, viewer_id):
        raise ProposalNotFound(f"there is no proposal {proposal.id}")
    return proposal


def may_see(session: Session, proposal: Proposal, viewer_id: int | None) -> bool:
    """Whether ``viewer_id`` (None: the public) may read ``proposal`` (see :data:`PUBLIC`).
    Being a site admin changes nothing: a draft is not yet the community's business."""
    if is_public(proposal):
        return True
    return viewer_id is not None and viewer_id in voting.proposers(session, proposal)


def visible_to(viewer_id: int | None) -> ColumnElement[bool]:
    """The proposals listed for ``viewer_id`` (None: the public), as a query's condition: the
    :data:`PUBLIC` ones and the drafts they propose or co-propose (those of :func:`drafts_of`).
    A draft withdrawn unopened is listed for nobody, as on the pages."""
    if viewer_id is None:
        return PUBLIC
    return PUBLIC | _drafts_of(viewer_id)


def co_proposers_of(session: Session, proposal: Proposal) -> list[int]:
    return list(
        session.scalars(
            select(CoProposer.user_id)
            .where(CoProposer.proposal_id == proposal.id)
            .order_by(CoProposer.user_id)
        )
    )


def drafts_of(session: Session, pot: Pot, user_id: int) -> list[Proposal]:
    """The pot's drafts that ``user_id`` proposes or co-proposes, oldest first."""
    return list(
        session.scalars(
            select(Proposal)
            .where(Proposal.pot_id == pot.id, _drafts_of(user_id))
            .order_by(Proposal.id)
        )
    )


def _drafts_of(user_id: int) -> ColumnElement[bool]:
    """The drafts ``user_id`` proposes or co-proposes (as :func:`voting.proposers`)."""
    co_proposed = select(CoProposer.proposal_id).where(CoProposer.user_id == user_id)
    return (Proposal.status == Status.DRAFT) & (
        (Proposal.proposer_id == user_id) | Proposal.id.in_(co_proposed)
    )


def list_proposals(
    session: Session,
    pot: Pot,
    *,
    status: str | None = None,
    category: str | None = None,
    proposer_id: int | None = None,
    public_only: bool = False,
    viewer_id: int | None = None,
    after_id: int = 0,
    limit: int = 50,
) -> list[Proposal]:
    """The pot's proposals by id. ``public_only``: only those listed for ``viewer_id`` (None:
    the public), see :func:`visible_to`; without it, all of them (for the operator's tools)."""
    query = select(Proposal).where(Proposal.pot_id == pot.id, Proposal.id > after_id)
    if public_only:
        query = query.where(visible_to(viewer_id))
    elif viewer_id is not None:
        raise ValueError("viewer_id only narrows a public_only list")
    if status is not None:
        query = query.where(Proposal.status == status)
    if category is not None:
        query = query.where(Proposal.category == category)
    if proposer_id is not None:
        query = query.where(Proposal.proposer_id == proposer_id)
    return list(session.scalars(query.order_by(Proposal.id).limit(limit)))


def pot_of(session: Session, proposal: Proposal) -> Pot:
    pot = session.get(Pot, proposal.pot_id)
    assert pot is not None
    return pot


def _open(session: Session, pot: Pot, proposal: Proposal, *, user_id: int, now: datetime) -> None:
    if proposal.status != Status.DRAFT:
        raise WrongState(f"proposal #{proposal.id} is {proposal.status}, not a draft")
    rules = stored_rules_in_force(session, pot, now=now)
    if not rules.allows_amount(proposal.amount):
        assert rules.max_amount is not None
        raise InvalidInput(
            f"the amount is over this pot's limit of "
            f"{to_decimal_string(rules.max_amount, pot.currency)} {pot.currency} per proposal"
        )
    already_open = session.scalar(
        select(func.count())
        .select_from(Proposal)
        .where(
            Proposal.pot_id == pot.id,
            Proposal.proposer_id == user_id,
            Proposal.status == Status.OPEN,
        )
    )
    if not rules.may_open_another(already_open or 0):
        raise TooManyOpenProposals(
            f"you already have {already_open} open proposals; the rules allow "
            f"{rules.max_open_proposals_per_member} at a time"
        )
    proposal.status = Status.OPEN
    proposal.rules_version = rules.version
    proposal.opened_at = now
    proposal.closes_at = rules.deadline_for(now)
    audit.record(
        session,
        pot,
        "proposal_opened",
        actor=f"user:{user_id}",
        proposal_id=proposal.id,
        data={
            "rules_version": rules.version,
            "closes_at": proposal.closes_at.isoformat(),
            # What is put to the vote: a draft may have changed since it was created.
            "title": proposal.title,
            "amount": proposal.amount,
            "currency": pot.currency,
            "payee": proposal.payee_name,
            "co_proposers": co_proposers_of(session, proposal),
        },
        now=now,
    )


def _locked(session: Session, proposal_id: int) -> tuple[Pot, Proposal]:
    """The proposal's pot, locked, and the proposal re-read under that lock."""
    proposal = get(session, proposal_id)
    slug = session.scalar(select(Pot.slug).where(Pot.id == proposal.pot_id))
    assert slug is not None
    pot = lock_pot(session, slug)
    session.refresh(proposal)  # as it is now that we hold the lock
    return pot, proposal


def _no_longer_a_draft(proposal: Proposal) -> WrongState:
    return WrongState(f"proposal #{proposal.id} is {proposal.status}; only a draft can change")


def _check_member(session: Session, pot: Pot, user_id: int) -> None:
    if role_in(session, pot.id, user_id) is None:
        raise InvalidInput(f"co-proposer {user_id} is not a member of {pot.slug}")


def _check_draft(draft: Draft, pot: Pot) -> None:
    _line("title", draft.title, MAX_TITLE)
    if not isinstance(draft.summary, str) or len(draft.summary) > MAX_SUMMARY:
        raise InvalidInput(f"summary: text of at most {MAX_SUMMARY} characters")
    amount = draft.amount
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput(
            f"amount: a whole number of minor units ({pot.currency}), not {amount!r:.40}"
        )
    if not 0 < amount <= MAX_AMOUNT:
        raise InvalidInput("amount: must be more than zero and at most 2^53 - 1 minor units")
    _line("payee name", draft.payee_name, MAX_PAYEE)
    if draft.payee_oc_slug is not None and (
        not isinstance(draft.payee_oc_slug, str) or not _OC_SLUG.match(draft.payee_oc_slug)
    ):
        raise InvalidInput("payee Open Collective slug: lowercase letters, digits and hyphens")
    if draft.category is not None:
        _line("category", draft.category, MAX_CATEGORY, required=False)
    if len(draft.co_proposers) > MAX_CO_PROPOSERS:
        raise InvalidInput(f"at most {MAX_CO_PROPOSERS} co-proposers")


def _line(name: str, value: object, limit: int, *, required: bool = True) -> None:
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: must be text")
    if required and not value.strip():
        raise InvalidInput(f"{name}: must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{name}: at most {limit} characters; this is {len(value)}")
    if any(ord(c) < 0x20 for c in value):
        raise InvalidInput(f"{name}: one line of text, without control characters")
