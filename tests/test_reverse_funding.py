"""Reversing an entry is money moving too: a reversal that gives money back to ``available``
funds the approved proposals waiting for it, as recording money does
(``ledger.governance.treasury.reverse_entry``, used by ``commonpot ledger reverse``)."""

from __future__ import annotations

from pathlib import Path

from community import approve, approved_waiting, status_of
from helpers import invoke_cli
from ledger import audit
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.governance import proposals
from ledger.governance.models import Status
from ledger.governance.treasury import record_money, reverse_entry
from ledger.timestamps import utcnow


def record(db: Database, slug: str, kind: str, amount: int) -> int:
    with db.write() as session:
        return record_money(session, slug, kind, amount, memo=kind, actor="test").entry.seq


def available(db: Database, slug: str) -> int:
    with db.read() as session:
        return ledger_pots.summarise(session, ledger_pots.get_pot(session, slug)).available


def test_reversing_a_payout_on_the_command_line_funds_the_proposal_waiting(
    db: Database, pot_slug: str, tmp_path: Path
) -> None:
    record(db, pot_slug, "contribution", 10_000)
    payout = record(db, pot_slug, "payout", 8_000)  # £20.00 left
    pid = approved_waiting(db, pot_slug, 5_000)

    args = ("ledger", "reverse", pot_slug, str(payout), "--memo", "The venue refunded us")
    code, out = invoke_cli(db, tmp_path, *args, "--idempotency-key", "refund-1")
    assert code == 0 and out.startswith(f"reversed #{payout} with #{payout + 1} "), out
    assert f"funded proposal #{pid} (it was waiting for funds)" in out
    assert status_of(db, pid) == Status.FUNDED
    assert available(db, pot_slug) == 5_000
    with db.read() as session:
        assert proposals.get(session, pid).funding_entry_seq == payout + 2  # after the reversal

    # The same command again is recognised: nothing is appended, nothing funded twice.
    code, out = invoke_cli(db, tmp_path, *args, "--idempotency-key", "refund-1")
    assert code == 0, out
    assert out.startswith(f"already reversed (nothing new): #{payout} with #{payout + 1} ")
    assert "funded proposal" not in out
    assert available(db, pot_slug) == 5_000


def test_a_reversal_that_takes_money_away_funds_nothing(db: Database, pot_slug: str) -> None:
    grant = record(db, pot_slug, "contribution", 10_000)
    record(db, pot_slug, "contribution", 3_000)
    pid = approved_waiting(db, pot_slug, 20_000)
    with db.write() as session:
        undone = reverse_entry(session, pot_slug, grant, memo="Sent in error", actor="test")
    assert undone.created and undone.funded == []
    assert status_of(db, pid) == Status.APPROVED
    assert available(db, pot_slug) == 3_000


def test_funded_proposals_come_back_in_approval_order(db: Database, pot_slug: str) -> None:
    record(db, pot_slug, "contribution", 9_000)
    fee = record(db, pot_slug, "fee", 9_000)
    first = approved_waiting(db, pot_slug, 4_000)
    second = approved_waiting(db, pot_slug, 4_000)
    third = approved_waiting(db, pot_slug, 4_000)
    with db.write() as session:
        undone = reverse_entry(session, pot_slug, fee, memo="Fee waived", actor="test")
        assert [p.id for p in undone.funded] == [first, second]  # £90 covers two of three
    assert status_of(db, third) == Status.APPROVED


def test_a_decisions_money_is_not_moved_behind_its_proposals_back(
    db: Database, pot_slug: str, tmp_path: Path
) -> None:
    """Reversing a funded proposal's allocation would free its money while the proposal stays
    funded (and let waiting proposals spend it twice); committing or releasing by hand would
    do the same the other way. The proposal is the one door to its money."""
    record(db, pot_slug, "contribution", 10_000)
    pid = approve(db, pot_slug, 5_000)  # funded at once: there is money
    assert status_of(db, pid) == Status.FUNDED
    with db.read() as session:
        allocation = proposals.get(session, pid).funding_entry_seq
    code, out = invoke_cli(
        db, tmp_path, "ledger", "reverse", pot_slug, str(allocation), "--memo", "x"
    )
    assert code == 2 and "undo it through its proposal" in out, out
    for kind in ("allocation", "release"):
        code, out = invoke_cli(
            db, tmp_path, "ledger", "record", pot_slug, kind, "10.00", "--memo", "by hand",
            "--commitment", f"proposal:{pid}",
        )  # fmt: skip
        assert code == 2 and "not by hand" in out, out
    assert status_of(db, pid) == Status.FUNDED
    assert available(db, pot_slug) == 5_000


def paid_of(db: Database, pid: int) -> tuple[str, int]:
    with db.read() as session:
        proposal = proposals.get(session, pid)
        return str(proposal.status), proposal.paid_amount


def committed_to(db: Database, slug: str, pid: int) -> int:
    with db.read() as session:
        balances = ledger_pots.summarise(session, ledger_pots.get_pot(session, slug)).balances
    return balances.get(f"committed:proposal:{pid}", 0)


def test_reversing_a_proposals_payout_takes_the_payment_back(
    db: Database, pot_slug: str, tmp_path: Path
) -> None:
    """A payout out of a proposal's commitment pays the proposal; reversing it puts the money
    back into the commitment, so the proposal is that much less paid, and can be paid again or
    closed to give the money back to the pot."""
    record(db, pot_slug, "contribution", 10_000)
    pid = approve(db, pot_slug, 6_000)
    payouts = []
    for amount in ("20.00", "40.00"):
        code, out = invoke_cli(
            db, tmp_path, "ledger", "record", pot_slug, "payout", amount, "--memo", "paid",
            "--commitment", f"proposal:{pid}",
        )  # fmt: skip
        assert code == 0, out
        with db.read() as session:
            payouts.append(ledger_pots.get_pot(session, pot_slug).head_seq)
    assert paid_of(db, pid) == (Status.PAID, 6_000)

    code, out = invoke_cli(
        db, tmp_path, "ledger", "reverse", pot_slug, str(payouts[1]), "--memo", "Bounced"
    )
    assert code == 0, out
    assert paid_of(db, pid) == (Status.PARTLY_PAID, 2_000)
    assert committed_to(db, pot_slug, pid) == 4_000
    with db.write() as session:
        reverse_entry(session, pot_slug, payouts[0], memo="Bounced too", actor="test")
    assert paid_of(db, pid) == (Status.FUNDED, 0)
    assert committed_to(db, pot_slug, pid) == 6_000
    with db.read() as session:
        pot = ledger_pots.get_pot(session, pot_slug)
        events = [e.kind for e in audit.list_events(session, pot, proposal_id=pid)]
    assert events.count("proposal_payout_reversed") == 2

    with db.write() as session:
        proposals.close(session, pid, actor="test", now=utcnow())
    assert committed_to(db, pot_slug, pid) == 0
    assert available(db, pot_slug) == 10_000  # all of it back


def test_a_payout_of_a_closed_proposal_is_not_reversed_into_its_empty_commitment(
    db: Database, pot_slug: str, tmp_path: Path
) -> None:
    record(db, pot_slug, "contribution", 10_000)
    pid = approve(db, pot_slug, 6_000)
    with db.write() as session:
        payout = record_money(
            session, pot_slug, "payout", 2_500, memo="part", actor="t", commitment=f"proposal:{pid}"
        ).entry.seq
        proposals.close(session, pid, actor="test", now=utcnow())  # 35.00 released
    code, out = invoke_cli(db, tmp_path, "ledger", "reverse", pot_slug, str(payout), "--memo", "x")
    assert code == 2 and f"paid proposal #{pid}, which is closed" in out, out
    assert "adjustment (increase)" in out
    assert paid_of(db, pid) == (Status.CLOSED, 2_500)
    with db.read() as session:
        assert ledger_pots.get_pot(session, pot_slug).head_seq == payout + 1  # the release only
