"""Push: funded proposals with an Open Collective payee become expenses there, and are followed.

``push_funded`` creates one expense per funded proposal whose payee has an Open Collective slug;
``follow_expenses`` reads the status of each expense it created until the expense ends. What the
money does next is not decided here: the sync books the paid transaction out of the proposal's
commitment (which marks the proposal paid), and an expense that Open Collective rejects or
cancels releases the commitment.

One expense per proposal, ever, even across crashes and hosts:

- The expense carries ``customData = {"commonpot": {"pot", "proposal", "funding_entry_hash"}}``.
  Before creating one, the push looks for an expense with that customData, so an expense created
  by a run that died before storing its id (or whose answer was lost) is found and adopted, not
  created again.
- The check-and-create for a pot runs under a *lease* on its link (``push_lease_owner`` until
  ``push_lease_until``), taken and renewed in short transactions. A database lock would have to
  be held across calls to Open Collective that can take minutes (retries, Retry-After), blocking
  every write to the pot meanwhile; the lease blocks only another push. A host that dies holding
  it blocks pushes until it expires, after which the customData lookup makes the retry safe. The
  lease is far longer than the longest single call the client can make (see LEASE).
- The link to the expense is stored with the pot locked, in the same transaction as its audit
  event, and ``oc_expense_links.proposal_id`` is unique.

Following the expenses is in follow.py (re-exported here). Failures are kept where
treasurers look (the link's ``push_error``, an expense link's ``last_error``), logged, and
retried on the next run; nothing here raises for a failure of Open Collective or a refusal of
the ledger.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.db import Database
from ledger.errors import InvalidInput, LedgerError
from ledger.governance import funding
from ledger.governance.models import Proposal, Status
from ledger.journal import lock_pot
from ledger.models import Entry, Pot
from ledger.money import to_decimal_string

from .client import ExpenseType, OpenCollectiveClient, PayoutMethod
from .errors import (
    OpenCollectiveAuthError,
    OpenCollectiveError,
    OpenCollectiveOutcomeUnknown,
    OpenCollectiveUnavailable,
)
from .follow import ACTOR, FINAL, MAX_ERROR, FollowResult, describe, follow_expenses
from .models import OCExpense
from .store import OCExpenseLink, OCLink, get_link, link_for_slug, now_text

log = logging.getLogger(__name__)

#: A create_expense call is never resent by the client except for 429/503 and connection
#: failures, each wait capped at 60 s: about six minutes at worst. Renewed before each create.
LEASE = timedelta(minutes=15)

__all__ = ["FollowResult", "PushResult", "follow_expenses", "push_funded", "set_expense_type"]


class LeaseLost(Exception):
    """Another host took over this pot's push (our lease had expired): stop creating."""


class DuplicateExpense(LedgerError):
    title = "Second Open Collective expense for one proposal"


class InvalidExpenseType(InvalidInput):
    title = "Invalid expense type"


@dataclass(frozen=True)
class Target:
    """The pot and collective a push works on, read when the lease is taken."""

    slug: str
    currency: str
    collective: str
    expense_type: ExpenseType


@dataclass(frozen=True)
class Plan:
    """A funded proposal waiting for its expense."""

    proposal_id: int
    title: str
    amount: int
    payee: str
    funding_entry_hash: str

    def custom_data(self, slug: str) -> dict[str, Any]:
        return {
            "commonpot": {
                "pot": slug,
                "proposal": self.proposal_id,
                "funding_entry_hash": self.funding_entry_hash,
            }
        }

    def reference(self, slug: str) -> str:
        return f"commonpot:{slug}:proposal:{self.proposal_id}"


@dataclass
class PushResult:
    slug: str
    created: list[tuple[int, str]] = field(default_factory=list)  # (proposal id, expense id)
    recovered: list[tuple[int, str]] = field(default_factory=list)  # found, not created
    errors: list[str] = field(default_factory=list)
    busy: bool = False  # another push held the pot's lease: nothing was tried

    @property
    def ok(self) -> bool:
        return not self.errors


# --- push ----------------------------------------------------------------------------------


def push_funded(
    db: Database,
    slug: str,
    client: OpenCollectiveClient,
    now: datetime | None = None,
    *,
    owner: str | None = None,
) -> PushResult:
    """Create the Open Collective expense of each funded proposal of pot ``slug`` that has an
    Open Collective payee and no expense yet. Failures are stored on the link and returned."""
    owner = owner or _default_owner()
    result = PushResult(slug)
    target = _take_lease(db, slug, owner, now)
    if target is None:
        result.busy = True
        return result
    try:
        for plan in pending_pushes(db, slug):
            try:
                _push_one(db, target, plan, client, owner, now, result)
            except LeaseLost as exc:
                result.errors.append(f"proposal #{plan.proposal_id}: {exc}")
                break
            except (OpenCollectiveAuthError, OpenCollectiveUnavailable) as exc:
                # The same cause would fail every other proposal too: try them next run.
                result.errors.append(f"proposal #{plan.proposal_id}: {describe(exc)}")
                break
            except (OpenCollectiveError, LedgerError) as exc:
                result.errors.append(f"proposal #{plan.proposal_id}: {describe(exc)}")
    except Exception as exc:  # the database, say: recorded below, then raised
        result.errors.append(describe(exc))
        raise
    finally:
        for message in result.errors:
            log.error("push of %s: %s", slug, message)
        _finish(db, slug, owner, result.errors, now)
    return result


@dataclass(frozen=True)
class PushState:
    """What treasurers see of a pot's push: proposals waiting for their expense, expenses
    still in play or needing attention, and how many have ended."""

    pending: list[Plan]
    expenses: list[OCExpenseLink]
    finished: int


def push_state(session: Session, pot: Pot, link: OCLink) -> PushState:
    rows = list(
        session.scalars(
            select(OCExpenseLink)
            .where(OCExpenseLink.pot_id == pot.id, OCExpenseLink.proposal_id.is_not(None))
            .order_by(OCExpenseLink.id)
        )
    )
    shown = [r for r in rows if r.status not in FINAL or r.last_error]
    return PushState(_pending(session, pot), shown, len(rows) - len(shown))


def pending_pushes(db: Database, slug: str) -> list[Plan]:
    """Funded proposals of the pot with an Open Collective payee and no expense yet."""
    with db.read() as session:
        pot, _ = link_for_slug(session, slug)
        return _pending(session, pot)


def _pending(session: Session, pot: Pot) -> list[Plan]:
    has_expense = exists().where(OCExpenseLink.proposal_id == Proposal.id)
    rows = session.execute(
        select(Proposal, Entry.hash)
        .join(Entry, (Entry.pot_id == Proposal.pot_id) & (Entry.seq == Proposal.funding_entry_seq))
        .where(
            Proposal.pot_id == pot.id,
            Proposal.status == Status.FUNDED,
            Proposal.payee_oc_slug.is_not(None),
            ~has_expense,
        )
        .order_by(Proposal.approval_seq, Proposal.id)
    )
    return [
        Plan(p.id, p.title, p.amount - p.paid_amount, p.payee_oc_slug or "", entry_hash)
        for p, entry_hash in rows
    ]


def _push_one(
    db: Database,
    target: Target,
    plan: Plan,
    client: OpenCollectiveClient,
    owner: str,
    now: datetime | None,
    result: PushResult,
) -> None:
    custom = plan.custom_data(target.slug)
    found = client.find_expenses(target.collective, custom_data=custom)
    if found:
        expense, recovered = found[0], True
    else:
        if not _renew_lease(db, target.slug, owner, now):
            raise LeaseLost("another push took over this pot (our lease expired); it goes on")
        try:
            expense, recovered = (
                client.create_expense(
                    target.collective,
                    payee_slug=plan.payee,
                    description=plan.title,
                    amount_minor=plan.amount,
                    currency=target.currency,
                    expense_type=target.expense_type,
                    custom_data=custom,
                    reference=plan.reference(target.slug),
                    # The payee is paid into its Open Collective balance: the way to pay
                    # another account under the same fiscal host, and the only method that
                    # needs no bank details from us.
                    payout_method=PayoutMethod.account_balance(),
                ),
                False,
            )
        except OpenCollectiveOutcomeUnknown:
            # Sent, answer lost: it may exist. Look once now; if not visible yet, the next
            # run looks again before creating anything.
            found = client.find_expenses(target.collective, custom_data=custom)
            if not found:
                raise
            expense, recovered = found[0], True
    if _store(db, target, plan, expense, recovered=recovered, now=now):
        (result.recovered if recovered else result.created).append((plan.proposal_id, expense.id))


def _store(
    db: Database,
    target: Target,
    plan: Plan,
    expense: OCExpense,
    *,
    recovered: bool,
    now: datetime | None,
) -> bool:
    """Keep the expense's link and its audit event, together. False if it was stored already."""
    with db.write() as session:
        pot = lock_pot(session, target.slug)
        earlier = session.scalars(
            select(OCExpenseLink).where(OCExpenseLink.proposal_id == plan.proposal_id)
        ).one_or_none()
        if earlier is not None:
            if earlier.expense_id == expense.id:
                return False
            raise DuplicateExpense(
                f"Open Collective expense {expense.id} was created for it, but it already has "
                f"{earlier.expense_id}: cancel one of them on Open Collective"
            )
        proposal = session.get(Proposal, plan.proposal_id)
        link = OCExpenseLink(
            pot_id=pot.id,
            proposal_id=plan.proposal_id,
            expense_id=expense.id,
            expense_legacy_id=expense.legacy_id,
            commitment=f"proposal:{plan.proposal_id}",
            status=expense.status,
            created_at=now_text(now),
            last_checked_at=now_text(now),
        )
        problem = _mismatch(expense, plan, target, proposal)
        if problem:
            link.last_error, link.last_error_at = problem, now_text(now)
        session.add(link)
        audit.record(
            session,
            pot,
            "expense_created",
            actor=ACTOR,
            proposal_id=plan.proposal_id,
            data={
                "expense": expense.id,
                "legacy_id": expense.legacy_id,
                "collective": target.collective,
                "type": expense.type,
                "status": expense.status,
                "amount": expense.amount.value_minor,
                "currency": expense.amount.currency,
                "payee": expense.payee_slug,
                "found_existing": recovered,
            },
            now=now,
        )
        return True


def _mismatch(
    expense: OCExpense, plan: Plan, target: Target, proposal: Proposal | None
) -> str | None:
    """What a treasurer must look at about an expense we adopted or created, if anything."""
    if proposal is not None and proposal.status not in funding.HOLDING:
        return (
            f"proposal #{plan.proposal_id} is {proposal.status} here but its expense "
            f"{expense.id} exists on Open Collective: cancel it there"
        )
    if (expense.amount.value_minor, expense.amount.currency) != (plan.amount, target.currency):
        theirs = _money(expense.amount.value_minor, expense.amount.currency)
        return (
            f"expense {expense.id} asks for {theirs} on Open Collective but proposal "
            f"#{plan.proposal_id} was funded with {_money(plan.amount, target.currency)}"
        )
    return None


# --- settings and the lease ----------------------------------------------------------------


def set_expense_type(db: Database, slug: str, expense_type: str) -> str:
    """Set the type (GRANT or INVOICE) of the expenses the push creates for pot ``slug``."""
    kind = check_expense_type(expense_type)
    with db.write() as session:
        pot = lock_pot(session, slug)
        get_link(session, pot).expense_type = kind
    return kind


def check_expense_type(value: str) -> ExpenseType:
    kind = value.strip().upper()
    if kind == "GRANT":
        return "GRANT"
    if kind == "INVOICE":
        return "INVOICE"
    raise InvalidExpenseType(f"expense type must be GRANT or INVOICE, not {value!r}")


def _default_owner() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder(link: OCLink, owner: str, moment: datetime) -> bool:
    """Whether ``owner`` may hold the lease: free, expired, or already ours."""
    return (
        link.push_lease_owner in (None, owner)
        or link.push_lease_until is None
        or link.push_lease_until <= now_text(moment)
    )


def _take_lease(db: Database, slug: str, owner: str, now: datetime | None) -> Target | None:
    moment = now or datetime.now(UTC)
    with db.write() as session:
        pot = lock_pot(session, slug)
        link = get_link(session, pot)
        if not _holder(link, owner, moment):
            return None
        link.push_lease_owner, link.push_lease_until = owner, now_text(moment + LEASE)
        return Target(
            pot.slug, pot.currency, link.collective_slug, check_expense_type(link.expense_type)
        )


def _renew_lease(db: Database, slug: str, owner: str, now: datetime | None) -> bool:
    moment = now or datetime.now(UTC)
    with db.write() as session:
        pot = lock_pot(session, slug)
        link = get_link(session, pot)
        if not _holder(link, owner, moment):
            return False
        link.push_lease_owner, link.push_lease_until = owner, now_text(moment + LEASE)
        return True


def _finish(db: Database, slug: str, owner: str, errors: list[str], now: datetime | None) -> None:
    """Let go of the lease and keep the outcome where treasurers look."""
    try:
        with db.write() as session:
            pot = lock_pot(session, slug)
            link = get_link(session, pot)
            if link.push_lease_owner == owner:
                link.push_lease_owner = link.push_lease_until = None
            link.last_pushed_at = now_text(now)
            if errors:
                link.push_error = "; ".join(errors)[:MAX_ERROR]
                link.push_error_at = now_text(now)
            else:
                link.push_error = link.push_error_at = None
    except Exception:  # the database may be what failed; the log lines say why
        log.exception("could not store the push outcome of %s", slug)


def _money(minor: int, currency: str) -> str:
    return f"{to_decimal_string(minor, currency)} {currency}"
