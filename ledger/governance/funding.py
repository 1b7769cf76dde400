"""Turning decisions into money: commitments, the queue of approved proposals waiting for
funds, payouts against a commitment, and releasing what is left.

Every function here runs inside the caller's transaction with the pot's lock held, so a
decision and its money move together or not at all, and two processes can never both commit
the same pound. Proposals wait in approval order: money that arrives goes to the proposal
approved first, and a later one is never funded ahead of an earlier one still waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import accounts, audit
from ledger.batch import AppendedEntry
from ledger.chain import parse_json_object
from ledger.errors import InsufficientFunds, InvalidInput
from ledger.governance.models import Proposal, Status
from ledger.journal import AppendResult, EntryRequest, append_locked
from ledger.models import Balance, Entry, Pot
from ledger.money import to_decimal_string, validate_minor_amount
from ledger.operations import postings_for

#: Statuses in which a proposal holds a commitment in the ledger.
HOLDING = (Status.FUNDED, Status.PARTLY_PAID)


def commitment_ref(proposal: Proposal) -> str:
    return f"proposal:{proposal.id}"


def queue_for_funding(session: Session, pot: Pot, proposal: Proposal, *, now: datetime) -> None:
    """An approved proposal joins the queue and is funded at once if nothing waits before it."""
    last = session.scalar(select(func.max(Proposal.approval_seq)).where(Proposal.pot_id == pot.id))
    proposal.approval_seq = (last or 0) + 1
    proposal.status = Status.APPROVED
    fund_waiting(session, pot, now=now)


def fund_waiting(session: Session, pot: Pot, *, now: datetime) -> list[Proposal]:
    """Fund waiting proposals in approval order until the money runs out; returns those funded."""
    funded: list[Proposal] = []
    waiting = session.scalars(
        select(Proposal)
        .where(Proposal.pot_id == pot.id, Proposal.status == Status.APPROVED)
        .order_by(Proposal.approval_seq)
    )
    for proposal in waiting:
        if available(session, pot) < proposal.amount:
            break
        _commit(session, pot, proposal, now=now)
        funded.append(proposal)
    return funded


def available(session: Session, pot: Pot) -> int:
    return (
        session.scalar(
            select(Balance.amount).where(
                Balance.pot_id == pot.id, Balance.account == accounts.AVAILABLE
            )
        )
        or 0
    )


def _commit(session: Session, pot: Pot, proposal: Proposal, *, now: datetime) -> None:
    decision = _decision(proposal)
    result = append_locked(
        session,
        pot,
        EntryRequest(
            kind="allocation",
            memo=f"Funding proposal #{proposal.id}: {proposal.title}",
            actor="decision",
            postings=postings_for(
                "allocation", proposal.amount, commitment=commitment_ref(proposal)
            ),
            idempotency_key=f"proposal:{proposal.id}:funding",
            data={
                "proposal": proposal.id,
                "rule_version": proposal.rules_version,
                "decision": decision,
            },
        ),
        now=now,
    )
    proposal.status = Status.FUNDED
    proposal.funded_at = now
    proposal.funding_entry_seq = result.entry.seq
    audit.record(
        session,
        pot,
        "proposal_funded",
        actor="decision",
        proposal_id=proposal.id,
        data={"amount": proposal.amount, "entry": result.entry.seq, "hash": result.entry.hash},
        now=now,
    )


def record_payout(
    session: Session,
    pot: Pot,
    proposal: Proposal,
    amount: int,
    *,
    memo: str,
    actor: str,
    idempotency_key: str | None = None,
    external_ref: str | None = None,
    now: datetime,
) -> AppendResult:
    """Pay part or all of a funded proposal out of its commitment (never more than is left)."""
    validate_minor_amount(amount)
    if proposal.status not in HOLDING:
        raise InvalidInput(
            f"proposal #{proposal.id} is {proposal.status}; only a funded proposal can be paid"
        )
    left = proposal.amount - proposal.paid_amount
    if amount > left:
        raise InsufficientFunds(
            f"proposal #{proposal.id} has {to_decimal_string(left, pot.currency)} {pot.currency} "
            f"left of its commitment; {to_decimal_string(amount, pot.currency)} is more",
            account=accounts.committed(commitment_ref(proposal)),
            balance=left,
            requested=amount,
        )
    result = append_locked(
        session,
        pot,
        EntryRequest(
            kind="payout",
            memo=memo,
            actor=actor,
            postings=postings_for("payout", amount, commitment=commitment_ref(proposal)),
            idempotency_key=idempotency_key,
            external_ref=external_ref,
            data={"proposal": proposal.id},
        ),
        now=now,
    )
    if result.created:
        note_payout(
            session, pot, proposal, amount, entry_seq=result.entry.seq, actor=actor, now=now
        )
    return result


def note_payout(
    session: Session,
    pot: Pot,
    proposal: Proposal,
    amount: int,
    *,
    entry_seq: int,
    actor: str,
    now: datetime,
) -> None:
    """Account for money already appended out of the proposal's commitment (``amount`` > 0: a
    payout, by a treasurer or by the Open Collective sync when the expense was paid there), or
    back into it (< 0: the reversal of a payout, which ``treasury.reverse_entry`` allows only
    while the proposal holds its commitment): the proposal is that much more, or less, paid."""
    proposal.paid_amount += amount
    if amount < 0:
        proposal.status = Status.PARTLY_PAID if proposal.paid_amount else Status.FUNDED
        kind = "proposal_payout_reversed"
    elif proposal.paid_amount == proposal.amount:
        proposal.status, kind = Status.PAID, "proposal_paid"
    else:
        proposal.status, kind = Status.PARTLY_PAID, "proposal_payout"
    audit.record(
        session,
        pot,
        kind,
        actor=actor,
        proposal_id=proposal.id,
        data={"amount": abs(amount), "paid": proposal.paid_amount, "entry": entry_seq},
        now=now,
    )


def after_entries(
    session: Session,
    pot: Pot,
    entries: Sequence[Entry | AppendedEntry],
    *,
    actor: str,
    now: datetime,
) -> None:
    """What the pot's decisions make of entries appended outside them (sync, a treasurer's
    command): payouts out of a proposal's commitment count as paying it, the reversal of one as
    taking that payment back, and money arriving funds the proposals waiting for it."""
    for entry in entries:
        if entry.kind not in ("payout", "reversal"):
            continue
        for proposal, amount in proposals_paid(session, pot, entry):
            paying = entry.kind == "payout" and amount > 0 and proposal.status in HOLDING
            taking_back = entry.kind == "reversal" and amount < 0
            if paying or taking_back:
                note_payout(
                    session, pot, proposal, amount, entry_seq=entry.seq, actor=actor, now=now
                )
    fund_waiting(session, pot, now=now)


def proposals_paid(
    session: Session, pot: Pot, entry: Entry | AppendedEntry
) -> list[tuple[Proposal, int]]:
    """The pot's proposals whose commitment ``entry`` draws on, with the amount it takes out
    of each (negative: it puts money back, as the reversal of a payout does)."""
    found = []
    for posting in entry.postings:
        ref = posting.account.removeprefix(accounts.COMMITTED_PREFIX)
        if posting.account == ref or not ref.startswith("proposal:"):
            continue
        proposal = session.get(Proposal, int(ref.split(":", 1)[1]))
        if proposal is not None and proposal.pot_id == pot.id:
            found.append((proposal, -posting.amount))
    return found


def release(
    session: Session, pot: Pot, proposal: Proposal, *, actor: str, why: str, now: datetime
) -> int:
    """Give what is left of the proposal's commitment back to available; returns the amount."""
    left = proposal.amount - proposal.paid_amount
    if proposal.status not in HOLDING or left == 0:
        return 0
    result = append_locked(
        session,
        pot,
        EntryRequest(
            kind="release",
            memo=f"Releasing proposal #{proposal.id} ({why})",
            actor=actor,
            postings=postings_for("release", left, commitment=commitment_ref(proposal)),
            idempotency_key=f"proposal:{proposal.id}:release",
            data={"proposal": proposal.id, "why": why},
        ),
        now=now,
    )
    audit.record(
        session,
        pot,
        "proposal_released",
        actor=actor,
        proposal_id=proposal.id,
        data={"amount": left, "entry": result.entry.seq, "why": why},
        now=now,
    )
    return left


def _decision(proposal: Proposal) -> dict[str, Any]:
    return parse_json_object(proposal.decision_json) if proposal.decision_json else {}
