"""Following the expenses the push created, until Open Collective pays or ends them.

Each run reads the status of every expense still in play (``oc_expense_links`` with a proposal
and a status not final), records each change in the pot's audit log, and acts on the ones Open
Collective will never pay: the rest of the proposal's commitment goes back to ``available`` by a
release entry and the proposal is closed. A PAID expense needs nothing here: the sync books its
transaction out of the commitment and marks the proposal paid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.db import Database
from ledger.errors import LedgerError
from ledger.governance import funding
from ledger.governance.models import Proposal, Status
from ledger.journal import lock_pot
from ledger.models import Pot

from .client import OpenCollectiveClient
from .errors import (
    OpenCollectiveAuthError,
    OpenCollectiveError,
    OpenCollectiveUnavailable,
    describe,
)
from .models import OCExpense
from .store import OCExpenseLink, link_for_slug, now_text

log = logging.getLogger(__name__)

ACTOR = "opencollective-push"
#: Statuses after which Open Collective will not pay the expense: the commitment goes back.
ENDED = frozenset({"REJECTED", "CANCELED", "SPAM", "INVITE_DECLINED"})
#: Statuses no longer followed (PAID: the sync books the transaction and marks the proposal).
FINAL = ENDED | {"PAID"}
MAX_ERROR = 2_000


@dataclass
class FollowResult:
    slug: str
    checked: int = 0
    changed: list[tuple[str, str | None, str]] = field(default_factory=list)  # (id, from, to)
    released: list[int] = field(default_factory=list)  # proposals closed, commitment released
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- follow --------------------------------------------------------------------------------


def follow_expenses(
    db: Database, slug: str, client: OpenCollectiveClient, now: datetime | None = None
) -> FollowResult:
    """Read the status of each of the pot's expenses still in play and act on changes: one that
    Open Collective will not pay releases its proposal's commitment and closes the proposal."""
    result = FollowResult(slug)
    with db.read() as session:
        pot, _ = link_for_slug(session, slug)
        ids = list(
            session.scalars(
                select(OCExpenseLink.id)
                .where(
                    OCExpenseLink.pot_id == pot.id,
                    OCExpenseLink.proposal_id.is_not(None),
                    (OCExpenseLink.status.is_(None)) | (OCExpenseLink.status.not_in(FINAL)),
                )
                .order_by(OCExpenseLink.id)
            )
        )
    for link_id in ids:
        try:
            expense_id = _expense_id(db, link_id)
            expense = client.get_expense(expense_id)
            _apply_status(db, slug, link_id, expense, now, result)
            result.checked += 1
        except (OpenCollectiveError, LedgerError) as exc:
            message = describe(exc)
            result.errors.append(message)
            log.error("following expenses of %s: %s", slug, message)
            _note_link_error(db, link_id, message, now)
            if isinstance(exc, OpenCollectiveAuthError | OpenCollectiveUnavailable):
                break  # every other look-up would fail the same way: next run
    return result


def _expense_id(db: Database, link_id: int) -> str:
    with db.read() as session:
        link = session.get(OCExpenseLink, link_id)
        assert link is not None  # expense links are never deleted
        return link.expense_id


def _apply_status(
    db: Database,
    slug: str,
    link_id: int,
    expense: OCExpense,
    now: datetime | None,
    result: FollowResult,
) -> None:
    moment = now or datetime.now(UTC)
    with db.write() as session:
        pot = lock_pot(session, slug)
        link = session.get(OCExpenseLink, link_id)
        assert link is not None
        link.last_checked_at = now_text(moment)
        link.last_error = link.last_error_at = None
        proposal = session.get(Proposal, link.proposal_id) if link.proposal_id else None
        before = link.status
        if expense.status != before:
            link.status = expense.status
            result.changed.append((link.expense_id, before, expense.status))
            audit.record(
                session,
                pot,
                "expense_status_changed",
                actor=ACTOR,
                proposal_id=link.proposal_id,
                data={"expense": link.expense_id, "from": before, "to": expense.status},
                now=moment,
            )
        if proposal is None:
            return
        if expense.status in ENDED and proposal.status in funding.HOLDING:
            _close(session, pot, proposal, link.expense_id, expense.status, moment)
            result.released.append(proposal.id)
        elif expense.status not in FINAL and proposal.status not in funding.HOLDING:
            # Withdrawn or closed here while Open Collective may still pay it.
            link.last_error = (
                f"proposal #{proposal.id} is {proposal.status} here but its expense "
                f"{link.expense_id} is {expense.status} on Open Collective: cancel it there"
            )
            link.last_error_at = now_text(moment)


def _close(
    session: Session, pot: Pot, proposal: Proposal, expense_id: str, status: str, now: datetime
) -> None:
    why = f"Open Collective expense {expense_id} {status}"
    released = funding.release(session, pot, proposal, actor=ACTOR, why=why, now=now)
    proposal.status = Status.CLOSED
    audit.record(
        session,
        pot,
        "proposal_closed",
        actor=ACTOR,
        proposal_id=proposal.id,
        data={
            "paid": proposal.paid_amount,
            "released": released,
            "expense": expense_id,
            "oc_status": status,
        },
        now=now,
    )
    if released:
        funding.fund_waiting(session, pot, now=now)


def _note_link_error(db: Database, link_id: int, message: str, now: datetime | None) -> None:
    try:
        with db.write() as session:
            link = session.get(OCExpenseLink, link_id)
            if link is not None:
                link.last_error, link.last_error_at = message[:MAX_ERROR], now_text(now)
    except Exception:  # the database may be what failed; the log line says why
        log.exception("could not store the follow failure of expense link %s", link_id)
