"""Appends from many processes at once serialise correctly (PostgreSQL row lock, SQLite
BEGIN IMMEDIATE): no gaps, no duplicates, no overdraft, and every refusal says why."""

from __future__ import annotations

import multiprocessing
import random
import uuid

from sqlalchemy import select

from ledger import operations
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.errors import InsufficientFunds
from ledger.models import Entry
from ledger.verify import verify_pot


def _worker(url: str, slug: str, worker: int, appends: int) -> tuple[int, int, int, list[str]]:
    """Half contributions, half payouts that compete for too little money."""
    db = Database(url)
    rng = random.Random(worker)
    ok = refused = unexpected = 0
    problems: list[str] = []
    try:
        for i in range(appends):
            payout = i % 2 == 1
            amount = rng.randint(150, 400) if payout else rng.randint(50, 200)
            try:
                with db.write() as session:
                    operations.record(
                        session,
                        slug,
                        "payout" if payout else "contribution",
                        amount,
                        memo=f"w{worker} #{i}",
                        actor=f"worker-{worker}",
                        idempotency_key=f"{worker}-{i}",
                    )
                ok += 1
            except InsufficientFunds:
                refused += 1
                if not payout:
                    problems.append(f"a contribution was refused: w{worker} #{i}")
            except Exception as exc:  # anything else is a bug this test exists to find
                unexpected += 1
                problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        db.dispose()
    return ok, refused, unexpected, problems


def hammer(db: Database, processes: int, appends: int) -> None:
    slug = f"race-{uuid.uuid4().hex[:8]}"
    with db.write() as session:
        ledger_pots.create_pot(session, slug, name="Race", currency="GBP")
    url = db.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        results = pool.starmap(_worker, [(url, slug, w, appends) for w in range(processes)])
    ok = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    problems = [p for r in results for p in r[3]]
    assert not problems, problems[:5]
    assert ok + refused == processes * appends
    assert refused > 0, "the payouts were meant to compete for too little money"

    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        seqs = list(session.scalars(select(Entry.seq).where(Entry.pot_id == pot.id)))
        report = verify_pot(session, pot)
        summary = ledger_pots.summarise(session, pot)
    assert sorted(seqs) == list(range(1, ok + 1))  # exactly 1..N: no gap, no duplicate
    assert report.ok, report.problems  # replay checks available never went below zero
    assert summary.available >= 0
    assert summary.entry_count == ok


def test_concurrent_appends_from_many_processes(db: Database) -> None:
    if db.dialect != "postgresql":
        # SQLite serialises the whole database, so fewer appends prove the same there.
        hammer(db, processes=4, appends=60)
        return
    hammer(db, processes=8, appends=250)
