"""Reconciliation: does the pot's ledger agree with Open Collective, transaction by transaction?

Every Open Collective transaction is matched to the entry whose external reference is
``oc:<uuid>``, comparing the entry's effect on the money held (available + commitments, net of
any reversal) with the transaction's ``net_amount``. What does not match becomes an item:

- ``missing_here``: Open Collective lists it, the pot has no entry (resolve: import, or adjust);
- ``missing_there``: the pot has an ``oc:`` entry Open Collective no longer lists (adjust);
- ``amount_mismatch``: both have it, the amounts differ (adjust);
- ``currency_mismatch``: Open Collective's row is in another currency (adjust, amount given);
- ``balance``: what is left of the difference between the money held and Open Collective's
  ``stats.balance`` once the items above are accounted for (adjust).

A resolution appends an entry (the import, or an ``adjustment`` whose data names the item) and
an append-only ``oc_resolutions`` row saying who did it and why. Adjustments made for a
transaction count as our side of it, so a settled difference stops being an item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.orm import Session

from ledger.db import Database
from ledger.errors import Conflict, InvalidInput
from ledger.journal import EntryRequest, append_locked, lock_pot
from ledger.models import Pot
from ledger.money import parse_amount
from ledger.operations import postings_for
from ledger.pots import summarise

from .accounting import CurrencyMismatch, external_ref, records_something, transaction_id_of
from .client import MAX_PAGE_SIZE, OpenCollectiveClient
from .errors import OpenCollectiveNotFound
from .models import OCTransaction
from .store import OCResolution, Ours, adjusted_amounts, link_for_slug, now_text, our_side
from .sync import ForeignTransaction, append_transactions

Problem = Literal[
    "missing_here", "missing_there", "amount_mismatch", "currency_mismatch", "balance"
]
Action = Literal["import", "adjust"]
BALANCE = "balance"
MAX_REASON = 1000
_TRANSACTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class NothingToResolve(Conflict):
    title = "Nothing to resolve"


@dataclass(frozen=True)
class Item:
    key: str  # "oc:<uuid>" or "balance": what `resolve` takes
    problem: Problem
    currency: str
    theirs: int | None  # Open Collective's effect on the balance (None: not listed / not ours)
    ours: int  # our effect on held money, adjustments included
    delta: int | None  # theirs - ours: the adjustment that would settle it (None: unknown)
    actions: tuple[Action, ...]
    transaction_id: str | None = None
    legacy_id: int | None = None
    seq: int | None = None
    description: str = ""
    created_at: str | None = None


@dataclass
class Report:
    slug: str
    collective: str
    currency: str
    checked_at: str
    held: int
    oc_balance: int
    transactions: int = 0  # Open Collective transactions read
    matched: int = 0
    items: list[Item] = field(default_factory=list)

    @property
    def difference(self) -> int:
        """Open Collective's balance minus the money we hold."""
        return self.oc_balance - self.held

    @property
    def ok(self) -> bool:
        return not self.items and self.difference == 0


# --- judging one transaction ---------------------------------------------------------------


def judge(tx: OCTransaction, ours: Ours | None, adjusted: int | None, currency: str) -> Item | None:
    """The item for a transaction Open Collective lists, or None when it matches."""
    ours_total = (ours.effect if ours else 0) + (adjusted or 0)
    theirs = tx.net_amount.value_minor

    def item(problem: Problem, delta: int | None, actions: tuple[Action, ...]) -> Item:
        return Item(
            key=external_ref(tx.id),
            problem=problem,
            currency=tx.net_amount.currency,
            theirs=theirs,
            ours=ours_total,
            delta=delta,
            actions=actions,
            transaction_id=tx.id,
            legacy_id=tx.legacy_id,
            seq=ours.seq if ours else None,
            description=tx.description or "",
            created_at=tx.created_at.isoformat(),
        )

    if tx.net_amount.currency != currency or tx.amount.currency != currency:
        # Settled once a treasurer has valued it in the pot's currency by an adjustment.
        return None if adjusted is not None else item("currency_mismatch", None, ("adjust",))
    if ours is None and adjusted is None:
        if not records_something(tx):
            return None  # amount and net 0: nothing to record, so nothing is missing
        return item("missing_here", theirs, ("import", "adjust"))
    if ours_total == theirs:
        return None
    return item("amount_mismatch", theirs - ours_total, ("adjust",))


def judge_unlisted(
    tx_id: str, ours: Ours | None, adjusted: int | None, currency: str
) -> Item | None:
    """The item for something of ours that Open Collective does not list."""
    total = (ours.effect if ours else 0) + (adjusted or 0)
    if ours is None and adjusted is None:
        return None
    if total == 0 and (adjusted is not None or (ours is not None and ours.reversed)):
        return None  # undone by a reversal or settled by an adjustment
    return Item(
        key=external_ref(tx_id),
        problem="missing_there",
        currency=currency,
        theirs=None,
        ours=total,
        delta=-total,
        actions=("adjust",),
        transaction_id=tx_id,
        seq=ours.seq if ours else None,
    )


# --- the whole reconciliation --------------------------------------------------------------


def reconcile(db: Database, slug: str, client: OpenCollectiveClient) -> Report:
    """Compare pot ``slug`` with its collective, reading every Open Collective transaction
    (a page at a time) against our ``oc:`` entries."""
    with db.read() as session:
        pot, link = link_for_slug(session, slug)
        ours = our_side(session, pot)
        adjusted = adjusted_amounts(session, pot)
        held = summarise(session, pot).held
        collective, currency = link.collective_slug, pot.currency
    info = client.get_collective(collective)
    if info.currency != currency:
        raise CurrencyMismatch(
            f"{collective!r} now keeps its money in {info.currency}, the pot holds {currency}"
        )
    report = Report(slug, collective, currency, now_text(), held, info.balance_minor)
    for tx in client.iter_transactions(collective, page_size=MAX_PAGE_SIZE):
        report.transactions += 1
        item = judge(tx, ours.pop(external_ref(tx.id), None), adjusted.pop(tx.id, None), currency)
        if item is None:
            report.matched += 1
        else:
            report.items.append(item)
    leftovers = {transaction_id_of(ref) or ref for ref in ours} | set(adjusted)
    for tx_id in sorted(leftovers):
        item = judge_unlisted(tx_id, ours.get(external_ref(tx_id)), adjusted.get(tx_id), currency)
        if item is not None:
            report.items.append(item)
    explained = sum(item.delta or 0 for item in report.items)
    unexplained = report.difference - explained
    if unexplained:
        report.items.append(
            Item(
                key=BALANCE,
                problem="balance",
                currency=currency,
                theirs=report.oc_balance,
                ours=held,
                delta=unexplained,
                actions=("adjust",),
                description="Open Collective's balance differs by more than the items explain",
            )
        )
    with db.write() as session:  # remember the balance for the status page
        _, link = link_for_slug(session, slug)
        link.oc_balance, link.oc_balance_at = info.balance_minor, report.checked_at
    return report


# --- resolving an item ---------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    item: str
    problem: str
    action: Action
    seq: int  # the entry appended
    amount: int | None  # an adjustment's effect on held money


def parse_adjustment(text: str, currency: str) -> int:
    """A signed decimal amount in the pot's currency ("-12.50") as minor units."""
    text = text.strip()
    negative = text.startswith("-")
    minor = parse_amount(text.removeprefix("-").removeprefix("+"), currency)
    return -minor if negative else minor


def normalise_item(item: str) -> str:
    """``balance``, ``oc:<uuid>`` or a bare uuid (as Open Collective shows it)."""
    item = item.strip()
    if item == BALANCE:
        return item
    tx_id = transaction_id_of(item) or item
    if not _TRANSACTION_ID.match(tx_id):
        raise InvalidInput(f"{item!r} is not a reconciliation item (oc:<id> or balance)")
    return external_ref(tx_id)


def resolve(
    db: Database,
    slug: str,
    item: str,
    client: OpenCollectiveClient,
    *,
    action: Action,
    actor: str,
    reason: str | None = None,
    amount: int | None = None,
) -> Resolution:
    """Resolve one item: ``import`` the missing transaction (looked up through the API) or
    append an ``adjustment`` of ``amount`` (default: the item's difference) with a reason."""
    key = normalise_item(item)
    if action not in ("import", "adjust"):
        raise InvalidInput("action must be 'import' or 'adjust'")
    if action == "adjust":
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInput("an adjustment needs a written reason")
        if len(reason) > MAX_REASON:
            raise InvalidInput(f"the reason is over {MAX_REASON} characters")
    if amount is not None and (action != "adjust" or amount == 0):
        raise InvalidInput("an amount applies to adjustments only, and cannot be zero")
    if key == BALANCE:
        return _resolve_balance(db, slug, client, actor=actor, reason=reason, amount=amount)
    tx_id = transaction_id_of(key) or key
    with db.read() as session:
        _, link = link_for_slug(session, slug)
        collective = link.collective_slug
    try:
        tx: OCTransaction | None = client.get_transaction(id=tx_id)
    except OpenCollectiveNotFound:
        tx = None
    if tx is not None and (tx.account.slug if tx.account else None) != collective:
        raise ForeignTransaction(f"Open Collective transaction {tx_id} is not {collective!r}'s")
    with db.write() as session:
        pot = lock_pot(session, slug)
        ours = our_side(session, pot, [key]).get(key)
        adjusted = adjusted_amounts(session, pot, [tx_id]).get(tx_id)
        found = (
            judge(tx, ours, adjusted, pot.currency)
            if tx is not None
            else judge_unlisted(tx_id, ours, adjusted, pot.currency)
        )
        if found is None:
            raise NothingToResolve(f"{key} matches Open Collective: there is nothing to resolve")
        if action == "import":
            if tx is None or "import" not in found.actions:
                raise InvalidInput(
                    f"{key} is {found.problem.replace('_', ' ')}: only a transaction missing "
                    "here can be imported; resolve it by an adjustment"
                )
            seq = append_transactions(session, pot, [tx]).appended[0]
            return _record(session, pot, found, "import", seq, None, None, actor)
        return _adjust(session, pot, found, amount, reason or "", actor, tx_id)


def _resolve_balance(
    db: Database,
    slug: str,
    client: OpenCollectiveClient,
    *,
    actor: str,
    reason: str | None,
    amount: int | None,
) -> Resolution:
    report = reconcile(db, slug, client)
    found = next((i for i in report.items if i.key == BALANCE), None)
    if found is None:
        raise NothingToResolve("the balance difference is explained by the items listed")
    with db.write() as session:
        pot = lock_pot(session, slug)
        if summarise(session, pot).held != report.held:
            raise Conflict("the pot changed while it was being reconciled: run it again")
        return _adjust(session, pot, found, amount, reason or "", actor, None)


def _adjust(
    session: Session,
    pot: Pot,
    found: Item,
    amount: int | None,
    reason: str,
    actor: str,
    tx_id: str | None,
) -> Resolution:
    amount = found.delta if amount is None else amount
    if amount is None:
        raise InvalidInput(
            f"{found.key} has no amount in {pot.currency}: give the adjustment's amount"
        )
    if amount == 0:
        raise InvalidInput(f"{found.key} differs by nothing an adjustment could settle")
    request = EntryRequest(
        kind="adjustment",
        memo=f"Reconciliation with Open Collective: {reason}",
        actor=actor,
        postings=postings_for(
            "adjustment", abs(amount), direction="increase" if amount > 0 else "decrease"
        ),
        data={
            "reconciliation": {
                "item": found.key,
                "problem": found.problem,
                "reason": reason,
                **({"opencollective": {"id": tx_id}} if tx_id else {}),
            }
        },
    )
    seq = append_locked(session, pot, request).entry.seq
    return _record(session, pot, found, "adjust", seq, amount, reason, actor)


def _record(
    session: Session,
    pot: Pot,
    found: Item,
    action: Action,
    seq: int,
    amount: int | None,
    reason: str | None,
    actor: str,
) -> Resolution:
    session.add(
        OCResolution(
            pot_id=pot.id,
            item=found.key,
            oc_transaction_id=found.transaction_id,
            problem=found.problem,
            action=action,
            amount=amount,
            reason=reason,
            entry_seq=seq,
            actor=actor,
            created_at=now_text(),
        )
    )
    session.flush()
    return Resolution(found.key, found.problem, action, seq, amount)
