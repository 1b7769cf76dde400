"""How one Open Collective transaction becomes one ledger entry: a pure mapping, no I/O.

The agreed design (docs/open-collective.md explains it for treasurers):

- ``available`` receives the transaction's signed ``net_amount`` (the money that reached or left
  the collective's balance), the counter account named by its kind receives ``-amount``, and
  ``fees`` receives ``amount - net_amount`` when Open Collective folded a fee into the row.
- Open Collective's kinds pick the counter account (``COUNTER_ACCOUNTS``); the counter account
  and the CREDIT/DEBIT type pick the entry kind (``ENTRY_KINDS``).
- The entry's external reference is ``oc:<transaction uuid>``: the key that makes every import
  idempotent, and that reconciliation matches on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ledger import accounts
from ledger.chain import format_timestamp
from ledger.errors import InvalidInput
from ledger.journal import MAX_MEMO, EntryRequest, PostingSpec

from .models import OCTransaction

ACTOR = "opencollective-sync"
REF_PREFIX = "oc:"

COUNTER_ACCOUNTS: dict[str, str] = {
    "CONTRIBUTION": accounts.INCOME,
    "ADDED_FUNDS": accounts.INCOME,
    "EXPENSE": accounts.PAID_OUT,
    "HOST_FEE": accounts.FEES,
    "PAYMENT_PROCESSOR_FEE": accounts.FEES,
}

ENTRY_KINDS: dict[tuple[str, str], str] = {
    (accounts.INCOME, "CREDIT"): "contribution",
    (accounts.INCOME, "DEBIT"): "refund",
    (accounts.PAID_OUT, "DEBIT"): "payout",
    (accounts.PAID_OUT, "CREDIT"): "payout_refund",
    (accounts.FEES, "DEBIT"): "fee",
    (accounts.FEES, "CREDIT"): "fee_refund",
}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class CurrencyMismatch(InvalidInput):
    """Open Collective speaks of money in a currency the pot does not hold."""

    title = "Currency mismatch"


def external_ref(transaction_id: str) -> str:
    return REF_PREFIX + transaction_id


def transaction_id_of(ref: str) -> str | None:
    """The Open Collective uuid inside an ``oc:`` external reference, else None."""
    return ref.removeprefix(REF_PREFIX) if ref.startswith(REF_PREFIX) else None


def counter_account(kind: str | None) -> str:
    # PLATFORM_TIP, BALANCE_TRANSFER, TAX, ... move money for reasons the pot has no account
    # for: they land on adjustments, where a treasurer sees them.
    return COUNTER_ACCOUNTS.get(kind or "", accounts.ADJUSTMENTS)


def entry_kind(counter: str, tx_type: str) -> str:
    return ENTRY_KINDS.get((counter, tx_type), "adjustment")


def check_currency(tx: OCTransaction, currency: str) -> None:
    for what, money in (("amount", tx.amount), ("net amount", tx.net_amount)):
        if money.currency != currency:
            raise CurrencyMismatch(
                f"Open Collective transaction {tx.id} (#{tx.legacy_id}) has its {what} in "
                f"{money.currency} but the pot holds {currency}; nothing was imported from it"
            )


def postings_for(tx: OCTransaction, *, held_account: str = accounts.AVAILABLE) -> list[PostingSpec]:
    """The postings of ``tx`` (empty when it moves nothing), zero postings left out.

    ``held_account`` is where the pot's side lands: ``available``, or the commitment a payout
    was promised from when the expense is one Commonpot created (see sync.py).
    """
    amount, net = tx.amount.value_minor, tx.net_amount.value_minor
    counter = counter_account(tx.kind)
    deltas: dict[str, int] = {}
    # Merging keeps one posting per account when the counter is `fees`.
    for account, delta in (
        (held_account, net),
        (counter, -amount),
        (accounts.FEES, amount - net),
    ):
        deltas[account] = deltas.get(account, 0) + delta
    postings = [PostingSpec(account, delta) for account, delta in deltas.items() if delta != 0]
    # Credits first, as every other entry lists them ("from -> to", docs/ledger-format.md).
    return sorted(postings, key=lambda p: p.amount > 0)


def memo_for(tx: OCTransaction) -> str:
    """The description as a memo the journal accepts: Open Collective allows text the ledger
    does not (control characters, any length), so it is cleaned rather than refused."""
    text = _CONTROL.sub(" ", tx.description or "").strip()
    if not text:
        text = f"Open Collective {(tx.kind or 'transaction').lower()} ({tx.type.lower()})"
    if len(text) > MAX_MEMO:
        text = text[: MAX_MEMO - 1] + "…"
    return text


def entry_data(tx: OCTransaction) -> dict[str, object]:
    return {
        "opencollective": {
            "id": tx.id,
            "legacyId": tx.legacy_id,
            "group": tx.group,
            "kind": tx.kind,
            "type": tx.type,
            "createdAt": format_timestamp(tx.created_at),
        }
    }


def map_transaction(
    tx: OCTransaction, currency: str, *, commitment: str | None = None
) -> EntryRequest | None:
    """The entry for ``tx`` in a pot holding ``currency``; None when there is nothing to record.

    ``commitment`` (e.g. ``proposal:42``) makes a paid expense come out of that commitment
    instead of ``available``; only payouts may name one.
    """
    check_currency(tx, currency)
    counter = counter_account(tx.kind)
    held = accounts.AVAILABLE
    if commitment is not None:
        if counter != accounts.PAID_OUT:
            raise InvalidInput(f"only expenses can be paid from a commitment, not {tx.kind}")
        held = accounts.committed(commitment)
    postings = postings_for(tx, held_account=held)
    if not postings:
        return None
    return EntryRequest(
        kind=entry_kind(counter, tx.type),
        memo=memo_for(tx),
        actor=ACTOR,
        postings=postings,
        external_ref=external_ref(tx.id),
        data=entry_data(tx),
    )


def records_something(tx: OCTransaction) -> bool:
    return bool(postings_for(tx))


def held_effect(postings: Sequence[PostingSpec]) -> int:
    """What postings do to the money held at the host (available + commitments)."""
    return sum(p.amount for p in postings if accounts.is_held(p.account))
