"""Money a treasurer records or reverses by hand (on the API, the pages or the command line),
and what the pot's decisions make of it.

Appending and reacting happen in the caller's transaction, under the pot's lock that the
append takes: money that arrives (or that a reversal gives back to available) funds the
approved proposals waiting for it, and a payout out of a proposal's commitment counts as paying
that proposal (``funding.after_entries``). A retry that the ledger recognises (same idempotency
key, same body) records nothing, so it sets nothing in motion either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import accounts, journal, operations
from ledger.entries import get_entry
from ledger.errors import InvalidInput
from ledger.governance import funding
from ledger.governance.models import Proposal, Status
from ledger.models import Entry, Pot
from ledger.operations import Direction
from ledger.pots import find_pot
from ledger.timestamps import utcnow


@dataclass(frozen=True)
class Recorded:
    entry: Entry
    created: bool  # False: an earlier identical request, recognised by its idempotency key
    funded: list[Proposal]  # proposals that were waiting and this money funded, in order


def record_money(
    session: Session,
    slug: str,
    kind: str,
    amount: int,
    *,
    memo: str,
    actor: str,
    external_ref: str | None = None,
    idempotency_key: str | None = None,
    commitment: str | None = None,
    direction: Direction | None = None,
    now: datetime | None = None,
) -> Recorded:
    """Record ``kind`` of ``amount`` minor units in pot ``slug`` (see ``operations.record``),
    then let the pot's decisions react to it."""
    if kind in ("allocation", "release") and commitment and _governed(commitment):
        raise InvalidInput(
            f"money is committed to {commitment} and released from it by the pot's decisions "
            "(approval, withdrawal, closing, a round's settlement), not by hand"
        )
    now = now or utcnow()
    result = operations.record(
        session,
        slug,
        kind,
        amount,
        memo=memo,
        actor=actor,
        external_ref=external_ref,
        idempotency_key=idempotency_key,
        commitment=commitment,
        direction=direction,
        now=now,
    )
    return _react(session, result, actor=actor, now=now)


def reverse_entry(
    session: Session,
    slug: str,
    seq: int,
    *,
    memo: str,
    actor: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Recorded:
    """Append the entry that undoes entry ``seq`` of pot ``slug`` (see ``journal.reverse``),
    then let the pot's decisions react to it as to money recorded: reversing a payout or a fee
    gives money back to available, which waiting proposals must not miss.

    An entry that committed money to a proposal or a round, or released it, is refused: its
    decision stands in the proposal's or round's state too, so it is undone there (withdrawing or
    closing the proposal), never behind its back."""
    original = get_entry(session, find_pot(session, slug), seq)
    if original.kind in ("allocation", "release") and any(
        _governed(p.account.removeprefix(accounts.COMMITTED_PREFIX))
        for p in original.postings
        if accounts.is_committed(p.account)
    ):
        raise InvalidInput(
            f"entry #{seq} is a decision's {original.kind}; undo it through its proposal "
            "(withdraw or close it), not by reversal"
        )
    if original.kind == "payout":
        _check_payout_can_return(session, original)
    now = now or utcnow()
    result = journal.reverse(
        session, slug, seq, memo=memo, actor=actor, idempotency_key=idempotency_key, now=now
    )
    return _react(session, result, actor=actor, now=now)


def _check_payout_can_return(session: Session, payout: Entry) -> None:
    """Reversing a payout out of a proposal's commitment puts the money back into it and takes
    the payment back from the proposal: only while the proposal holds its commitment (partly or
    fully paid, not closed or released), or the money would be stranded in an account no
    decision holds."""
    pot = session.get(Pot, payout.pot_id)
    assert pot is not None
    for proposal, amount in funding.proposals_paid(session, pot, payout):
        if proposal.status not in (*funding.HOLDING, Status.PAID) or amount > proposal.paid_amount:
            raise InvalidInput(
                f"entry #{payout.seq} paid proposal #{proposal.id}, which is {proposal.status}: "
                "its commitment no longer holds money, so the payout cannot go back into it; "
                "record money the payee returns as an adjustment (increase) instead"
            )


def _governed(commitment: str) -> bool:
    """Commitments the pot's decisions keep: to a proposal or to a round's budget."""
    return commitment.startswith(("proposal:", "round:"))


def _react(
    session: Session, result: journal.AppendResult, *, actor: str, now: datetime
) -> Recorded:
    if not result.created:
        return Recorded(result.entry, created=False, funded=[])
    pot = session.get(Pot, result.entry.pot_id)  # the pot the append locked: no query
    assert pot is not None
    funding.after_entries(session, pot, [result.entry], actor=actor, now=now)
    return Recorded(result.entry, created=True, funded=_funded_after(session, pot, result.entry))


def _funded_after(session: Session, pot: Pot, entry: Entry) -> list[Proposal]:
    # Under the pot's lock, every entry after ours is one this transaction appended: a proposal
    # whose funding entry follows ours was funded by reacting to it.
    return list(
        session.scalars(
            select(Proposal)
            .where(Proposal.pot_id == pot.id, Proposal.funding_entry_seq > entry.seq)
            .order_by(Proposal.approval_seq)
        )
    )
