"""The direct writers of an entry's canonical bytes and a request's fingerprint agree, byte for
byte and refusal for refusal, with the reference path (a document built, then canonicalised)."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import journal
from ledger.chain import (
    CanonicalPosting,
    StoredDocuments,
    canonical_bytes,
    canonical_document,
    canonical_json_text,
    document_bytes,
    stored_bytes,
    stored_document,
)
from ledger.models import Pot

texts = st.text(max_size=12)
numbers = st.one_of(
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.integers(min_value=2**53, max_value=2**64),  # beyond RFC 8785's safe integers
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, texts),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
postings = st.lists(st.tuples(texts, numbers, texts), max_size=4)


def outcome(make: Any) -> bytes | type[BaseException]:
    try:
        return bytes(make())
    except Exception as exc:  # the reference refuses: the fast path must refuse alike
        return type(exc)


@settings(max_examples=400)
@given(
    strings=st.tuples(texts, texts, texts, texts, texts, texts),
    external_ref=st.none() | texts,
    seq=numbers,
    reverses=st.none() | numbers,
    data=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    posting_list=postings,
)
def test_document_bytes_equal_the_reference(
    strings: tuple[str, ...],
    external_ref: str | None,
    seq: int,
    reverses: int | None,
    data: dict[str, Any],
    posting_list: list[tuple[str, int, str]],
) -> None:
    pot, recorded_at, kind, memo, actor, prev_hash = strings
    fields: dict[str, Any] = dict(
        pot=pot,
        seq=seq,
        recorded_at=recorded_at,
        kind=kind,
        memo=memo,
        actor=actor,
        external_ref=external_ref,
        reverses=reverses,
        data=data,
        prev_hash=prev_hash,
    )
    expected = outcome(
        lambda: canonical_bytes(
            canonical_document(**fields, postings=[CanonicalPosting(*p) for p in posting_list])
        )
    )
    assert outcome(lambda: document_bytes(**fields, postings=posting_list)) == expected
    if isinstance(expected, bytes):
        text = canonical_json_text(data)
        assert document_bytes(**fields, postings=posting_list, data_text=text) == expected


@settings(max_examples=300)
@given(
    memo=texts,
    seq=numbers,
    data_json=st.one_of(
        st.just("{}"),
        st.just('{ "b": 1, "a": [true, null] }'),
        st.just("[1, 2]"),
        st.just("not json"),
        st.just('{"x": 1.5}'),
        st.dictionaries(st.text(max_size=4), json_values, max_size=3).map(
            lambda d: json.dumps(d, ensure_ascii=False)
        ),
    ),
    posting_list=postings,
)
def test_stored_bytes_equal_the_reference(
    memo: str, seq: int, data_json: str, posting_list: list[tuple[str, int, str]]
) -> None:
    row = SimpleNamespace(
        seq=seq,
        recorded_at="2026-11-23T10:15:00.000000Z",
        kind="contribution",
        memo=memo,
        actor="a",
        external_ref=None,
        reverses_seq=None,
        data_json=data_json,
        prev_hash="0" * 64,
    )
    expected = outcome(
        lambda: canonical_bytes(
            stored_document("pot", row, [CanonicalPosting(*p) for p in posting_list])
        )
    )
    fast = outcome(
        lambda: stored_bytes(
            "pot",
            seq,
            row.recorded_at,
            row.kind,
            memo,
            row.actor,
            None,
            None,
            data_json,
            posting_list,
            row.prev_hash,
        )
    )
    assert fast == expected


# What a column of a tampered SQLite database may hold instead of its declared type.
column_values = st.one_of(
    texts, numbers, st.none(), st.floats(allow_nan=False), st.binary(max_size=4)
)


@settings(max_examples=400)
@given(
    columns=st.tuples(
        numbers | column_values,  # seq
        texts | column_values,  # recorded_at
        texts | column_values,  # kind
        texts | column_values,  # memo
        texts | column_values,  # actor
        st.none() | texts | column_values,  # external_ref
        st.none() | numbers | column_values,  # reverses_seq
        st.just("{}") | st.just("[]") | st.just("{"),  # data_json
    ),
    posting_list=st.lists(st.tuples(texts | column_values, numbers | column_values), max_size=3),
    prev_hash=texts,
)
def test_stored_documents_write_what_stored_bytes_writes(
    columns: tuple[Any, ...], posting_list: list[tuple[Any, Any]], prev_hash: str
) -> None:
    """verify's writer for one pot's entries, whatever a (damaged) database holds."""
    documents = StoredDocuments("pot", "GBP")
    in_currency = [(account, amount, "GBP") for account, amount in posting_list]
    expected = outcome(lambda: stored_bytes("pot", *columns, in_currency, prev_hash))
    assert outcome(lambda: documents.bytes_of(*columns, posting_list, prev_hash)) == expected


def reference_fingerprint(request: journal.EntryRequest) -> str:
    content = {
        "kind": request.kind,
        "memo": request.memo,
        "external_ref": request.external_ref,
        "reverses": request.reverses_seq,
        "data": dict(request.data),
        "postings": [[p.account, p.amount] for p in request.postings],
    }
    return hashlib.sha256(canonical_json_text(content).encode()).hexdigest()


@settings(max_examples=300)
@given(
    kind=texts,
    memo=texts,
    external_ref=st.none() | texts,
    reverses=st.none() | numbers,
    data=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    amounts=st.lists(st.tuples(texts, numbers), min_size=1, max_size=3),
)
def test_fingerprint_equals_the_reference(
    kind: str,
    memo: str,
    external_ref: str | None,
    reverses: int | None,
    data: dict[str, Any],
    amounts: list[tuple[str, int]],
) -> None:
    request = journal.EntryRequest(
        kind=kind,
        memo=memo,
        actor="a",
        postings=[journal.PostingSpec(a, n) for a, n in amounts],
        external_ref=external_ref,
        reverses_seq=reverses,
        data=data,
    )
    expected = outcome(lambda: reference_fingerprint(request).encode())
    fast = outcome(lambda: journal.fingerprint(request, canonical_json_text(request.data)).encode())
    assert fast == expected


@settings(max_examples=300)
@given(
    strings=st.tuples(texts, texts, texts),
    external_ref=st.none() | texts,
    reverses=st.none() | numbers,
    data=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    amounts=st.lists(st.tuples(texts, numbers), min_size=1, max_size=3),
    seq=st.integers(min_value=1, max_value=2**63 - 1),
)
def test_fingerprint_and_bytes_equal_the_reference(
    strings: tuple[str, str, str],
    external_ref: str | None,
    reverses: int | None,
    data: dict[str, Any],
    amounts: list[tuple[str, int]],
    seq: int,
) -> None:
    """What appends use: the fingerprint and the canonical bytes written from one set of texts."""
    kind, memo, actor = strings
    request = journal.EntryRequest(
        kind=kind,
        memo=memo,
        actor=actor,
        postings=[journal.PostingSpec(a, n) for a, n in amounts],
        external_ref=external_ref,
        reverses_seq=reverses,
        data=data,
    )
    pot = Pot(slug="a-pot", currency="GBP")
    place: Any = {"seq": seq, "recorded_at": "2026-11-23T10:15:00.000000Z", "prev_hash": "ab" * 32}

    def reference() -> bytes:
        document = canonical_document(
            pot=pot.slug,
            kind=kind,
            memo=memo,
            actor=actor,
            external_ref=external_ref,
            reverses=reverses,
            data=data,
            postings=[CanonicalPosting(a, n, pot.currency) for a, n in amounts],
            **place,
        )
        return reference_fingerprint(request).encode() + b" " + canonical_bytes(document)

    def fused() -> bytes:
        text = canonical_json_text(request.data)
        writer = journal.EntryWriter(
            pot=pot.slug, currency=pot.currency, recorded_at=place["recorded_at"]
        )
        content, canonical = writer.write(
            request, text, seq=place["seq"], prev_hash=place["prev_hash"]
        )
        return content.encode() + b" " + canonical

    assert outcome(fused) == outcome(reference)


@pytest.mark.parametrize("text", ["tab\there", "line\nbreak", "bell\x07", "nul\x00", "del\x7f"])
def test_control_characters_other_than_tab_and_newline_are_refused(text: str) -> None:
    request = journal.EntryRequest(
        kind="contribution",
        memo=text,
        actor="a",
        postings=[journal.PostingSpec("income", -1), journal.PostingSpec("available", 1)],
    )
    refused = any(ord(c) < 0x20 and c not in "\n\t" for c in text)
    if refused:
        with pytest.raises(journal.InvalidInput, match="control characters"):
            journal.validate(request)
    else:
        journal.validate(request)
