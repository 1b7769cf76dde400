"""Appending to a pot's journal: the only way money moves.

Every append locks the pot, checks the request, refuses anything that would take an account that
must not go negative below zero, and writes the entry, its postings, the maintained balances and the
chain head in the caller's transaction. Retries are recognised by idempotency key or external
reference: the same content returns the original entry, different content is a conflict.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import accounts, merkle, tree
from ledger.chain import (
    SAFE_INT,
    canonical_json_text,
    document_bytes,
    document_from_json,
    entry_hash,
    format_timestamp,
    posting_json,
)
from ledger.entries import get_entry
from ledger.errors import (
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidInput,
)
from ledger.models import MAX_SEQ, Balance, Entry, Posting, Pot
from ledger.money import MAX_AMOUNT, to_decimal_string, validate_minor_amount
from ledger.pots import find_pot

MAX_MEMO = 2000
MAX_REF = 200

# Control characters other than tab and newline are refused in every text field.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")

# The kinds of entry. Each has one meaning; docs/ledger-format.md lists their postings.
KINDS = (
    "contribution",
    "payout",
    "fee",
    "refund",
    "adjustment",
    "allocation",
    "release",
    "reversal",
    "payout_refund",
    "fee_refund",
)


@dataclass(frozen=True, slots=True)
class PostingSpec:
    account: str
    amount: int  # minor units, debit > 0, credit < 0


@dataclass(frozen=True)
class EntryRequest:
    kind: str
    memo: str
    actor: str
    postings: Sequence[PostingSpec]
    external_ref: str | None = None
    idempotency_key: str | None = None
    reverses_seq: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AppendResult:
    entry: Entry
    created: bool  # False when an earlier identical request was recognised


def lock_pot(session: Session, slug: str) -> Pot:
    """Load a pot holding its row lock until the transaction ends (no-op lock on SQLite,
    where the write transaction already holds the database's write lock)."""
    return find_pot(session, slug, for_update=True)


def append(
    session: Session, slug: str, request: EntryRequest, *, now: datetime | None = None
) -> AppendResult:
    pot = lock_pot(session, slug)
    return append_locked(session, pot, request, now=now)


def append_locked(
    session: Session, pot: Pot, request: EntryRequest, *, now: datetime | None = None
) -> AppendResult:
    """Append to a pot whose lock the caller already holds (see :func:`lock_pot`)."""
    validate(request)
    data_json = canonical_json_text(request.data)
    recorded_at = format_timestamp(now or datetime.now(UTC))
    writer = EntryWriter(pot=pot.slug, currency=pot.currency, recorded_at=recorded_at)
    content, canonical = writer.write(
        request, data_json, seq=pot.head_seq + 1, prev_hash=pot.head_hash
    )
    earlier = _find_earlier(session, pot, request, content)
    if earlier is not None:
        return AppendResult(earlier, created=False)

    new_balances = _apply_to_balances(session, pot, request.postings)
    leaf = merkle.leaf_hash(canonical)
    entry = Entry(
        pot_id=pot.id,
        seq=pot.head_seq + 1,
        recorded_at=recorded_at,
        kind=request.kind,
        memo=request.memo,
        actor=request.actor,
        external_ref=request.external_ref,
        idempotency_key=request.idempotency_key,
        reverses_seq=request.reverses_seq,
        data_json=data_json,
        fingerprint=content,
        prev_hash=pot.head_hash,
        hash=entry_hash(canonical),
        leaf_hash=leaf,
        postings=[
            Posting(position=i, account=p.account, amount=p.amount, currency=pot.currency)
            for i, p in enumerate(request.postings)
        ],
    )
    with writing(session):
        session.add(entry)
        for balance in new_balances:
            session.add(balance)
        tree.add_leaf(session, pot.id, entry.seq, leaf)
        pot.head_seq = entry.seq
        pot.head_hash = entry.hash
        session.flush()  # one flush for the entry, its postings, balances and the head
    return AppendResult(entry, created=True)


@contextmanager
def writing(session: Session) -> Iterator[None]:
    """The writes of an append, once every rule has been checked. A database error half-way (a
    constraint that can only fail on a damaged database, a lost connection) rolls the whole unit
    of work back, as a failed ORM flush does: a caller that catches it and carries on must not be
    able to commit a half-written entry."""
    try:
        yield
    except Exception:
        session.rollback()
        raise


def reverse(
    session: Session,
    slug: str,
    seq: int,
    *,
    memo: str,
    actor: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> AppendResult:
    """Append the entry that undoes entry ``seq``: the same postings with opposite signs."""
    pot = lock_pot(session, slug)
    original = get_entry(session, pot, seq)
    if original.kind == "reversal":
        raise InvalidInput(f"entry #{seq} is itself a reversal; record a new entry instead")
    request = EntryRequest(
        kind="reversal",
        memo=memo,
        actor=actor,
        postings=[PostingSpec(p.account, -p.amount) for p in original.postings],
        idempotency_key=idempotency_key,
        reverses_seq=seq,
    )
    done = session.scalars(
        select(Entry).where(Entry.pot_id == pot.id, Entry.reverses_seq == seq)
    ).one_or_none()
    if done is not None:
        if idempotency_key is not None and done.idempotency_key == idempotency_key:
            return append_locked(session, pot, request, now=now)  # recognised as a retry
        raise AlreadyReversed(f"entry #{seq} was already reversed by entry #{done.seq}")
    return append_locked(session, pot, request, now=now)


def validate(request: EntryRequest) -> None:
    reverses = request.reverses_seq
    if reverses is not None and (type(reverses) is not int or not 1 <= reverses <= MAX_SEQ):
        raise InvalidInput(f"reverses must be an entry's sequence number, got {reverses!r}")
    if request.kind not in KINDS:
        raise InvalidInput(
            f"unknown entry kind {request.kind!r}; expected one of {', '.join(KINDS)}"
        )
    _check_text("memo", request.memo, MAX_MEMO, required=True)
    _check_text("actor", request.actor, MAX_REF, required=True)
    if request.external_ref is not None:
        _check_text("external ref", request.external_ref, MAX_REF, required=True)
    if request.idempotency_key is not None:
        _check_text("idempotency key", request.idempotency_key, MAX_REF, required=True)
    postings = request.postings
    if len(postings) < 2:
        raise InvalidInput("an entry needs at least two postings")
    total = 0
    for posting in postings:
        if not accounts.is_known(posting.account):
            raise InvalidInput(f"unknown account {posting.account!r}")
        amount = posting.amount
        if type(amount) is not int:  # not a bool either, nor any other subclass of int
            raise InvalidInput(f"posting amounts must be integers, got {amount!r}")
        validate_minor_amount(abs(amount))
        total += amount
    if total != 0:
        raise InvalidInput("the postings of an entry must sum to zero")


def _check_text(name: str, value: str, limit: int, *, required: bool) -> None:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
    if required and not value.strip():
        raise InvalidInput(f"{name} must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{name} is {len(value)} characters long; the limit is {limit}")
    if value.isascii() and value.isprintable():
        return  # the usual case, and nothing below can refuse it
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not valid Unicode text") from None
    if _CONTROL.search(value):
        raise InvalidInput(f"{name} contains control characters")


_FINGERPRINT = '{{"data":{},"external_ref":{},"kind":{},"memo":{},"postings":[{}],"reverses":{}}}'


def fingerprint(request: EntryRequest, data_json: str) -> str:
    """SHA-256 of the request's content; ``data_json`` is ``canonical_json_text(request.data)``.

    The canonical JSON of the content is written directly (keys in RFC 8785 order) when every
    value is one the template writes exactly, else by the reference encoder.
    """
    texts = _request_json(request)
    if texts is None:
        return _reference_fingerprint(request)
    kind, memo, _actor, external_ref, reverses, postings = texts
    return _fingerprint_of(data_json, kind, memo, external_ref, reverses, postings)


class EntryWriter:
    """The fingerprint and the canonical bytes (see :func:`ledger.chain.document_bytes`) of
    the entries appended to one pot at one time: every append computes both for each entry,
    from one JSON text of each field, and the texts shared by a batch (pot, currency, time) are
    written once."""

    __slots__ = ("_currency", "_pot", "_time", "currency", "pot", "recorded_at")

    def __init__(self, *, pot: str, currency: str, recorded_at: str) -> None:
        self.pot, self.currency, self.recorded_at = pot, currency, recorded_at
        self._pot = encode_basestring(pot)
        self._currency = encode_basestring(currency)
        self._time = encode_basestring(recorded_at)

    def write(
        self, request: EntryRequest, data_json: str, *, seq: int, prev_hash: str
    ) -> tuple[str, bytes]:
        """``(fingerprint(request, data_json), canonical bytes)`` of the entry ``request``
        makes as entry ``seq``, whose predecessor's hash is ``prev_hash``."""
        texts = _request_json(request)
        if texts is None or not 0 < seq < SAFE_INT:  # only the reference encoder is exact
            return _reference_fingerprint(request), self._reference_bytes(
                request, data_json, seq, prev_hash
            )
        kind, memo, actor, external_ref, reverses, postings = texts
        currency = self._currency
        canonical = document_from_json(
            actor=actor,
            data=data_json,
            external_ref=external_ref,
            kind=kind,
            memo=memo,
            postings=[posting_json(account, amount, currency) for account, amount in postings],
            pot=self._pot,
            prev_hash=encode_basestring(prev_hash),
            reverses=reverses,
            seq=str(seq),
            time=self._time,
        )
        content = _fingerprint_of(data_json, kind, memo, external_ref, reverses, postings)
        return content, canonical

    def _reference_bytes(
        self, request: EntryRequest, data_json: str, seq: int, prev_hash: str
    ) -> bytes:
        return document_bytes(
            pot=self.pot,
            seq=seq,
            recorded_at=self.recorded_at,
            kind=request.kind,
            memo=request.memo,
            actor=request.actor,
            external_ref=request.external_ref,
            reverses=request.reverses_seq,
            data=request.data,
            data_text=data_json,
            postings=[(p.account, p.amount, self.currency) for p in request.postings],
            prev_hash=prev_hash,
        )


# The JSON texts of a request's kind, memo, actor, external reference and reversed entry, and
# of each posting's account and amount.
_RequestJson = tuple[str, str, str, str, str, list[tuple[str, str]]]


def _request_json(request: EntryRequest) -> _RequestJson | None:
    """The canonical JSON of the request's own fields, or None when one is a value that only
    the reference encoder writes exactly (anything but text, null and integers below 2**53:
    what :func:`validate` lets through is always written here). The same rules as
    :func:`ledger.chain.plain_json`, spelled out: this runs for every entry appended."""
    kind, memo, actor = request.kind, request.memo, request.actor
    if type(kind) is not str or type(memo) is not str or type(actor) is not str:
        return None
    external_ref, reverses = request.external_ref, request.reverses_seq
    if external_ref is None:
        ref_json = "null"
    elif type(external_ref) is str:
        ref_json = encode_basestring(external_ref)
    else:
        return None
    if reverses is None:
        reverses_json = "null"
    elif type(reverses) is int and -SAFE_INT < reverses < SAFE_INT:
        reverses_json = str(reverses)
    else:
        return None
    postings = []
    for posting in request.postings:
        account, amount = posting.account, posting.amount
        if type(account) is not str or type(amount) is not int or not -SAFE_INT < amount < SAFE_INT:
            return None
        postings.append((encode_basestring(account), str(amount)))
    kind_json, memo_json = encode_basestring(kind), encode_basestring(memo)
    return kind_json, memo_json, encode_basestring(actor), ref_json, reverses_json, postings


def _fingerprint_of(
    data: str,
    kind: str,
    memo: str,
    external_ref: str,
    reverses: str,
    postings: list[tuple[str, str]],
) -> str:
    posted = ",".join([f"[{account},{amount}]" for account, amount in postings])
    text = _FINGERPRINT.format(data, external_ref, kind, memo, posted, reverses)
    return hashlib.sha256(text.encode()).hexdigest()


def _reference_fingerprint(request: EntryRequest) -> str:
    content = {
        "kind": request.kind,
        "memo": request.memo,
        "external_ref": request.external_ref,
        "reverses": request.reverses_seq,
        "data": dict(request.data),
        "postings": [[p.account, p.amount] for p in request.postings],
    }
    return hashlib.sha256(canonical_json_text(content).encode()).hexdigest()


def _find_earlier(session: Session, pot: Pot, request: EntryRequest, content: str) -> Entry | None:
    for column, value, label in (
        (Entry.idempotency_key, request.idempotency_key, "idempotency key"),
        (Entry.external_ref, request.external_ref, "external reference"),
    ):
        if value is None:
            continue
        earlier = session.scalars(
            select(Entry).where(Entry.pot_id == pot.id, column == value)
        ).one_or_none()
        if earlier is None:
            continue
        if earlier.fingerprint != content:
            raise conflict(label, value, earlier.seq)
        return earlier
    return None


def conflict(label: str, value: str, seq: int) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"{label} {value!r} was already used for entry #{seq} with different content"
    )


def _load_balances(session: Session, pot: Pot, names: Iterable[str]) -> dict[str, Balance]:
    """The pot's stored balances of these accounts (absent: never posted to), read afresh under
    the pot's lock: a Balance the session loaded before the lock may be stale (populate_existing
    refreshes it). No autoflush: balances are only written by appends, which flush before they
    return."""
    query = (
        select(Balance)
        .where(Balance.pot_id == pot.id, Balance.account.in_(list(names)))
        .execution_options(populate_existing=True)
    )
    with session.no_autoflush:
        return {b.account: b for b in session.scalars(query)}


def new_amounts(
    pot: Pot,
    postings: Sequence[PostingSpec],
    amounts: Mapping[str, int],
    non_negative: Mapping[str, bool],
) -> dict[str, int]:
    """The balances of the accounts an entry touches once it is posted, refusing any that
    would break a non-negative rule or overflow. Changes nothing."""
    deltas: dict[str, int] = {}
    for posting in postings:
        deltas[posting.account] = deltas.get(posting.account, 0) + posting.amount
    result = {}
    for account, delta in sorted(deltas.items()):
        held = amounts.get(account, 0)
        new_amount = held + delta
        guarded = non_negative.get(account)
        if guarded is None:
            guarded = accounts.is_non_negative(account)
        if guarded and new_amount < 0:
            raise InsufficientFunds(
                f"{account} holds {to_decimal_string(held, pot.currency)} "
                f"{pot.currency}; taking {to_decimal_string(-delta, pot.currency)} would leave it "
                "below zero",
                account=account,
                balance=held,
                requested=-delta,
            )
        if abs(new_amount) > MAX_AMOUNT:
            raise InvalidInput(f"{account} would exceed the largest representable balance")
        result[account] = new_amount
    return result


def _apply_to_balances(
    session: Session, pot: Pot, postings: Sequence[PostingSpec]
) -> list[Balance]:
    """New balances after the postings, refusing any that would break a non-negative rule."""
    existing = _load_balances(session, pot, sorted({p.account for p in postings}))
    amounts = new_amounts(
        pot,
        postings,
        {name: b.amount for name, b in existing.items()},
        {name: b.non_negative for name, b in existing.items()},
    )
    # Only now, with every rule checked, touch the session's objects: a caller that catches
    # InsufficientFunds and carries on must not find half-applied balances.
    return [_set_balance(pot, existing, name, amount) for name, amount in amounts.items()]


def _set_balance(pot: Pot, existing: Mapping[str, Balance], account: str, amount: int) -> Balance:
    balance = existing.get(account) or Balance(
        pot_id=pot.id, account=account, amount=0, non_negative=accounts.is_non_negative(account)
    )
    balance.amount = amount
    return balance
