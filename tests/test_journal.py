"""Recording money: double entry, the non-negative rule, idempotency and reversals."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from ledger import accounts, journal, operations
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.errors import (
    AlreadyReversed,
    EntryNotFound,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidInput,
    PotExists,
    PotNotFound,
)
from ledger.models import GENESIS_HASH, Entry


def record(db: Database, slug: str, kind: str, amount: int, **kw: object) -> journal.AppendResult:
    kw.setdefault("memo", f"{kind} {amount}")
    kw.setdefault("actor", "test")
    with db.write() as session:
        return operations.record(session, slug, kind, amount, **kw)  # type: ignore[arg-type]


def summary(db: Database, slug: str) -> ledger_pots.PotSummary:
    with db.read() as session:
        return ledger_pots.summarise(session, ledger_pots.get_pot(session, slug))


def entry_count(db: Database, slug: str) -> int:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        return session.scalar(select(func.count()).where(Entry.pot_id == pot.id)) or 0


def test_money_in_and_out_keeps_every_total(db: Database, pot_slug: str) -> None:
    record(db, pot_slug, "contribution", 50_000)
    record(db, pot_slug, "fee", 1_000)
    record(db, pot_slug, "allocation", 20_000, commitment="proposal:7")
    record(db, pot_slug, "payout", 5_000, commitment="proposal:7")
    record(db, pot_slug, "payout", 4_000)
    record(db, pot_slug, "adjustment", 300, direction="decrease")
    s = summary(db, pot_slug)
    assert s.received == 50_000
    assert s.fees == 1_000
    assert s.committed == 15_000
    assert s.paid_out == 9_000
    assert s.available == 50_000 - 1_000 - 20_000 - 4_000 - 300
    assert s.held == s.available + s.committed
    assert sum(s.balances.values()) == 0  # double entry: the whole pot nets to zero
    assert s.entry_count == 6


def test_sequence_numbers_and_chain_links(db: Database, pot_slug: str) -> None:
    first = record(db, pot_slug, "contribution", 100).entry
    second = record(db, pot_slug, "contribution", 200).entry
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert summary(db, pot_slug).head_hash == second.hash


def test_payout_beyond_available_is_refused_and_changes_nothing(
    db: Database, pot_slug: str
) -> None:
    record(db, pot_slug, "contribution", 1_000)
    with pytest.raises(InsufficientFunds, match=r"available holds 10\.00 GBP") as caught:
        record(db, pot_slug, "payout", 1_001)
    assert (caught.value.account, caught.value.balance, caught.value.requested) == (
        "available",
        1_000,
        1_001,
    )
    assert entry_count(db, pot_slug) == 1
    assert summary(db, pot_slug).available == 1_000


def test_commitment_cannot_be_overspent(db: Database, pot_slug: str) -> None:
    record(db, pot_slug, "contribution", 1_000)
    record(db, pot_slug, "allocation", 600, commitment="proposal:1")
    with pytest.raises(InsufficientFunds, match="committed:proposal:1"):
        record(db, pot_slug, "payout", 601, commitment="proposal:1")
    with pytest.raises(InsufficientFunds):
        record(db, pot_slug, "allocation", 401, commitment="proposal:2")


def test_same_idempotency_key_and_content_returns_the_original(db: Database, pot_slug: str) -> None:
    first = record(db, pot_slug, "contribution", 1_000, idempotency_key="k1")
    again = record(db, pot_slug, "contribution", 1_000, idempotency_key="k1")
    assert first.created and not again.created
    assert again.entry.seq == first.entry.seq
    assert entry_count(db, pot_slug) == 1


def test_same_idempotency_key_different_content_conflicts(db: Database, pot_slug: str) -> None:
    record(db, pot_slug, "contribution", 1_000, idempotency_key="k1")
    with pytest.raises(IdempotencyConflict, match="k1"):
        record(db, pot_slug, "contribution", 2_000, idempotency_key="k1")
    assert entry_count(db, pot_slug) == 1


def test_external_reference_is_unique_per_pot(db: Database, pot_slug: str) -> None:
    record(db, pot_slug, "contribution", 1_000, external_ref="oc:1")
    assert not record(db, pot_slug, "contribution", 1_000, external_ref="oc:1").created
    with pytest.raises(IdempotencyConflict, match="external reference"):
        record(db, pot_slug, "contribution", 999, external_ref="oc:1")


def test_reversal_undoes_an_entry_once(db: Database, pot_slug: str) -> None:
    record(db, pot_slug, "contribution", 1_000)
    record(db, pot_slug, "payout", 300)
    with db.write() as session:
        result = journal.reverse(session, pot_slug, 2, memo="paid twice", actor="test")
    assert result.entry.kind == "reversal" and result.entry.reverses_seq == 2
    assert [p.amount for p in result.entry.postings] == [300, -300]
    assert summary(db, pot_slug).available == 1_000
    with pytest.raises(AlreadyReversed), db.write() as session:
        journal.reverse(session, pot_slug, 2, memo="again", actor="test")
    with pytest.raises(InvalidInput, match="itself a reversal"), db.write() as session:
        journal.reverse(session, pot_slug, 3, memo="undo undo", actor="test")
    with pytest.raises(EntryNotFound), db.write() as session:
        journal.reverse(session, pot_slug, 99, memo="nothing", actor="test")


def test_reversal_is_idempotent_by_key(db: Database, pot_slug: str) -> None:
    record(db, pot_slug, "contribution", 1_000)
    with db.write() as session:
        first = journal.reverse(session, pot_slug, 1, memo="m", actor="t", idempotency_key="r")
    with db.write() as session:
        again = journal.reverse(session, pot_slug, 1, memo="m", actor="t", idempotency_key="r")
    assert not again.created and again.entry.seq == first.entry.seq


def test_reversing_spent_money_is_refused(db: Database, pot_slug: str) -> None:
    record(db, pot_slug, "contribution", 1_000)
    record(db, pot_slug, "payout", 800)
    with pytest.raises(InsufficientFunds), db.write() as session:
        journal.reverse(session, pot_slug, 1, memo="bounced", actor="test")


@pytest.mark.parametrize(
    ("postings", "message"),
    [
        ([journal.PostingSpec("income", -5), journal.PostingSpec("available", 4)], "sum to zero"),
        ([journal.PostingSpec("available", 0), journal.PostingSpec("income", 0)], "greater than"),
        ([journal.PostingSpec("available", 5)], "at least two"),
        ([journal.PostingSpec("nope", -5), journal.PostingSpec("available", 5)], "unknown account"),
        (
            [journal.PostingSpec("income", -(2**60)), journal.PostingSpec("available", 2**60)],
            "largest",
        ),
    ],
)
def test_unbalanced_or_odd_postings_are_refused(
    db: Database, pot_slug: str, postings: list[journal.PostingSpec], message: str
) -> None:
    request = journal.EntryRequest(kind="adjustment", memo="m", actor="t", postings=postings)
    with pytest.raises(InvalidInput, match=message), db.write() as session:
        journal.append(session, pot_slug, request)
    assert entry_count(db, pot_slug) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"memo": ""}, "memo must not be empty"),
        ({"memo": "x" * 2001}, "limit is 2000"),
        ({"memo": "bell\x07"}, "control characters"),
        ({"memo": "\ud800"}, "not valid Unicode"),
        ({"external_ref": " "}, "must not be empty"),
    ],
)
def test_bad_text_is_refused(db: Database, pot_slug: str, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        record(db, pot_slug, "contribution", 100, **kwargs)


def test_unknown_pot_and_kind(db: Database, pot_slug: str) -> None:
    with pytest.raises(PotNotFound):
        record(db, "no-such-pot", "contribution", 100)
    with pytest.raises(InvalidInput, match="unknown kind"):
        record(db, pot_slug, "gift", 100)
    with pytest.raises(InvalidInput, match="needs a commitment"):
        record(db, pot_slug, "allocation", 100)
    with pytest.raises(InvalidInput, match="kind:identifier"):
        record(db, pot_slug, "allocation", 100, commitment="bad ref")


def test_pot_creation_rules(db: Database, pot_slug: str) -> None:
    with pytest.raises(PotExists), db.write() as session:
        ledger_pots.create_pot(session, pot_slug, name="Again", currency="GBP")
    for slug in ("Bad Slug", "-x", "x" * 65, ""):
        with pytest.raises(InvalidInput), db.write() as session:
            ledger_pots.create_pot(session, slug, name="n", currency="GBP")


def test_time_is_recorded_in_utc(db: Database, pot_slug: str) -> None:
    when = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    entry = record(db, pot_slug, "contribution", 100, now=when).entry
    assert entry.recorded_at == "2026-03-01T12:30:00.000000Z"


def test_chart_of_accounts_rules() -> None:
    assert accounts.is_non_negative("available")
    assert accounts.is_non_negative("committed:proposal:3")
    assert not accounts.is_non_negative("income")
    assert accounts.is_held("committed:round:1") and not accounts.is_held("paid_out")
