"""Pull sync from the fake Open Collective (a real HTTP server checking every query against the
real schema) into real databases: exact balances, idempotence, concurrency, resuming, and the
accounting of each kind of transaction. Helpers here are shared with the other test_oc_* files.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from integrations.opencollective import OpenCollectiveClient, accounting, sync
from integrations.opencollective.models import parse_transaction
from integrations.opencollective.store import OCExpenseLink, OCLink, link_pot, now_text
from integrations.opencollective.sync import SyncFailed, SyncResult, sync_pot
from ledger import operations
from ledger import pots as ledger_pots
from ledger.db import Database, refresh_statistics
from ledger.errors import InsufficientFunds
from ledger.journal import KINDS
from ledger.models import Entry
from ledger.verify import verify_pot
from tests.oc_fake import FakeOpenCollective, FakeServer
from tests.oc_fake.data import JSONDict, account, amount, iso

pytest_plugins = ["tests.oc_fake.plugin"]

INCOME_KINDS = ("CONTRIBUTION", "ADDED_FUNDS")
FEE_KINDS = ("HOST_FEE", "PAYMENT_PROCESSOR_FEE")
CLEAN_SEED = 3  # the generator's seed 3 never overdraws (seed 0 opens with an expense)


# --- shared helpers ---------------------------------------------------------------------------


def make_client(
    server: FakeServer, fake: FakeOpenCollective, **kwargs: Any
) -> OpenCollectiveClient:
    """A client that never really sleeps between retries (2 retries: a third failure is final)."""
    options: dict[str, Any] = {"timeout": (2.0, 2.0), "max_retries": 2, "sleep": lambda s: None}
    options.update(kwargs)
    return OpenCollectiveClient(server.url, fake.token, **options)


def oc_row(
    fake: FakeOpenCollective,
    collective: str,
    *,
    kind: str,
    cents: int,
    net: int | None = None,
    when: datetime | None = None,
    currency: str | None = None,
    group: str | None = None,
    description: str = "Row added by a test",
) -> JSONDict:
    """One transaction row as Open Collective's API returns it (signed: DEBITs negative)."""
    acc = fake.accounts[collective]
    currency = currency or acc["currency"]
    credit = cents >= 0
    other = account("someone-else", currency=currency)
    return {
        "__typename": "Credit" if credit else "Debit",
        "id": str(uuid.uuid4()),
        "legacyId": fake.new_legacy_id(),
        "group": group or str(uuid.uuid4()),
        "type": "CREDIT" if credit else "DEBIT",
        "kind": kind,
        "createdAt": iso(when or datetime(2030, 1, 1, tzinfo=UTC)),
        "description": description,
        "amount": amount(cents, currency),
        "netAmount": amount(cents if net is None else net, currency),
        "paymentProcessorFee": amount(0, currency),
        "hostFee": amount(0, currency),
        "isRefund": False,
        "isRefunded": False,
        "refundTransaction": None,
        "expense": None,
        "account": acc,
        "oppositeAccount": other,
        "fromAccount": other if credit else acc,
        "toAccount": acc if credit else other,
    }


def summary_of(db: Database, slug: str) -> ledger_pots.PotSummary:
    with db.read() as session:
        return ledger_pots.summarise(session, ledger_pots.get_pot(session, slug))


def link_of(db: Database, slug: str) -> OCLink:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        return session.scalars(select(OCLink).where(OCLink.pot_id == pot.id)).one()


def oc_refs(db: Database, slug: str) -> list[str]:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        query = select(Entry.external_ref).where(Entry.pot_id == pot.id)
        return [r for r in session.scalars(query) if r and r.startswith("oc:")]


def total(rows: list[JSONDict], kinds: tuple[str, ...]) -> int:
    return sum(int(r["amount"]["valueInCents"]) for r in rows if r["kind"] in kinds)


@pytest.fixture
def oc_client(oc_fake: FakeOpenCollective, oc_server: FakeServer) -> Iterator[OpenCollectiveClient]:
    with make_client(oc_server, oc_fake) as client:
        yield client


@pytest.fixture
def collective(oc_fake: FakeOpenCollective, pot_slug: str) -> str:
    slug = f"oc-{pot_slug}"
    oc_fake.add_collective(slug, name="Civic Practice", currency="GBP")
    return slug


@pytest.fixture
def linked(db: Database, pot_slug: str, collective: str, oc_client: OpenCollectiveClient) -> str:
    """The pot, linked to its (empty) collective on the fake."""
    link_pot(db, pot_slug, collective, oc_client, actor="test")
    return pot_slug


# --- accounting (pure) ------------------------------------------------------------------------


def _tx(fake: FakeOpenCollective, kind: str, cents: int, net: int | None = None, **kw: Any) -> Any:
    if "oc-unit" not in fake.accounts:
        fake.add_collective("oc-unit")
    return parse_transaction(oc_row(fake, "oc-unit", kind=kind, cents=cents, net=net, **kw))


@pytest.mark.parametrize(
    ("kind", "cents", "net", "entry_kind", "postings"),
    [
        ("CONTRIBUTION", 1000, None, "contribution", [("income", -1000), ("available", 1000)]),
        ("ADDED_FUNDS", 500, None, "contribution", [("income", -500), ("available", 500)]),
        ("CONTRIBUTION", -1000, None, "refund", [("available", -1000), ("income", 1000)]),
        ("EXPENSE", -700, None, "payout", [("available", -700), ("paid_out", 700)]),
        ("EXPENSE", 700, None, "payout_refund", [("paid_out", -700), ("available", 700)]),
        ("HOST_FEE", -50, None, "fee", [("available", -50), ("fees", 50)]),
        ("PAYMENT_PROCESSOR_FEE", 30, None, "fee_refund", [("fees", -30), ("available", 30)]),
        ("PLATFORM_TIP", -25, None, "adjustment", [("available", -25), ("adjustments", 25)]),
        # A fee folded into the row: the difference between amount and net goes to fees.
        (
            "CONTRIBUTION",
            1000,
            930,
            "contribution",
            [("income", -1000), ("available", 930), ("fees", 70)],
        ),
        # Counter account `fees`: one merged posting, not two.
        ("HOST_FEE", -50, -60, "fee", [("available", -60), ("fees", 60)]),
    ],
)
def test_each_kind_of_transaction_maps_to_its_entry(
    oc_fake: FakeOpenCollective,
    kind: str,
    cents: int,
    net: int | None,
    entry_kind: str,
    postings: list[tuple[str, int]],
) -> None:
    tx = _tx(oc_fake, kind, cents, net)
    request = accounting.map_transaction(tx, "GBP")
    assert request is not None and request.kind in KINDS
    assert request.kind == entry_kind
    assert [(p.account, p.amount) for p in request.postings] == postings
    assert request.external_ref == f"oc:{tx.id}"
    assert request.actor == "opencollective-sync"
    assert request.data == {
        "opencollective": {
            "id": tx.id,
            "legacyId": tx.legacy_id,
            "group": tx.group,
            "kind": kind,
            "type": tx.type,
            "createdAt": "2030-01-01T00:00:00.000000Z",
        }
    }


def test_zero_transactions_record_nothing_and_foreign_currencies_are_refused(
    oc_fake: FakeOpenCollective,
) -> None:
    assert accounting.map_transaction(_tx(oc_fake, "CONTRIBUTION", 0), "GBP") is None
    with pytest.raises(accounting.CurrencyMismatch, match="in EUR but the pot holds GBP"):
        accounting.map_transaction(_tx(oc_fake, "CONTRIBUTION", 100, currency="EUR"), "GBP")


def test_memos_are_cleaned_not_refused(oc_fake: FakeOpenCollective) -> None:
    tx = _tx(oc_fake, "CONTRIBUTION", 100, description="Thanks\x00 for\x07 all" + "!" * 3000)
    memo = accounting.memo_for(tx)
    assert memo.startswith("Thanks  for  all!") and len(memo) == 2000
    blank = _tx(oc_fake, "EXPENSE", -100, description="  ")
    assert accounting.memo_for(blank) == "Open Collective expense (debit)"


# --- sync ---------------------------------------------------------------------------------------


def test_sync_over_several_pages_gives_exact_balances(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    rows = oc_fake.generate_transactions(collective, 240, seed=CLEAN_SEED)
    pages: list[int] = []
    result = sync_pot(
        db, linked, oc_client, page_size=50, on_page=lambda r: pages.append(r.next_offset)
    )

    assert (result.appended, result.skipped, result.next_offset) == (240, 0, 240)
    assert len(pages) >= 5  # several pages, each its own transaction
    summary = summary_of(db, linked)
    assert summary.held == oc_fake.accounts[collective]["_balance"]
    assert summary.received == total(rows, INCOME_KINDS)
    assert summary.fees == -total(rows, FEE_KINDS)
    assert summary.paid_out == -total(rows, ("EXPENSE",))
    assert summary.entry_count == 240
    assert sorted(oc_refs(db, linked)) == sorted(f"oc:{r['id']}" for r in rows)
    with db.read() as session:
        assert verify_pot(session, ledger_pots.get_pot(session, linked)).ok
    link = link_of(db, linked)
    assert link.next_offset == 240 and link.last_error is None and link.last_synced_at

    # Again: one request finds nothing new and nothing is added.
    before = len(oc_fake.requests)
    again = sync_pot(db, linked, oc_client, page_size=50)
    assert (again.appended, again.next_offset) == (0, 240)
    assert len(oc_fake.requests) - before == 1
    assert summary_of(db, linked) == summary


def test_a_long_sync_refreshes_the_planners_statistics(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every ANALYZE_EVERY entries a sync has PostgreSQL re-read its statistics, so that a pot
    filling fast is not planned as if empty (a no-op on SQLite)."""
    oc_fake.generate_transactions(collective, 60, seed=CLEAN_SEED)
    refreshed: list[tuple[str, ...]] = []

    def refresh(engine: Engine, tables: tuple[str, ...]) -> None:
        refresh_statistics(engine, tables)  # the real one runs, on both databases
        refreshed.append(tables)

    monkeypatch.setattr(sync, "ANALYZE_EVERY", 25)
    monkeypatch.setattr(sync, "refresh_statistics", refresh)
    result = sync_pot(db, linked, oc_client, page_size=10)
    assert result.appended == 60
    assert len(refreshed) == 2 and "ledger_entries" in refreshed[0]  # after 30 and after 60


def test_a_later_sync_takes_only_the_new_transactions(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    oc_fake.generate_transactions(collective, 60, seed=CLEAN_SEED)
    sync_pot(db, linked, oc_client, page_size=25)
    new = oc_row(oc_fake, collective, kind="ADDED_FUNDS", cents=12_345)
    oc_fake.add_transactions(collective, [new])
    result = sync_pot(db, linked, oc_client, page_size=25)
    assert (result.start_offset, result.appended, result.next_offset) == (60, 1, 61)
    assert summary_of(db, linked).entry_count == 61


def test_a_fee_listed_before_its_contribution_does_not_overdraw(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    """Open Collective orders rows of one moment by id, so a fee can come first, even on the
    page before its contribution. The pot is empty: booked in that order it would overdraw."""
    when = datetime(2030, 3, 1, tzinfo=UTC)
    group = str(uuid.uuid4())
    rows = [
        oc_row(oc_fake, collective, kind="ADDED_FUNDS", cents=100, when=when - timedelta(hours=1)),
        oc_row(
            oc_fake, collective, kind="PAYMENT_PROCESSOR_FEE", cents=-300, when=when, group=group
        ),
        oc_row(oc_fake, collective, kind="HOST_FEE", cents=-500, when=when, group=group),
        oc_row(oc_fake, collective, kind="CONTRIBUTION", cents=10_000, when=when, group=group),
    ]
    # Ids decide the order within the moment: fees first, the contribution last.
    for prefix, row in zip("abc", rows[1:], strict=True):
        row["id"] = prefix + row["id"][1:]
    oc_fake.add_transactions(collective, rows)

    result = sync_pot(db, linked, oc_client, page_size=3)  # the first page splits the group
    assert result.appended == 4
    assert summary_of(db, linked).held == 100 + 10_000 - 800


def test_syncs_at_once_add_nothing_twice(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_server: FakeServer,
) -> None:
    """Threads on SQLite; on PostgreSQL, separate processes (as two hosts would be)."""
    rows = oc_fake.generate_transactions(collective, 150, seed=CLEAN_SEED)
    if db.dialect == "postgresql":
        url = db.engine.url.render_as_string(hide_password=False)
        context = multiprocessing.get_context("spawn")
        with context.Pool(3) as pool:
            appended = pool.starmap(
                _sync_in_process, [(url, linked, oc_server.url, oc_fake.token)] * 3
            )
    else:
        appended = _sync_in_threads(db, linked, oc_server, oc_fake, workers=3)
    assert sum(appended) == 150
    summary = summary_of(db, linked)
    assert summary.entry_count == 150
    assert summary.held == oc_fake.accounts[collective]["_balance"]
    assert sorted(oc_refs(db, linked)) == sorted(f"oc:{r['id']}" for r in rows)
    with db.read() as session:
        assert verify_pot(session, ledger_pots.get_pot(session, linked)).ok


def _sync_in_process(url: str, slug: str, api_url: str, token: str) -> int:
    db = Database(url)
    try:
        with OpenCollectiveClient(api_url, token, max_retries=2, sleep=lambda s: None) as client:
            return sync_pot(db, slug, client, page_size=20).appended
    finally:
        db.dispose()


def _sync_in_threads(
    db: Database, slug: str, server: FakeServer, fake: FakeOpenCollective, workers: int
) -> list[int]:
    start = threading.Barrier(workers)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with make_client(server, fake) as client:  # a client is not shared between threads
                start.wait()
                results.append(sync_pot(db, slug, client, page_size=20).appended)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


@pytest.mark.parametrize("fault", ["fail", "drop"])
def test_a_sync_that_fails_half_way_resumes_at_its_cursor(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
    fault: str,
) -> None:
    rows = oc_fake.generate_transactions(collective, 120, seed=CLEAN_SEED)

    def break_after_two_pages(progress: SyncResult) -> None:
        if progress.pages == 2:  # more failures than the client's retries: the sync must stop
            if fault == "fail":
                oc_fake.fail_next(500, times=3)
            else:
                oc_fake.drop_next(times=3)

    with pytest.raises(SyncFailed) as failed:
        sync_pot(db, linked, oc_client, page_size=30, on_page=break_after_two_pages)
    stored = failed.value.result.next_offset
    assert 0 < stored < 120 and failed.value.result.appended == stored
    link = link_of(db, linked)
    assert link.next_offset == stored
    assert link.last_error and f"stopped at offset {stored}" in link.last_error
    assert summary_of(db, linked).entry_count == stored

    resumed = sync_pot(db, linked, oc_client, page_size=30)
    assert resumed.start_offset == stored
    assert resumed.appended == 120 - stored
    summary = summary_of(db, linked)
    assert summary.entry_count == 120
    assert summary.held == oc_fake.accounts[collective]["_balance"]
    assert summary.paid_out == -total(rows, ("EXPENSE",))
    assert link_of(db, linked).last_error is None


def test_a_payout_that_would_overdraw_stops_the_sync_visibly(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    oc_fake.add_transactions(
        collective,
        [
            oc_row(
                oc_fake,
                collective,
                kind="ADDED_FUNDS",
                cents=1_000,
                when=datetime(2030, 1, 1, tzinfo=UTC),
            ),
            oc_row(
                oc_fake,
                collective,
                kind="EXPENSE",
                cents=-5_000,
                when=datetime(2030, 1, 2, tzinfo=UTC),
            ),
        ],
    )
    with pytest.raises(SyncFailed, match="Insufficient funds") as failed:
        sync_pot(db, linked, oc_client, page_size=10)
    assert isinstance(failed.value.__cause__, InsufficientFunds)
    # The page is one transaction: nothing of it was kept, and the reason is on record.
    assert summary_of(db, linked).entry_count == 0
    link = link_of(db, linked)
    assert link.next_offset == 0
    assert link.last_error is not None and "Insufficient funds" in link.last_error

    with db.write() as session:  # a treasurer records the missing money by hand...
        operations.record(session, linked, "contribution", 4_000, memo="Cash", actor="test")
    assert sync_pot(db, linked, oc_client, page_size=10).appended == 2  # ...and it goes on
    assert link_of(db, linked).last_error is None


def test_a_transaction_in_another_currency_stops_the_sync(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    oc_fake.add_transactions(
        collective, [oc_row(oc_fake, collective, kind="CONTRIBUTION", cents=100, currency="EUR")]
    )
    with pytest.raises(SyncFailed, match="in EUR but the pot holds GBP"):
        sync_pot(db, linked, oc_client)
    assert summary_of(db, linked).entry_count == 0


def test_an_expense_we_know_is_paid_from_its_commitment(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    with db.write() as session:
        operations.record(session, linked, "contribution", 10_000, memo="Grant", actor="test")
        operations.record(
            session,
            linked,
            "allocation",
            3_000,
            memo="Proposal 7",
            actor="test",
            commitment="proposal:7",
        )
        pot = ledger_pots.get_pot(session, linked)
        session.add(
            OCExpenseLink(
                pot_id=pot.id,
                expense_id="ex_seven",
                commitment="proposal:7",
                status="PAID",
                created_at=now_text(),
            )
        )
    paid = oc_row(oc_fake, collective, kind="EXPENSE", cents=-3_000)
    paid["expense"] = {"id": "ex_seven", "legacyId": 777}
    oc_fake.add_transactions(collective, [paid])

    assert sync_pot(db, linked, oc_client).appended == 1
    summary = summary_of(db, linked)
    assert summary.balances["committed:proposal:7"] == 0
    assert (summary.available, summary.paid_out) == (7_000, 3_000)


# --- the command line -------------------------------------------------------------------------


def test_sync_every_stops_cleanly_on_sigterm(
    databases: Any, oc_server: FakeServer, oc_fake: FakeOpenCollective, tmp_path: Path
) -> None:
    db: Database = databases.migrated("sqlite")
    try:
        with db.write() as session:
            ledger_pots.create_pot(session, "worker-pot", name="Worker", currency="GBP")
        oc_fake.add_collective("worker-collective", currency="GBP")
        oc_fake.generate_transactions("worker-collective", 30, seed=CLEAN_SEED)
        with make_client(oc_server, oc_fake) as client:
            link_pot(db, "worker-pot", "worker-collective", client, actor="test")
        env = {
            **os.environ,
            "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
            "COMMONPOT_INSTANCE_PATH": str(tmp_path / "instance"),
            "OPENCOLLECTIVE_API_URL": oc_server.url,
            "OPENCOLLECTIVE_TOKEN": oc_fake.token,
        }
        script = Path(sys.executable).parent / "commonpot"
        with subprocess.Popen(
            [str(script), "oc", "sync", "--all", "--every", "300"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as worker:
            assert worker.stdout is not None
            lines = [worker.stdout.readline(), worker.stdout.readline()]
            assert "syncing every 300s" in lines[0], lines
            assert "worker-pot: 30 new entries" in lines[1], lines
            worker.send_signal(signal.SIGTERM)  # while it waits for the next round
            rest, _ = worker.communicate(timeout=20)
        assert worker.returncode == 0, rest
        assert "stopped" in rest
        assert summary_of(db, "worker-pot").entry_count == 30
    finally:
        db.dispose()


def test_known_refs_are_never_appended_twice_even_when_the_listing_shifts(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    """A row inserted in the past moves every later row one place on: the cursor then points at
    a row already stored, which is skipped by its reference."""
    oc_fake.generate_transactions(collective, 40, seed=CLEAN_SEED)
    sync_pot(db, linked, oc_client, page_size=15)
    backdated = oc_row(
        oc_fake, collective, kind="ADDED_FUNDS", cents=999, when=datetime(2000, 1, 1, tzinfo=UTC)
    )
    late = oc_row(oc_fake, collective, kind="ADDED_FUNDS", cents=1_001)
    oc_fake.add_transactions(collective, [backdated, late])
    result = sync_pot(db, linked, oc_client, page_size=15)
    assert (result.appended, result.skipped) == (1, 1)
    assert f"oc:{late['id']}" in oc_refs(db, linked)
    assert f"oc:{backdated['id']}" not in oc_refs(db, linked)  # reconciliation reports it
