"""Several processes finishing the same round at once (cron on several hosts): the round is
counted once and funded once, and the ledger verifies."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
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
from ledger.db import Database
from ledger.governance.models import Proposal
from ledger.models import Entry
from ledger.pots import get_pot
from ledger.rounds import services, settlement
from ledger.rounds.models import RoundResult

PROCESSES = 6


def _advance(url: str, slug: str, barrier: Any, answers: Any) -> None:
    db = Database(url)
    try:
        barrier.wait(timeout=60)
        with db.write() as session:
            changed = settlement.advance(session, slug, now=datetime.now(UTC))
            answers.put(("ok", [r.id for r in changed]))
    except Exception as exc:  # anything at all is what this test exists to find
        answers.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        db.dispose()


def test_several_processes_fund_a_round_exactly_once(db: Database, pot_slug: str) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite serialises whole-database writes; PostgreSQL is the real race")
    start = datetime.now(UTC) - 40 * DAY  # the round finished twelve days ago
    steward = person(db, pot_slug, "steward", joined_at=start - DAY)
    voters = [person(db, pot_slug, "member", joined_at=start - DAY) for _ in range(3)]
    fund(db, pot_slug, 50_000)
    round_id = new_round(db, pot_slug, steward, budget=10_000, start=start, rule="mes_add1")
    projects = [
        propose(db, round_id, v, f"Project {i}", 3_000 + 1_000 * i, now=start + PROPOSALS)
        for i, v in enumerate(voters)
    ]
    for p in projects:
        review(db, round_id, steward, p, now=start + REVIEW)
    for v, ballot in zip(voters, ([projects[0]], projects[:2], projects[1:]), strict=True):
        vote(db, round_id, v, ballot, now=start + VOTING)

    url = db.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    barrier, answers = context.Barrier(PROCESSES), context.Queue()
    workers = [
        context.Process(target=_advance, args=(url, pot_slug, barrier, answers))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    results = [answers.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [r for r in results if r[0] == "error"] == []
    assert sorted(len(r[1]) for r in results) == [0] * (PROCESSES - 1) + [1]

    with db.read() as session:
        round_ = services.get_round(session, round_id)
        assert round_.funded
        pot = get_pot(session, pot_slug)
        assert (
            session.scalar(
                select(func.count())
                .select_from(RoundResult)
                .where(RoundResult.round_id == round_id)
            )
            == 1
        )
        winners = session.scalars(
            select(Proposal).where(Proposal.category == f"round:{round_id}")
        ).all()
        result = settlement.stored_result(session, round_)
        assert result is not None
        assert len(winners) == len(settlement.awards_of(result)) > 0
        releases = session.scalar(
            select(func.count())
            .select_from(Entry)
            .where(Entry.pot_id == pot.id, Entry.idempotency_key == f"round:{round_id}:release")
        )
        assert releases == 1
    money = balances(db, pot_slug)
    assert money[f"committed:round:{round_id}"] == 0
    assert money["available"] == 50_000 - result.spent
    verified(db, pot_slug)
