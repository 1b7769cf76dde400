"""Re-checking a pot's entries from scratch, as docs/ledger-format.md specifies.

Entries are fed one at a time (a ledger can be larger than memory). For each the checker
recomputes the canonical bytes (RFC 8785) and the hash, checks the link to the entry before,
that the postings add up to zero in one currency, and replays the balances, refusing any step
that takes ``available`` or a ``committed:*`` account below zero. Along the way it builds the
RFC 9162 Merkle tree over the canonical bytes and remembers its root at the sizes asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import rfc8785

from .merkle import RootBuilder, leaf_hash

FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64
MAX_AMOUNT = 2**53 - 1


class LedgerProblem(Exception):
    """The entries do not add up: what is wrong, in words, and where."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


def is_non_negative(account: str) -> bool:
    return account == "available" or account.startswith("committed:")


def _require(record: Mapping[str, Any], name: str, kinds: tuple[type, ...], seq: object) -> Any:
    if name not in record:
        raise LedgerProblem(f"entry #{seq} has no {name!r}", _seq_or_none(seq))
    value = record[name]
    # bool is an int subclass; true is never a number here.
    if isinstance(value, bool) or not isinstance(value, kinds):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise LedgerProblem(f"entry #{seq}: {name!r} must be {names}", _seq_or_none(seq))
    return value


def _seq_or_none(seq: object) -> int | None:
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def canonical_document(record: Mapping[str, Any], pot: str) -> dict[str, Any]:
    """The hashed members of an entry record, checked for type (raises LedgerProblem)."""
    seq = record.get("seq", "?")
    postings = _require(record, "postings", (list,), seq)
    document = {
        "v": FORMAT_VERSION,
        "pot": pot,
        "seq": _require(record, "seq", (int,), seq),
        "time": _require(record, "time", (str,), seq),
        "kind": _require(record, "kind", (str,), seq),
        "memo": _require(record, "memo", (str,), seq),
        "actor": _require(record, "actor", (str,), seq),
        "external_ref": _require(record, "external_ref", (str, type(None)), seq),
        "reverses": _require(record, "reverses", (int, type(None)), seq),
        "data": _require(record, "data", (dict,), seq),
        "postings": [],
        "prev_hash": _require(record, "prev_hash", (str,), seq),
    }
    for posting in postings:
        if not isinstance(posting, dict):
            raise LedgerProblem(f"entry #{seq}: a posting is not an object", _seq_or_none(seq))
        document["postings"].append(
            {
                "account": _require(posting, "account", (str,), seq),
                "amount": _require(posting, "amount", (int,), seq),
                "currency": _require(posting, "currency", (str,), seq),
            }
        )
    return document


@dataclass
class LedgerReport:
    pot: str
    currency: str | None = None
    entries: int = 0
    last_hash: str = GENESIS_HASH
    balances: dict[str, int] = field(default_factory=dict)
    roots: dict[int, bytes] = field(default_factory=dict)  # tree size -> root
    root: bytes = b""  # the root over all entries checked


class LedgerChecker:
    """Feed it records in order with :meth:`add`; :meth:`finish` gives the report."""

    def __init__(
        self,
        pot: str,
        *,
        currency: str | None = None,
        root_sizes: Iterable[int] = (),
        stop_after: int | None = None,
    ) -> None:
        self.report = LedgerReport(pot=pot, currency=currency)
        self._tree = RootBuilder()
        self._want = set(root_sizes)
        self._stop_after = stop_after
        if 0 in self._want:
            self.report.roots[0] = self._tree.root()

    @property
    def done(self) -> bool:
        """True once ``stop_after`` entries were checked (later ones are not needed)."""
        return self._stop_after is not None and self.report.entries >= self._stop_after

    def add(self, record: Mapping[str, Any]) -> None:
        report = self.report
        expected = report.entries + 1
        if not isinstance(record, Mapping):
            raise LedgerProblem(f"entry #{expected} is not a JSON object", expected)
        if "pot" in record and record["pot"] != report.pot:
            raise LedgerProblem(
                f"entry #{expected} belongs to pot {record['pot']!r}, not {report.pot!r}", expected
            )
        document = canonical_document(record, report.pot)
        seq = document["seq"]
        if seq != expected:
            raise LedgerProblem(
                f"entry #{expected} is missing (the next entry is numbered #{seq})", expected
            )
        if document["prev_hash"] != report.last_hash:
            raise LedgerProblem(
                f"entry #{seq} does not link to the entry before it (its prev_hash is not the "
                "previous entry's hash)",
                seq,
            )
        try:
            canonical = rfc8785.dumps(document)
        except rfc8785.CanonicalizationError as exc:  # e.g. an integer beyond 2**53
            raise LedgerProblem(f"entry #{seq} cannot be canonicalised: {exc}", seq) from None
        computed = hashlib.sha256(canonical).hexdigest()
        if record.get("hash") != computed:
            raise LedgerProblem(
                f"entry #{seq}'s hash does not match its contents: it was changed after it was "
                "recorded (or its hash was)",
                seq,
            )
        self._check_postings(seq, document["postings"])
        report.entries = seq
        report.last_hash = computed
        self._tree.append(leaf_hash(canonical))
        if seq in self._want:
            report.roots[seq] = self._tree.root()

    def _check_postings(self, seq: int, postings: list[dict[str, Any]]) -> None:
        report = self.report
        if len(postings) < 2:
            raise LedgerProblem(f"entry #{seq} has fewer than two postings", seq)
        for posting in postings:
            if report.currency is None:
                report.currency = posting["currency"]
            if posting["currency"] != report.currency:
                raise LedgerProblem(
                    f"entry #{seq} has a posting in {posting['currency']}, but the pot's "
                    f"currency is {report.currency}",
                    seq,
                )
            if posting["amount"] == 0 or abs(posting["amount"]) > MAX_AMOUNT:
                raise LedgerProblem(f"entry #{seq} has an amount of zero or out of range", seq)
        if sum(p["amount"] for p in postings) != 0:
            raise LedgerProblem(f"entry #{seq}'s postings do not add up to zero", seq)
        for posting in postings:
            account = posting["account"]
            balance = report.balances.get(account, 0) + posting["amount"]
            report.balances[account] = balance
            if is_non_negative(account) and balance < 0:
                raise LedgerProblem(
                    f"entry #{seq} takes {account} below zero, which the ledger never allows", seq
                )

    def finish(self) -> LedgerReport:
        self.report.root = self._tree.root()
        return self.report
