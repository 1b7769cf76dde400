"""The hash chain: canonical bytes of an entry and its SHA-256.

The canonical bytes are the RFC 8785 (JSON Canonicalization Scheme) serialisation of the
document built by :func:`canonical_document`. ``docs/ledger-format.md`` specifies the same thing
for people writing their own verifier; keep the two in step (a test checks the example there).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

from ledger.models import GENESIS_HASH

FORMAT_VERSION = 1

__all__ = [
    "FORMAT_VERSION",
    "GENESIS_HASH",
    "CanonicalPosting",
    "canonical_bytes",
    "canonical_document",
    "canonical_json_text",
    "entry_hash",
    "format_timestamp",
    "parse_json_object",
    "stored_document",
]


@dataclass(frozen=True, slots=True)
class CanonicalPosting:
    account: str
    amount: int
    currency: str


def format_timestamp(moment: datetime) -> str:
    """RFC 3339, UTC, microseconds, fixed width: ``2026-11-23T10:15:00.000000Z``."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_document(
    *,
    pot: str,
    seq: int,
    recorded_at: str,
    kind: str,
    memo: str,
    actor: str,
    external_ref: str | None,
    reverses: int | None,
    data: Mapping[str, Any],
    postings: Sequence[CanonicalPosting],
    prev_hash: str,
) -> dict[str, Any]:
    """The hashed fields of an entry, as a JSON-ready document."""
    return {
        "v": FORMAT_VERSION,
        "pot": pot,
        "seq": seq,
        "time": recorded_at,
        "kind": kind,
        "memo": memo,
        "actor": actor,
        "external_ref": external_ref,
        "reverses": reverses,
        "data": dict(data),
        "postings": [
            {"account": p.account, "amount": p.amount, "currency": p.currency} for p in postings
        ],
        "prev_hash": prev_hash,
    }


def stored_document(pot: str, row: Any, postings: Sequence[Any]) -> dict[str, Any]:
    """The hashed document of a stored entry (an ``Entry`` or a row with the same columns)."""
    return canonical_document(
        pot=pot,
        seq=row.seq,
        recorded_at=row.recorded_at,
        kind=row.kind,
        memo=row.memo,
        actor=row.actor,
        external_ref=row.external_ref,
        reverses=row.reverses_seq,
        data=parse_json_object(row.data_json),
        postings=[CanonicalPosting(p.account, p.amount, p.currency) for p in postings],
        prev_hash=row.prev_hash,
    )


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """RFC 8785 (JCS) serialisation of ``document``.

    Ledger documents hold only strings, safe integers, booleans, nulls, lists and objects. For
    those, JCS is exactly what the standard library's C encoder writes with sorted keys, compact
    separators and no ASCII escaping, provided no key needs UTF-16 ordering (a key outside the
    Basic Multilingual Plane) — about five times faster than the pure-Python rfc8785 encoder,
    which stays the reference and handles everything else (tests compare the two).
    """
    if _plain(document):
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    return rfc8785.dumps(document)


_SAFE_INT = 2**53


def _plain(value: Any) -> bool:
    """True when the fast encoder writes exactly what RFC 8785 prescribes for ``value``."""
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        return -_SAFE_INT < value < _SAFE_INT
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and (k.isascii() or max(k) <= "\uffff") and _plain(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return False  # floats, tuples, anything else: the reference encoder decides


def entry_hash(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


def canonical_json_text(value: Mapping[str, Any]) -> str:
    """Canonical JSON as text, for storing the ``data`` object exactly as it is hashed."""
    return canonical_bytes(value).decode("utf-8")


def parse_json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value
