"""Named money movements, each a fixed pattern of postings.

These are what treasurers, the CLI and the API speak in ("a contribution of 250.00"); the journal
only sees postings. docs/ledger-format.md documents each pattern.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from ledger import accounts
from ledger.errors import InvalidInput
from ledger.journal import AppendResult, EntryRequest, PostingSpec, append
from ledger.money import validate_minor_amount

Direction = Literal["increase", "decrease"]

# Kinds a person may record directly (reversal has its own command; allocation and release are
# normally made by decisions, but a treasurer may make them by hand too).
RECORDABLE_KINDS = (
    "contribution",
    "payout",
    "fee",
    "refund",
    "adjustment",
    "allocation",
    "release",
)


def postings_for(
    kind: str,
    amount: int,
    *,
    commitment: str | None = None,
    direction: Direction | None = None,
) -> list[PostingSpec]:
    """The postings of a movement of ``amount`` minor units (always positive)."""
    validate_minor_amount(amount)
    source_of_payout = accounts.committed(commitment) if commitment else accounts.AVAILABLE
    if kind != "adjustment" and direction is not None:
        raise InvalidInput("a direction applies only to adjustments")
    if kind not in ("payout", "allocation", "release") and commitment is not None:
        raise InvalidInput(f"a {kind} does not take a commitment")
    match kind:
        case "contribution":
            return _move(amount, frm=accounts.INCOME, to=accounts.AVAILABLE)
        case "refund":
            return _move(amount, frm=accounts.AVAILABLE, to=accounts.INCOME)
        case "payout":
            return _move(amount, frm=source_of_payout, to=accounts.PAID_OUT)
        case "fee":
            return _move(amount, frm=accounts.AVAILABLE, to=accounts.FEES)
        case "adjustment":
            if direction == "decrease":
                return _move(amount, frm=accounts.AVAILABLE, to=accounts.ADJUSTMENTS)
            return _move(amount, frm=accounts.ADJUSTMENTS, to=accounts.AVAILABLE)
        case "allocation" | "release":
            if commitment is None:
                raise InvalidInput(f"an {kind} needs a commitment reference such as proposal:42")
            held_for = accounts.committed(commitment)
            if kind == "allocation":
                return _move(amount, frm=accounts.AVAILABLE, to=held_for)
            return _move(amount, frm=held_for, to=accounts.AVAILABLE)
    raise InvalidInput(f"unknown kind {kind!r}; expected one of {', '.join(RECORDABLE_KINDS)}")


def _move(amount: int, *, frm: str, to: str) -> list[PostingSpec]:
    """Money leaves ``frm`` (credit) and arrives in ``to`` (debit)."""
    return [PostingSpec(frm, -amount), PostingSpec(to, amount)]


def record(
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
    data: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AppendResult:
    """Record a named movement of money in pot ``slug``."""
    request = EntryRequest(
        kind=kind,
        memo=memo,
        actor=actor,
        postings=postings_for(kind, amount, commitment=commitment, direction=direction),
        external_ref=external_ref,
        idempotency_key=idempotency_key,
        data=data or {},
    )
    return append(session, slug, request, now=now)
