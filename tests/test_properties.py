"""Properties of the ledger for random sequences of operations (hypothesis)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ledger import journal, operations
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.errors import AlreadyReversed, EntryNotFound, InsufficientFunds, InvalidInput
from ledger.models import Balance, Entry, Posting
from ledger.verify import verify_pot
from tamper import execute, triggers_dropped

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Op:
    kind: str
    amount: int
    commitment: str | None = None
    reverse_seq: int | None = None


operation = st.one_of(
    st.builds(Op, st.just("contribution"), st.integers(1, 50_000)),
    st.builds(Op, st.just("payout"), st.integers(1, 30_000)),
    st.builds(Op, st.just("fee"), st.integers(1, 2_000)),
    st.builds(Op, st.just("refund"), st.integers(1, 5_000)),
    st.builds(Op, st.just("allocation"), st.integers(1, 20_000), st.sampled_from(["p:1", "p:2"])),
    st.builds(Op, st.just("release"), st.integers(1, 20_000), st.sampled_from(["p:1", "p:2"])),
    st.builds(Op, st.just("payout"), st.integers(1, 20_000), st.sampled_from(["p:1", "p:2"])),
    st.builds(Op, st.just("adjustment"), st.integers(1, 1_000)),
    st.builds(Op, st.just("reversal"), st.just(0), st.none(), st.integers(1, 30)),
)


def apply(db: Database, slug: str, ops: list[Op]) -> int:
    """Apply operations; refusals are fine (they must change nothing). Returns entries made."""
    made = 0
    for op in ops:
        try:
            with db.write() as session:
                if op.kind == "reversal":
                    assert op.reverse_seq is not None
                    journal.reverse(session, slug, op.reverse_seq, memo="undo", actor="prop")
                else:
                    operations.record(
                        session,
                        slug,
                        op.kind,
                        op.amount,
                        memo=op.kind,
                        actor="prop",
                        commitment=op.commitment,
                    )
            made += 1
        except (InsufficientFunds, AlreadyReversed, InvalidInput, EntryNotFound):
            pass
    return made


def new_pot(db: Database) -> str:
    slug = f"prop-{uuid.uuid4().hex[:10]}"
    with db.write() as session:
        ledger_pots.create_pot(session, slug, name="Property", currency="GBP")
    return slug


@PROPERTY_SETTINGS
@given(ops=st.lists(operation, max_size=30))
def test_random_operations_keep_every_invariant(db: Database, ops: list[Op]) -> None:
    slug = new_pot(db)
    made = apply(db, slug, ops)
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        entries = list(session.scalars(select(Entry).where(Entry.pot_id == pot.id)))
        recomputed: dict[str, int] = {}
        for entry in entries:
            assert sum(p.amount for p in entry.postings) == 0
            for p in entry.postings:
                recomputed[p.account] = recomputed.get(p.account, 0) + p.amount
        maintained = {
            b.account: b.amount
            for b in session.scalars(select(Balance).where(Balance.pot_id == pot.id))
        }
        assert {k: v for k, v in maintained.items() if v} == {
            k: v for k, v in recomputed.items() if v
        }
        assert all(v >= 0 for k, v in maintained.items() if k == "available" or ":" in k)
        report = verify_pot(session, pot)
    assert report.ok, report.problems
    assert report.entries == made == len(entries)


ENTRY_FIELDS = {
    "seq": "seq + 1000",
    "recorded_at": "'2001-01-01T00:00:00.000000Z'",
    "kind": "'fee'",
    "memo": "memo || 'x'",
    "actor": "actor || 'x'",
    "external_ref": "'forged'",
    "reverses_seq": "77",
    "data_json": "'{\"forged\": true}'",
    # Flip the first hex digit (hashes are unique, so a constant would collide across examples).
    "prev_hash": "CASE WHEN substr(prev_hash, 1, 1) = '0' THEN '1' ELSE '0' END "
    "|| substr(prev_hash, 2)",
    "hash": "CASE WHEN substr(hash, 1, 1) = '0' THEN '1' ELSE '0' END || substr(hash, 2)",
}
POSTING_FIELDS = {
    "amount": "CASE WHEN amount = -1 THEN -2 ELSE amount + 1 END",
    "account": "'adjustments'",
    "currency": "'EUR'",
    "position": "position + 5",
}


@PROPERTY_SETTINGS
@given(
    ops=st.lists(
        st.builds(Op, st.just("contribution"), st.integers(1, 10_000)), min_size=1, max_size=8
    ),
    target=st.integers(min_value=0),
    change=st.sampled_from(
        [("entry", f) for f in ENTRY_FIELDS] + [("posting", f) for f in POSTING_FIELDS]
    ),
)
def test_changing_any_stored_field_fails_verification(
    fresh_db: Database, ops: list[Op], target: int, change: tuple[str, str]
) -> None:
    # A database of its own: the triggers are dropped while other tests may share ``db``.
    db = fresh_db
    slug = new_pot(db)
    made = apply(db, slug, ops)
    seq = target % made + 1
    table, column = change
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        entry_id = session.scalar(select(Entry.id).where(Entry.pot_id == pot.id, Entry.seq == seq))
        posting_id = session.scalar(select(Posting.id).where(Posting.entry_id == entry_id))
    with triggers_dropped(db):
        if table == "entry":
            execute(
                db,
                f"UPDATE ledger_entries SET {column} = {ENTRY_FIELDS[column]} "
                f"WHERE id = {entry_id}",
            )
        else:
            execute(
                db,
                f"UPDATE ledger_postings SET {column} = {POSTING_FIELDS[column]} "
                f"WHERE id = {posting_id}",
            )
    with db.read() as session:
        report = verify_pot(session, ledger_pots.get_pot(session, slug))
    assert not report.ok, f"{table}.{column} of #{seq} changed unnoticed"
