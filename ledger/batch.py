"""Appending a batch of entries to one pot: decided in memory, written with one statement per table.

The outcome is the same, entry for entry and byte for byte, as appending the requests one by one
with :func:`ledger.journal.append_locked` (all recorded at one time), or, when one of them is
refused, nothing at all. Used where many entries arrive together: a page of Open Collective
transactions, the settlement of a round.

Why a path of its own: one by one, each entry costs a flush of ORM objects and a query per Merkle
node. Here the whole batch is checked against one read of the balances (and of earlier uses of its
idempotency keys and external references), the chain and the Merkle tree are extended in memory,
and the rows go out as one insert per table (``ledger.bulk``): the entries (their ids come back),
their postings, their tree nodes. Results are light records, not ORM entries, so nothing is loaded
back.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BindParameter, Select, Table, bindparam, insert, inspect, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.attributes import set_committed_value

from ledger import accounts, merkle, tree
from ledger.bulk import insert_returning, insert_rows
from ledger.chain import canonical_json_text, entry_hash, format_timestamp
from ledger.errors import InvalidInput
from ledger.journal import (
    EntryRequest,
    EntryWriter,
    PostingSpec,
    conflict,
    lock_pot,
    new_amounts,
    validate,
    writing,
)
from ledger.models import Balance, Base, Entry, Pot

_ENTRIES: Table = Base.metadata.tables["ledger_entries"]
_POSTINGS: Table = Base.metadata.tables["ledger_postings"]
_BALANCES: Table = Base.metadata.tables["ledger_balances"]
_BALANCE_KEY = inspect(Balance).identity_key_from_primary_key
_POTS: Table = Base.metadata.tables["pots"]
# Statements built once: building one costs more than running it.
_UPDATE_BALANCE = (
    update(_BALANCES)
    .where(_BALANCES.c.pot_id == bindparam("pot"), _BALANCES.c.account == bindparam("name"))
    .values(amount=bindparam("new_amount"))
)
_UPDATE_HEAD = (
    update(_POTS)
    .where(_POTS.c.id == bindparam("pot"))
    .values(head_seq=bindparam("seq"), head_hash=bindparam("hash"))
)

_IN_CHUNK = 500  # values per IN (SQLite's limit on a statement's variables can be 999)


@functools.lru_cache(maxsize=64)
def _read_balances(count: int) -> Select[str, int, bool]:
    """The stored balances of ``count`` accounts of a pot: one statement per count, built once
    (an expanding IN would be rendered again at every execution)."""
    names: list[BindParameter[str]] = [bindparam(f"name_{k}") for k in range(count)]
    return select(Balance.account, Balance.amount, Balance.non_negative).where(
        Balance.pot_id == bindparam("pot"), Balance.account.in_(names)
    )


_KEY = "idempotency key"
_REF = "external reference"


@dataclass(frozen=True, slots=True)
class AppendedEntry:
    """An entry a batch appended or recognised: what callers link to, without loading it."""

    id: int
    seq: int
    kind: str
    prev_hash: str
    hash: str
    postings: tuple[PostingSpec, ...]

    @classmethod
    def of(cls, entry: Entry) -> AppendedEntry:
        return cls(
            id=entry.id,
            seq=entry.seq,
            kind=entry.kind,
            prev_hash=entry.prev_hash,
            hash=entry.hash,
            postings=tuple(PostingSpec(p.account, p.amount) for p in entry.postings),
        )


@dataclass(frozen=True, slots=True)
class BatchResult:
    entry: AppendedEntry
    created: bool  # False when an earlier identical request was recognised


def append_many(
    session: Session, slug: str, requests: Iterable[EntryRequest], *, now: datetime | None = None
) -> list[BatchResult]:
    """Append several entries to one pot: see :func:`append_many_locked`."""
    pot = lock_pot(session, slug)
    return append_many_locked(session, pot, requests, now=now)


def append_many_locked(
    session: Session,
    pot: Pot,
    requests: Iterable[EntryRequest],
    *,
    now: datetime | None = None,
) -> list[BatchResult]:
    """Append ``requests`` in order to a pot whose lock the caller holds (see
    :func:`ledger.journal.lock_pot`); or refuse the whole batch, having appended nothing and
    changed none of the session's objects (the session's own pending changes are flushed
    first, as any query would). A database error while writing rolls the unit of work back
    (:func:`ledger.journal.writing`).

    A retried request, also one repeating an earlier request of the same batch, gives that
    entry with ``created=False``; a reused key with different content is a conflict. The first
    refusal in request order is raised, as appending one by one would.
    """
    checked: list[EntryRequest] = []
    refused: InvalidInput | None = None
    for request in requests:
        try:
            validate(request)
        except InvalidInput as exc:
            # Raised once the requests before it have been planned: an earlier request's
            # refusal (no money, a conflict) comes first, as it would one by one.
            refused = exc
            break
        checked.append(request)
    session.flush()
    plan = _Plan(pot, now)
    plan.load(session, checked)
    for request in checked:
        plan.add(request)
    if refused is not None:
        raise refused
    return plan.write(session)


# The columns of a new entry, in the order of _Planned.values.
_ENTRY_COLUMNS = (
    "pot_id",
    "seq",
    "recorded_at",
    "kind",
    "memo",
    "actor",
    "external_ref",
    "idempotency_key",
    "reverses_seq",
    "data_json",
    "fingerprint",
    "prev_hash",
    "hash",
    "leaf_hash",
)


@dataclass(slots=True)
class _Planned:
    seq: int
    kind: str
    fingerprint: str
    prev_hash: str
    hash: str
    leaf: bytes  # its Merkle leaf hash
    values: tuple[Any, ...]  # the entry's row, in _ENTRY_COLUMNS order
    postings: tuple[PostingSpec, ...]


class _Plan:
    """A batch of appends decided in memory (see :func:`append_many_locked`)."""

    def __init__(self, pot: Pot, now: datetime | None) -> None:
        self.pot = pot
        # Read once: the ORM's attribute access would cost more than the rest of a plan step.
        self.pot_id, self.currency = pot.id, pot.currency
        recorded_at = format_timestamp(now or datetime.now(UTC))
        self.recorded_at = recorded_at
        self.writer = EntryWriter(pot=pot.slug, currency=pot.currency, recorded_at=recorded_at)
        self.seq = pot.head_seq
        self.prev_hash = pot.head_hash
        self.new: list[_Planned] = []
        # Per request: its entry (an index into self.new, or a stored entry), and whether new.
        self.outcome: list[tuple[int | AppendedEntry, bool]] = []
        # Fingerprints of the stored entries a key or reference of the batch names.
        self.fingerprints: dict[int, str] = {}
        self.found: dict[str, dict[str, AppendedEntry | int]] = {_KEY: {}, _REF: {}}
        self.amounts: dict[str, int] = {}
        self.non_negative: dict[str, bool] = {}
        self.stored: set[str] = set()  # accounts with a stored balance row

    def load(self, session: Session, requests: Sequence[EntryRequest]) -> None:
        for label, column, values in (
            (_KEY, Entry.idempotency_key, {r.idempotency_key for r in requests}),
            (_REF, Entry.external_ref, {r.external_ref for r in requests}),
        ):
            self._load_earlier(session, label, column, sorted(v for v in values if v is not None))
        names = sorted({p.account for r in requests for p in r.postings})
        connection = session.connection()
        for start in range(0, len(names), _IN_CHUNK):
            chunk = names[start : start + _IN_CHUNK]
            params: dict[str, Any] = {f"name_{k}": name for k, name in enumerate(chunk)}
            params["pot"] = self.pot_id
            for name, amount, non_negative in connection.execute(
                _read_balances(len(chunk)), params
            ):
                self.stored.add(name)
                self.amounts[name] = amount
                self.non_negative[name] = non_negative

    def _load_earlier(
        self,
        session: Session,
        label: str,
        column: InstrumentedAttribute[str | None],
        values: list[str],
    ) -> None:
        """Stored entries of the pot whose key or reference (``column``) is one of ``values``:
        one query per column (each uses its own index) and per few hundred values (SQLite's
        limit on a statement's variables can be as low as 999)."""
        with session.no_autoflush:
            for start in range(0, len(values), _IN_CHUNK):
                chunk = values[start : start + _IN_CHUNK]
                query = select(Entry).where(Entry.pot_id == self.pot_id, column.in_(chunk))
                for stored in session.scalars(query):
                    entry = AppendedEntry.of(stored)
                    self.fingerprints[entry.seq] = stored.fingerprint
                    value = getattr(stored, column.key)
                    self.found[label][value] = entry

    def add(self, request: EntryRequest) -> None:
        data_json = canonical_json_text(request.data)
        content, canonical = self.writer.write(
            request, data_json, seq=self.seq + 1, prev_hash=self.prev_hash
        )
        if request.idempotency_key is not None or request.external_ref is not None:
            earlier = self._earlier(request, content)
            if earlier is not None:
                self.outcome.append((earlier, False))
                return
        self.amounts.update(
            new_amounts(self.pot, request.postings, self.amounts, self.non_negative)
        )
        self.seq += 1
        digest = entry_hash(canonical)
        leaf = merkle.leaf_hash(canonical)
        values = (
            self.pot_id,
            self.seq,
            self.recorded_at,
            request.kind,
            request.memo,
            request.actor,
            request.external_ref,
            request.idempotency_key,
            request.reverses_seq,
            data_json,
            content,
            self.prev_hash,
            digest,
            leaf,
        )
        index = len(self.new)
        planned = _Planned(
            self.seq,
            request.kind,
            content,
            self.prev_hash,
            digest,
            leaf,
            values,
            tuple(request.postings),
        )
        self.new.append(planned)
        self.outcome.append((index, True))
        if request.idempotency_key is not None:
            self.found[_KEY][request.idempotency_key] = index
        if request.external_ref is not None:
            self.found[_REF][request.external_ref] = index
        self.prev_hash = digest

    def _earlier(self, request: EntryRequest, content: str) -> AppendedEntry | int | None:
        """The entry, stored or of this batch, that an idempotency key or external reference
        of ``request`` names (a retry), checked like :func:`ledger.journal.append_locked`."""
        for label, value in ((_KEY, request.idempotency_key), (_REF, request.external_ref)):
            earlier = None if value is None else self.found[label].get(value)
            if value is None or earlier is None:
                continue
            if isinstance(earlier, int):
                seq, earlier_content = self.new[earlier].seq, self.new[earlier].fingerprint
            else:
                seq, earlier_content = earlier.seq, self.fingerprints[earlier.seq]
            if earlier_content != content:
                raise conflict(label, value, seq)
            return earlier
        return None

    def write(self, session: Session) -> list[BatchResult]:
        entries: list[AppendedEntry] = []
        if self.new:
            with writing(session):
                entries = self._insert(session)
        return [
            BatchResult(entries[entry] if isinstance(entry, int) else entry, created)
            for entry, created in self.outcome
        ]

    def _insert(self, session: Session) -> list[AppendedEntry]:
        connection = session.connection()
        # The ids come back in any order (which lets SQLite insert them in one statement too).
        ids: dict[int, int] = dict(
            insert_returning(
                connection, _ENTRIES, _ENTRY_COLUMNS, [p.values for p in self.new], ("seq", "id")
            )
        )
        entries = [
            AppendedEntry(
                id=ids[p.seq],
                seq=p.seq,
                kind=p.kind,
                prev_hash=p.prev_hash,
                hash=p.hash,
                postings=p.postings,
            )
            for p in self.new
        ]
        currency = self.currency
        insert_rows(
            connection,
            _POSTINGS,
            ("entry_id", "position", "account", "amount", "currency"),
            [
                (entry.id, i, posting.account, posting.amount, currency)
                for entry in entries
                for i, posting in enumerate(entry.postings)
            ],
        )
        tree.add_leaves(session, self.pot_id, self.new[0].seq, [p.leaf for p in self.new])
        self._write_balances_and_head(session)
        return entries

    def _write_balances_and_head(self, session: Session) -> None:
        """Store the balances the batch touched and the chain head, as plain statements; the
        session's copies of those rows (if it holds them) take the new values as committed,
        so they read right and no later flush writes them again."""
        touched = sorted({p.account for planned in self.new for p in planned.postings})
        held = [name for name in touched if name in self.stored]
        new = [name for name in touched if name not in self.stored]
        connection = session.connection()
        pot_id = self.pot_id
        if held:
            connection.execute(
                _UPDATE_BALANCE,
                [{"pot": pot_id, "name": name, "new_amount": self.amounts[name]} for name in held],
            )
            for name in held:
                key = _BALANCE_KEY((pot_id, name))
                copy = session.identity_map.get(key)
                if copy is not None:
                    set_committed_value(copy, "amount", self.amounts[name])
        if new:
            connection.execute(
                insert(_BALANCES),
                [
                    {
                        "pot_id": pot_id,
                        "account": name,
                        "amount": self.amounts[name],
                        "non_negative": accounts.is_non_negative(name),
                    }
                    for name in new
                ],
            )
        connection.execute(_UPDATE_HEAD, {"pot": pot_id, "seq": self.seq, "hash": self.prev_hash})
        set_committed_value(self.pot, "head_seq", self.seq)
        set_committed_value(self.pot, "head_hash", self.prev_hash)
