"""Money a treasurer records by hand, and what the pot's decisions make of it: the one service
the API, the pages and the command line all call (``ledger.governance.treasury``)."""

from __future__ import annotations

from pathlib import Path

from community import approved_waiting, status_of
from helpers import invoke_cli
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.governance import proposals
from ledger.governance.models import Status
from ledger.governance.treasury import record_money


def test_money_arriving_funds_the_proposals_waiting_for_it(db: Database, pot_slug: str) -> None:
    first = approved_waiting(db, pot_slug, 6_000)
    second = approved_waiting(db, pot_slug, 6_000)
    with db.write() as session:
        recorded = record_money(
            session,
            pot_slug,
            "contribution",
            10_000,
            memo="Grant",
            actor="test",
            idempotency_key="grant",
        )
        assert recorded.created and [p.id for p in recorded.funded] == [first]
    assert status_of(db, first) == Status.FUNDED
    assert status_of(db, second) == Status.APPROVED  # in approval order, while money lasts

    with db.write() as session:  # the same request again records nothing, funds nothing
        again = record_money(
            session,
            pot_slug,
            "contribution",
            10_000,
            memo="Grant",
            actor="test",
            idempotency_key="grant",
        )
        assert not again.created and again.funded == []
        assert again.entry.seq == recorded.entry.seq

    with db.write() as session:
        more = record_money(session, pot_slug, "contribution", 2_000, memo="More", actor="test")
        assert [p.id for p in more.funded] == [second]
    with db.read() as session:
        summary = ledger_pots.summarise(session, ledger_pots.get_pot(session, pot_slug))
        assert summary.committed == 12_000 and summary.available == 0


def test_a_payout_out_of_a_commitment_pays_the_proposal(db: Database, pot_slug: str) -> None:
    pid = approved_waiting(db, pot_slug, 5_000)
    with db.write() as session:
        record_money(session, pot_slug, "contribution", 5_000, memo="Grant", actor="test")
        record_money(
            session,
            pot_slug,
            "payout",
            2_000,
            memo="First half",
            actor="test",
            commitment=f"proposal:{pid}",
        )
    with db.read() as session:
        proposal = proposals.get(session, pid)
        assert proposal.status == Status.PARTLY_PAID and proposal.paid_amount == 2_000


def test_the_command_line_records_through_the_same_service(
    db: Database, pot_slug: str, tmp_path: Path
) -> None:
    pid = approved_waiting(db, pot_slug, 5_000)
    code, out = invoke_cli(
        db, tmp_path, "ledger", "record", pot_slug, "contribution", "50.00", "--memo", "Grant"
    )
    assert code == 0 and out.startswith("recorded: #1 contribution 50.00 GBP"), out
    assert f"funded proposal #{pid} (it was waiting for funds)" in out
    code, out = invoke_cli(
        db,
        tmp_path,
        "ledger",
        "record",
        pot_slug,
        "payout",
        "50.00",
        "--memo",
        "Paid",
        "--commitment",
        f"proposal:{pid}",
    )
    assert code == 0, out
    assert status_of(db, pid) == Status.PAID  # before, the CLI left it "funded"
