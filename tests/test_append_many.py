"""Appending a batch: the same entries, byte for byte, as appending one by one, or nothing."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from ledger import batch, journal, merkle, operations, tree
from ledger import pots as ledger_pots
from ledger.chain import canonical_bytes, stored_document
from ledger.db import Database
from ledger.errors import IdempotencyConflict, InsufficientFunds, InvalidInput, LedgerError
from ledger.models import Balance, Entry, Pot
from ledger.verify import verify_pot

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)


def request(
    kind: str,
    amount: int,
    *,
    commitment: str | None = None,
    key: str | None = None,
    ref: str | None = None,
    memo: str | None = None,
    data: dict[str, Any] | None = None,
) -> journal.EntryRequest:
    return journal.EntryRequest(
        kind=kind,
        memo=memo or f"{kind} {amount}",
        actor="batch-test",
        postings=operations.postings_for(kind, amount, commitment=commitment),
        idempotency_key=key,
        external_ref=ref,
        data=data or {},
    )


def new_pot(db: Database, prefill: int = 0) -> str:
    slug = f"batch-{uuid.uuid4().hex[:10]}"
    with db.write() as session:
        ledger_pots.create_pot(session, slug, name="Batch", currency="GBP")
        for i in range(prefill):
            operations.record(session, slug, "contribution", 10_000 + i, memo="seed", actor="t")
    return slug


@dataclass(frozen=True)
class Outcome:
    results: list[tuple[int, str, bool]]  # (seq, hash, created) per request
    balances: dict[str, int]
    head: tuple[int, str]
    root: bytes | None


def snapshot(
    session: Session, pot: Pot, results: list[journal.AppendResult] | list[batch.BatchResult]
) -> Outcome:
    balances = {
        b.account: b.amount
        for b in session.scalars(select(Balance).where(Balance.pot_id == pot.id))
    }
    return Outcome(
        [(r.entry.seq, r.entry.hash, r.created) for r in results],
        balances,
        (pot.head_seq, pot.head_hash),
        tree.root(session, pot.id, pot.head_seq) if pot.head_seq else None,
    )


class _RollBack(Exception):
    pass


def one_by_one(db: Database, slug: str, requests: list[journal.EntryRequest]) -> Any:
    """The outcome (or the refusal's type) of appending one by one, rolled back afterwards."""
    seen: Any = None
    try:
        with db.write() as session:
            pot = journal.lock_pot(session, slug)
            try:
                results = [journal.append_locked(session, pot, r, now=NOW) for r in requests]
            except LedgerError as exc:
                seen = type(exc)
                raise _RollBack from exc
            seen = snapshot(session, pot, results)
            raise _RollBack
    except _RollBack:
        pass
    return seen


def in_one_batch(db: Database, slug: str, requests: list[journal.EntryRequest]) -> Any:
    try:
        with db.write() as session:
            results = batch.append_many(session, slug, requests, now=NOW)
            return snapshot(session, journal.lock_pot(session, slug), results)
    except LedgerError as exc:
        return type(exc)


def entry_count(db: Database, slug: str) -> int:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        return session.scalar(select(func.count()).where(Entry.pot_id == pot.id)) or 0


KEYS = st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"]))
REFS = st.one_of(st.none(), st.sampled_from(["oc:1", "oc:2"]))
movement = st.one_of(
    st.builds(request, st.just("contribution"), st.integers(1, 50_000), key=KEYS, ref=REFS),
    st.builds(request, st.just("payout"), st.integers(1, 10_000), key=KEYS),
    st.builds(request, st.just("fee"), st.integers(1, 2_000), ref=REFS),
    st.builds(
        request,
        st.just("allocation"),
        st.integers(1, 20_000),
        commitment=st.sampled_from(["p:1", "p:2"]),
    ),
    st.builds(
        request, st.just("release"), st.integers(1, 5_000), commitment=st.sampled_from(["p:1"])
    ),
    st.builds(
        request,
        st.just("contribution"),
        st.integers(1, 999),
        memo=st.text(min_size=1, max_size=12).filter(str.strip),
        data=st.dictionaries(st.text(max_size=4), st.integers(-5, 5) | st.text(max_size=4)),
    ),
)


@st.composite
def batches(draw: st.DrawFn) -> list[journal.EntryRequest]:
    """Movements, some of them repeating an earlier one exactly (a retry within the batch)."""
    requests: list[journal.EntryRequest] = []
    for _ in range(draw(st.integers(0, 14))):
        if requests and draw(st.integers(0, 4)) == 0:
            requests.append(draw(st.sampled_from(requests)))
        else:
            requests.append(draw(movement))
    return requests


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(prefill=st.integers(0, 9), requests=batches())
def test_a_batch_is_exactly_its_requests_one_by_one(
    db: Database, prefill: int, requests: list[journal.EntryRequest]
) -> None:
    slug = new_pot(db, prefill)
    expected = one_by_one(db, slug, requests)
    event(expected.__name__ if isinstance(expected, type) else "appended")
    assert entry_count(db, slug) == prefill  # the one-by-one run was rolled back
    assert in_one_batch(db, slug, requests) == expected
    with db.read() as session:
        report = verify_pot(session, ledger_pots.get_pot(session, slug))
    assert report.ok, report.problems
    made = (
        sum(1 for *_, created in expected.results if created)
        if isinstance(expected, Outcome)
        else 0
    )
    assert report.entries == prefill + made


def test_refused_entry_mid_batch_refuses_the_batch_and_changes_nothing(db: Database) -> None:
    if db.dialect == "sqlite":
        pytest.skip("SQLite writers take the whole database at their first read")
    slug = new_pot(db, prefill=1)  # 100.00 available
    with db.write() as session:
        pot = journal.lock_pot(session, slug)
        head = (pot.head_seq, pot.head_hash)
        available = session.get(Balance, (pot.id, "available"))
        assert available is not None and available.amount == 10_000
        requests = [
            request("contribution", 5_000),
            request("payout", 12_000),
            request("payout", 4_000),  # 150.00 - 120.00 = 30.00 < 40.00
            request("contribution", 1),
        ]
        with pytest.raises(InsufficientFunds, match=r"available holds 30\.00 GBP") as caught:
            batch.append_many(session, slug, requests)
        assert (caught.value.balance, caught.value.requested) == (3_000, 4_000)
        # The session's objects are as they were, and the transaction can carry on.
        assert (pot.head_seq, pot.head_hash) == head
        assert available.amount == 10_000
        assert not session.new and not session.dirty
        results = batch.append_many(session, slug, requests[:2])
        assert [r.entry.seq for r in results] == [2, 3]
    assert entry_count(db, slug) == 3
    with db.read() as session:
        assert ledger_pots.summarise(session, ledger_pots.get_pot(session, slug)).available == 3_000


def test_the_first_refusal_in_order_wins(db: Database) -> None:
    slug = new_pot(db)
    bad_memo = request("contribution", 1, memo="tab\tok, bell \x07 not")
    with db.write() as session, pytest.raises(InsufficientFunds):
        batch.append_many(session, slug, [request("payout", 1), bad_memo])
    with db.write() as session, pytest.raises(InvalidInput, match="control characters"):
        batch.append_many(session, slug, [request("contribution", 5), bad_memo])
    assert entry_count(db, slug) == 0


def test_retrying_a_whole_batch_returns_the_original_entries(db: Database) -> None:
    slug = new_pot(db)
    requests = [
        request("contribution", 1_000, key="c-1"),
        request("contribution", 2_000, ref="oc:abc"),
        request("payout", 500, key="p-1"),
    ]
    with db.write() as session:
        first = batch.append_many(session, slug, requests)
    with db.write() as session:
        again = batch.append_many(session, slug, requests)
    assert [r.created for r in first] == [True, True, True]
    assert [r.created for r in again] == [False, False, False]
    assert [r.entry.hash for r in again] == [r.entry.hash for r in first]
    assert [len(r.entry.postings) for r in again] == [2, 2, 2]
    assert entry_count(db, slug) == 3
    # A retry mixed with new requests appends only the new ones.
    with db.write() as session:
        mixed = batch.append_many(session, slug, [requests[1], request("fee", 10, key="f-1")])
    assert [(r.entry.seq, r.created) for r in mixed] == [(2, False), (4, True)]


def test_reused_key_with_different_content_conflicts(db: Database) -> None:
    slug = new_pot(db)
    with db.write() as session:
        batch.append_many(session, slug, [request("contribution", 1_000, key="c-1")])
    with db.write() as session, pytest.raises(IdempotencyConflict, match="entry #1"):
        batch.append_many(
            session,
            slug,
            [request("contribution", 5, key="c-2"), request("contribution", 999, key="c-1")],
        )
    with db.write() as session, pytest.raises(IdempotencyConflict, match="external reference"):
        batch.append_many(
            session,
            slug,
            [request("contribution", 5, ref="oc:9"), request("contribution", 6, ref="oc:9")],
        )
    assert entry_count(db, slug) == 1


def test_a_request_repeated_inside_one_batch_is_appended_once(db: Database) -> None:
    slug = new_pot(db)
    repeated = request("contribution", 700, key="twice")
    with db.write() as session:
        results = batch.append_many(
            session, slug, [repeated, request("fee", 100), repeated], now=NOW
        )
    assert [(r.entry.seq, r.created) for r in results] == [(1, True), (2, True), (1, False)]
    assert results[2].entry is results[0].entry
    with db.write() as session, pytest.raises(IdempotencyConflict, match="entry #3"):
        batch.append_many(
            session,
            slug,
            [request("contribution", 1, key="k"), request("contribution", 2, key="k")],
        )
    assert entry_count(db, slug) == 2


def test_batch_entries_read_like_any_other(db: Database) -> None:
    slug = new_pot(db, prefill=5)
    with db.write() as session:
        results = batch.append_many(
            session,
            slug,
            [request("contribution", 100 + i, data={"proposal": i}) for i in range(12)],
        )
        # The results carry each entry's postings, in order.
        entry = results[4].entry
        assert [(p.account, p.amount) for p in entry.postings] == [
            ("income", -104),
            ("available", 104),
        ]
        # Single appends after a batch, in the same transaction, continue the chain and tree.
        pot = journal.lock_pot(session, slug)
        last = journal.append_locked(session, pot, request("fee", 3))
        assert last.entry.seq == 18 and last.entry.prev_hash == results[-1].entry.hash
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        entries = session.scalars(
            select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq)
        ).all()
        leaves = [
            merkle.leaf_hash(canonical_bytes(stored_document(pot.slug, e, e.postings)))
            for e in entries
        ]
        for size in range(1, len(leaves) + 1):
            assert tree.root(session, pot.id, size) == merkle.root_from_leaves(leaves[:size])
        assert verify_pot(session, pot).ok


def test_an_empty_batch_writes_nothing(db: Database) -> None:
    slug = new_pot(db)
    with db.write() as session:
        assert batch.append_many(session, slug, []) == []
    assert entry_count(db, slug) == 0


@pytest.mark.parametrize("how", ["batch", "one by one"])
def test_a_database_error_while_writing_rolls_everything_back(fresh_db: Database, how: str) -> None:
    """A tree node that should not exist yet (only a damaged database has one) fails the write
    half-way; a caller that catches the error and carries on must not commit half an entry."""
    slug = new_pot(fresh_db, prefill=15)
    with fresh_db.engine.begin() as conn:  # node (4, 0) is what entry #16 completes
        conn.execute(
            text(
                "INSERT INTO ledger_merkle_nodes (pot_id, level, idx, hash) "
                "SELECT id, 4, 0, :h FROM pots WHERE slug = :slug"
            ),
            {"h": b"\x03" * 32, "slug": slug},
        )
    failed = []
    with contextlib.suppress(SQLAlchemyError), fresh_db.write() as session:
        pot = journal.lock_pot(session, slug)
        try:
            if how == "batch":
                batch.append_many_locked(session, pot, [request("contribution", 5)])
            else:
                journal.append_locked(session, pot, request("contribution", 5))
        except DBAPIError as exc:
            failed.append(exc)  # a careless caller...
        session.commit()  # ...tries to keep what it has: the transaction is gone
    assert failed
    assert entry_count(fresh_db, slug) == 15


def test_balances_read_before_the_lock_are_read_again(db: Database) -> None:
    """One by one as in a batch: a balance the session loaded before taking the pot's lock is
    refreshed under it, so money spent meanwhile by another transaction is not spent twice."""
    if db.dialect == "sqlite":
        pytest.skip("SQLite writers take the whole database at their first read")
    slug = new_pot(db, prefill=1)  # 100.00 available
    with db.write() as session:
        pot = ledger_pots.get_pot(session, slug)
        stale = session.scalars(
            select(Balance).where(Balance.pot_id == pot.id, Balance.account == "available")
        ).one()
        with db.write() as other:  # meanwhile, elsewhere: 90.00 paid out
            operations.record(other, slug, "payout", 9_000, memo="elsewhere", actor="t")
        if db.dialect == "sqlite":
            pytest.skip("SQLite writers take the whole database at their first read")
        with pytest.raises(InsufficientFunds):
            journal.append_locked(
                session, journal.lock_pot(session, slug), request("payout", 5_000)
            )
        assert stale.amount == 1_000


def test_reverses_must_be_a_sequence_number(db: Database) -> None:
    slug = new_pot(db, prefill=1)
    for bad in (True, "1", 0, -1, 2**63):
        wrong = journal.EntryRequest(
            kind="reversal",
            memo="bad",
            actor="t",
            postings=operations.postings_for("fee", 1),
            reverses_seq=bad,  # type: ignore[arg-type]
        )
        with db.write() as session, pytest.raises(InvalidInput, match="sequence number"):
            batch.append_many(session, slug, [wrong])
    assert entry_count(db, slug) == 1


def test_many_references_fit_any_statement_limit(fresh_db: Database) -> None:
    """A page of Open Collective transactions has a reference each: looking them up must fit
    SQLite builds that allow only 999 variables in a statement."""
    slug = new_pot(fresh_db)
    requests = [request("contribution", 100 + i, ref=f"oc:{i}") for i in range(1_200)]
    with fresh_db.write() as session:
        if fresh_db.dialect == "sqlite":
            driver: Any = session.connection().connection.driver_connection
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        assert all(r.created for r in batch.append_many(session, slug, requests))
    with fresh_db.write() as session:
        again = batch.append_many(session, slug, requests[::-1])
        assert not any(r.created for r in again)
        assert [r.entry.seq for r in again] == list(range(1_200, 0, -1))
    assert entry_count(fresh_db, slug) == 1_200


def test_many_accounts_fit_any_statement_limit(fresh_db: Database) -> None:
    """A round's settlement commits money to many proposals, an account each: reading their
    balances must fit SQLite builds that allow only 999 variables in a statement."""
    slug = new_pot(fresh_db, prefill=1)  # 100.00 available
    allocations = [
        journal.EntryRequest(
            kind="allocation",
            memo=f"proposal {i}",
            actor="t",
            postings=[
                journal.PostingSpec("available", -1),
                journal.PostingSpec(f"committed:proposal:{i}", 1),
            ],
        )
        for i in range(1_200)
    ]
    for attempt in ("first", "again"):
        with fresh_db.write() as session:
            if fresh_db.dialect == "sqlite":
                driver: Any = session.connection().connection.driver_connection
                driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
            batch.append_many(session, slug, allocations)
        with fresh_db.read() as session:
            balances = ledger_pots.summarise(session, ledger_pots.get_pot(session, slug)).balances
        # The second batch found the first's 1,200 balances and added to each.
        held = 1 if attempt == "first" else 2
        assert balances["available"] == 10_000 - 1_200 * held
        assert all(balances[f"committed:proposal:{i}"] == held for i in range(1_200))
