"""``commonpot rounds advance`` and ``commonpot rounds export`` through the Flask CLI runner."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from test_rounds_services import (
    DAY,
    PROPOSALS,
    REVIEW,
    VOTING,
    balances,
    new_round,
    propose,
    review,
    verified,
    vote,
)

from community import fund, person
from helpers import invoke_cli
from ledger.db import Database
from ledger.pb import parse_pb


def test_advance_funds_due_rounds_and_export_prints_the_pb_file(
    db: Database, pot_slug: str, tmp_path: Path
) -> None:
    start = datetime.now(UTC) - 30 * DAY  # counted and funded by now
    steward = person(db, pot_slug, "steward", joined_at=start - DAY)
    ana, bo = (person(db, pot_slug, "member", joined_at=start - DAY) for _ in range(2))
    fund(db, pot_slug, 30_000)
    round_id = new_round(db, pot_slug, steward, budget=10_000, start=start, rule="greedy")
    a = propose(db, round_id, ana, "Allotment", 6_000, now=start + PROPOSALS)
    b = propose(db, round_id, bo, "Bike repair", 5_000, now=start + PROPOSALS)
    review(db, round_id, steward, a, now=start + REVIEW)
    review(db, round_id, steward, b, now=start + REVIEW)
    vote(db, round_id, ana, [a, b], now=start + VOTING)
    vote(db, round_id, bo, [b], now=start + VOTING)

    code, output = invoke_cli(db, tmp_path, "rounds", "export", pot_slug, str(round_id))
    assert code == 2 and "Not counted yet" in output

    code, output = invoke_cli(db, tmp_path, "rounds", "advance")
    assert code == 0, output
    assert f"{pot_slug}: round #{round_id} funded" in output
    code, output = invoke_cli(db, tmp_path, "rounds", "advance")
    assert code == 0 and f"round #{round_id}" not in output  # nothing left to do

    assert balances(db, pot_slug)["available"] == 30_000 - 5_000
    verified(db, pot_slug)

    code, output = invoke_cli(db, tmp_path, "rounds", "export", pot_slug, str(round_id))
    assert code == 0, output
    election = parse_pb(output)
    assert election.budget == 100  # whole pounds, as pabulib files keep them
    assert sorted(election.projects) == sorted([str(a), str(b)])
    assert sorted(len(ballot) for ballot in election.ballots) == [1, 2]
    assert "selected" in output

    code, output = invoke_cli(db, tmp_path, "rounds", "list", pot_slug)
    assert code == 0 and f"#{round_id}\tfunded\tapproval\tgreedy" in output
    code, output = invoke_cli(db, tmp_path, "rounds", "export", "no-such-pot", "1")
    assert code == 2
