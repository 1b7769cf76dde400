"""Pushing funded proposals to the fake Open Collective as expenses, and following them: one
expense per proposal however often (or however many hosts) push, recovery after a crash or a
lost answer, failures kept where treasurers look and retried, and the money following the
expense's fate (paid through the sync, or released when Open Collective will not pay)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from test_oc_sync import link_of, make_client, oc_row, summary_of

from community import person
from helpers import invoke_cli
from integrations.opencollective import OpenCollectiveClient
from integrations.opencollective.push import (
    LEASE,
    follow_expenses,
    push_funded,
    set_expense_type,
)
from integrations.opencollective.store import OCExpenseLink, OCLink, link_pot, now_text
from integrations.opencollective.sync import sync_pot
from ledger import audit
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.errors import InvalidInput
from ledger.governance import proposals, rulebook
from ledger.governance.proposals import Draft
from ledger.journal import lock_pot
from ledger.models import Entry
from ledger.verify import verify_pot
from tests.oc_fake import FakeOpenCollective, FakeServer

pytest_plugins = ["tests.oc_fake.plugin"]

KEY = b"p" * 32
PAYEE = "northside-hall"
CREATE = "CommonpotCreateExpense"
FIND = "CommonpotExpensesByCustomData"


# --- arranging --------------------------------------------------------------------------------


@pytest.fixture
def oc_client(oc_fake: FakeOpenCollective, oc_server: FakeServer) -> Iterator[OpenCollectiveClient]:
    with make_client(oc_server, oc_fake) as client:
        yield client


@pytest.fixture(name="collective")
def collective_fixture(oc_fake: FakeOpenCollective, pot_slug: str) -> str:
    return collective(oc_fake, pot_slug)


def collective(oc_fake: FakeOpenCollective, pot_slug: str) -> str:
    """The pot's collective holding £1,000, and the payee's account on the same host."""
    slug = f"oc-{pot_slug}"
    oc_fake.add_collective(slug, name="Civic Practice", currency="GBP")
    oc_fake.add_collective(PAYEE, name="Northside Community Hall", currency="GBP")
    money = oc_row(
        oc_fake, slug, kind="ADDED_FUNDS", cents=100_000, when=datetime(2024, 1, 1, tzinfo=UTC)
    )
    oc_fake.add_transactions(slug, [money])
    oc_fake.set_balance(slug, 100_000)
    return slug


@pytest.fixture(name="linked")
def linked_fixture(
    db: Database, pot_slug: str, collective: str, oc_client: OpenCollectiveClient
) -> str:
    return linked(db, pot_slug, collective, oc_client)


def linked(db: Database, pot_slug: str, collective: str, oc_client: OpenCollectiveClient) -> str:
    """The pot linked to its collective, its money synced in, a steward's rule deciding."""
    link_pot(db, pot_slug, collective, oc_client, actor="test")
    sync_pot(db, pot_slug, oc_client)
    with db.write() as session:
        rulebook.change_rules(
            session,
            lock_pot(session, pot_slug),
            {
                "rule": {"kind": "stewards", "approvals_needed": 1},
                "voting_window_hours": 72,
                "max_open_proposals_per_member": 10,
            },
            user_id=None,
            actor="test",
        )
    return pot_slug


def funded(
    db: Database,
    slug: str,
    *,
    amount: int = 30_000,
    payee: str | None = PAYEE,
    title: str = "Venue hire for the spring gathering",
) -> int:
    """A proposal submitted, approved by a steward and funded: its id."""
    proposer, steward = person(db, slug, "member"), person(db, slug, "steward")
    now = datetime.now(UTC)
    draft = Draft(title, "Two days at the hall.", amount, "Northside Hall", payee_oc_slug=payee)
    with db.write() as session:
        pid = proposals.submit(session, slug, draft, user_id=proposer.id, open_now=True, now=now).id
    with db.write() as session:
        proposal = proposals.vote(
            session,
            pid,
            user_id=steward.id,
            choice="approve",
            reason=None,
            ballot_key=KEY,
            now=now,
        )
        assert proposal.status == "funded"
    return pid


def status_of(db: Database, pid: int) -> str:
    with db.read() as session:
        return str(proposals.get(session, pid).status)


def expense_links(db: Database, slug: str) -> list[OCExpenseLink]:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        query = select(OCExpenseLink).where(OCExpenseLink.pot_id == pot.id)
        return list(session.scalars(query.order_by(OCExpenseLink.id)))


def event_kinds(db: Database, slug: str, pid: int) -> list[str]:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        return [e.kind for e in audit.list_events(session, pot, proposal_id=pid, limit=1000)]


def events(db: Database, slug: str, kind: str) -> list[dict[str, Any]]:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        return [
            audit.event_data(e)
            for e in audit.list_events(session, pot, limit=1000)
            if e.kind == kind
        ]


def assert_verifies(db: Database, slug: str) -> None:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        report = verify_pot(session, pot)
        assert report.ok, report.problems
        assert audit.verify_events(session, pot)[1] is None


def custom_data_of(db: Database, slug: str, pid: int) -> dict[str, Any]:
    with db.read() as session:
        proposal = proposals.get(session, pid)
        pot = ledger_pots.get_pot(session, slug)
        entry_hash = session.scalar(
            select(Entry.hash).where(
                Entry.pot_id == pot.id, Entry.seq == proposal.funding_entry_seq
            )
        )
    return {"commonpot": {"pot": slug, "proposal": pid, "funding_entry_hash": entry_hash}}


# --- creating the expense -------------------------------------------------------------------


def test_a_funded_proposal_becomes_one_expense_however_often_it_is_pushed(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    pid = funded(db, linked)
    funded(db, linked, amount=1_000, payee=None)  # paid by hand: not pushed

    result = push_funded(db, linked, oc_client)

    assert result.ok and not result.recovered
    [expense] = oc_fake.expenses_of(collective)
    assert result.created == [(pid, expense["id"])]
    assert expense["type"] == "GRANT"
    assert expense["status"] == "PENDING"
    assert expense["description"] == "Venue hire for the spring gathering"
    assert (expense["amount"], expense["currency"]) == (30_000, "GBP")
    assert expense["items"] == [
        {
            "description": "Venue hire for the spring gathering",
            "amountV2": {"valueInCents": 30_000, "currency": "GBP"},
        }
    ]
    assert expense["payee"]["slug"] == PAYEE
    assert expense["payoutMethodInput"] == {"type": "ACCOUNT_BALANCE"}
    assert expense["reference"] == f"commonpot:{linked}:proposal:{pid}"
    assert expense["customData"] == custom_data_of(db, linked, pid)

    [link] = expense_links(db, linked)
    assert (link.expense_id, link.expense_legacy_id) == (expense["id"], expense["legacyId"])
    assert (link.proposal_id, link.commitment, link.status) == (pid, f"proposal:{pid}", "PENDING")
    assert link_of(db, linked).push_error is None
    [created] = events(db, linked, "expense_created")
    assert created["expense"] == expense["id"]
    assert (created["amount"], created["type"], created["found_existing"]) == (
        30_000,
        "GRANT",
        False,
    )

    again = push_funded(db, linked, oc_client)
    assert again.ok and not again.created and not again.recovered
    assert len(oc_fake.expenses_of(collective)) == 1
    assert oc_fake.operations().count(CREATE) == 1
    assert status_of(db, pid) == "funded"
    assert_verifies(db, linked)


def test_the_expense_type_is_a_setting_of_the_pot(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    assert link_of(db, linked).expense_type == "GRANT"
    assert set_expense_type(db, linked, "invoice") == "INVOICE"
    with pytest.raises(InvalidInput, match="GRANT or INVOICE"):
        set_expense_type(db, linked, "RECEIPT")
    funded(db, linked)
    push_funded(db, linked, oc_client)
    assert [e["type"] for e in oc_fake.expenses_of(collective)] == ["INVOICE"]
    # Re-linking keeps the setting unless it is given again.
    link_pot(db, linked, collective, oc_client, actor="test")
    assert link_of(db, linked).expense_type == "INVOICE"
    link_pot(db, linked, collective, oc_client, actor="test", expense_type="GRANT")
    assert link_of(db, linked).expense_type == "GRANT"


def test_an_expense_created_before_a_crash_is_adopted_not_duplicated(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    """A run that died after Open Collective created the expense but before the link was
    stored left an expense carrying our customData: the next run finds it."""
    pid = funded(db, linked)
    earlier = oc_fake.add_expense(
        collective,
        amount_minor=30_000,
        type="GRANT",
        status="APPROVED",
        customData=custom_data_of(db, linked, pid),
        reference=f"commonpot:{linked}:proposal:{pid}",
    )
    result = push_funded(db, linked, oc_client)
    assert result.ok
    assert result.recovered == [(pid, earlier["id"])] and not result.created
    assert CREATE not in oc_fake.operations()
    [link] = expense_links(db, linked)
    assert (link.expense_id, link.status, link.last_error) == (earlier["id"], "APPROVED", None)
    assert events(db, linked, "expense_created")[0]["found_existing"] is True
    assert len(oc_fake.expenses_of(collective)) == 1


def test_an_adopted_expense_for_another_amount_is_flagged(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    pid = funded(db, linked)
    oc_fake.add_expense(collective, amount_minor=25_000, customData=custom_data_of(db, linked, pid))
    push_funded(db, linked, oc_client)
    [link] = expense_links(db, linked)
    assert link.last_error is not None
    assert "250.00 GBP" in link.last_error and "300.00 GBP" in link.last_error


def test_a_lost_answer_is_looked_up_not_resent(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_server: FakeServer,
) -> None:
    """Open Collective creates the expense but the answer never comes (read timeout): the
    client does not resend a mutation; the push finds the expense by its customData."""
    pid = funded(db, linked)
    oc_fake.delay_next(2.0, operation=CREATE)
    with make_client(oc_server, oc_fake, timeout=(2.0, 0.5)) as client:
        result = push_funded(db, linked, client)
    assert result.ok, result.errors
    [expense] = oc_fake.expenses_of(collective)
    assert result.recovered == [(pid, expense["id"])]
    assert oc_fake.operations().count(CREATE) == 1
    assert [link.expense_id for link in expense_links(db, linked)] == [expense["id"]]


def test_a_missing_expenses_scope_is_kept_and_the_push_retried(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    first, second = funded(db, linked), funded(db, linked, amount=5_000)
    oc_fake.deny_scope("expenses")

    result = push_funded(db, linked, oc_client)

    assert not result.ok and not result.created
    assert len(result.errors) == 1  # the first refusal stops the pot: the rest would fail alike
    assert f"proposal #{first}" in result.errors[0]
    assert "'expenses' scope" in result.errors[0]
    stored = link_of(db, linked)
    assert stored.push_error is not None and "'expenses' scope" in stored.push_error
    assert stored.push_error_at is not None and stored.push_lease_owner is None
    assert oc_fake.expenses_of(collective) == [] and expense_links(db, linked) == []
    assert "test-token" not in stored.push_error

    oc_fake.scopes.add("expenses")  # the treasurer fixes the token
    retried = push_funded(db, linked, oc_client)
    assert retried.ok
    assert sorted(p for p, _ in retried.created) == [first, second]
    assert link_of(db, linked).push_error is None
    assert len(oc_fake.expenses_of(collective)) == 2


def test_server_errors_and_rate_limits_are_kept_and_retried(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    pid = funded(db, linked)

    # 429s on the look-up outlast the client's retries: nothing is created, the reason is kept.
    oc_fake.fail_next(429, retry_after=1, times=3, operation=FIND)
    limited = push_funded(db, linked, oc_client)
    assert not limited.ok and oc_fake.expenses_of(collective) == []
    assert "429" in (link_of(db, linked).push_error or "")

    # A 500 on the create itself: maybe applied, so never resent; the look-up after it finds
    # nothing (the fake failed before creating), so the push stops and says so.
    oc_fake.fail_next(500, operation=CREATE)
    failed = push_funded(db, linked, oc_client)
    assert not failed.ok and oc_fake.expenses_of(collective) == []
    assert oc_fake.operations().count(CREATE) == 1
    assert f"proposal #{pid}" in (link_of(db, linked).push_error or "")

    # One 429 within a run is waited out (Retry-After) and the run goes on.
    oc_fake.fail_next(429, retry_after=1, operation=CREATE)
    ok = push_funded(db, linked, oc_client)
    assert ok.ok and [p for p, _ in ok.created] == [pid]
    assert link_of(db, linked).push_error is None
    assert len(oc_fake.expenses_of(collective)) == 1


def test_a_payee_open_collective_does_not_know_does_not_block_the_others(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    unknown = funded(db, linked, payee="nobody-here")
    known = funded(db, linked, amount=2_000)
    result = push_funded(db, linked, oc_client)
    assert [p for p, _ in result.created] == [known]
    assert len(result.errors) == 1 and f"proposal #{unknown}" in result.errors[0]
    assert f"proposal #{unknown}" in (link_of(db, linked).push_error or "")


def test_two_pushes_at_once_create_one_expense(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_server: FakeServer,
) -> None:
    pid = funded(db, linked)
    oc_fake.delay_next(0.5, operation=CREATE)  # keep the first push inside its create a while
    results: list[Any] = []
    start = threading.Barrier(2)

    def run(owner: str) -> None:
        with make_client(oc_server, oc_fake, timeout=(2.0, 5.0)) as client:
            start.wait()
            results.append(push_funded(db, linked, client, owner=owner))

    threads = [threading.Thread(target=run, args=(f"host-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2 and all(r.ok for r in results)
    assert sum(len(r.created) + len(r.recovered) for r in results) == 1
    assert len(oc_fake.expenses_of(collective)) == 1
    assert [link.proposal_id for link in expense_links(db, linked)] == [pid]
    assert link_of(db, linked).push_lease_owner is None


def test_a_lease_held_elsewhere_is_respected_until_it_expires(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    funded(db, linked)
    now = datetime.now(UTC)

    def lease(until: datetime) -> None:
        with db.write() as session:
            pot = lock_pot(session, linked)
            link = session.scalars(select(OCLink).where(OCLink.pot_id == pot.id)).one()
            link.push_lease_owner, link.push_lease_until = "other-host:1", now_text(until)

    lease(now + LEASE)
    busy = push_funded(db, linked, oc_client)
    assert busy.busy and busy.ok and oc_fake.expenses_of(collective) == []
    assert link_of(db, linked).push_lease_owner == "other-host:1"

    lease(now - timedelta(seconds=1))  # that host died: its lease ran out
    taken = push_funded(db, linked, oc_client)
    assert not taken.busy and len(taken.created) == 1
    assert link_of(db, linked).push_lease_owner is None


# --- following it ---------------------------------------------------------------------------


def test_pending_approved_paid_then_the_sync_marks_the_proposal_paid(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    pid = funded(db, linked)
    push_funded(db, linked, oc_client)
    [expense] = oc_fake.expenses_of(collective)

    unchanged = follow_expenses(db, linked, oc_client)
    assert (unchanged.checked, unchanged.changed) == (1, [])

    oc_fake.set_expense_status(expense["id"], "APPROVED")
    approved = follow_expenses(db, linked, oc_client)
    assert approved.changed == [(expense["id"], "PENDING", "APPROVED")]
    assert expense_links(db, linked)[0].status == "APPROVED"
    assert status_of(db, pid) == "funded"

    oc_fake.pay_expense(expense["id"])
    paid = follow_expenses(db, linked, oc_client)
    assert paid.changed == [(expense["id"], "APPROVED", "PAID")]
    assert status_of(db, pid) == "funded"  # paid on Open Collective; booked by the sync

    assert sync_pot(db, linked, oc_client).appended == 1
    assert status_of(db, pid) == "paid"
    summary = summary_of(db, linked)
    assert summary.balances[f"committed:proposal:{pid}"] == 0
    assert (summary.committed, summary.available, summary.paid_out) == (0, 70_000, 30_000)
    assert follow_expenses(db, linked, oc_client).checked == 0  # PAID is final
    assert event_kinds(db, linked, pid)[-4:] == [
        "expense_created",
        "expense_status_changed",
        "expense_status_changed",
        "proposal_paid",
    ]
    assert_verifies(db, linked)


@pytest.mark.parametrize("ended", ["REJECTED", "CANCELED", "SPAM"])
def test_an_expense_open_collective_will_not_pay_releases_the_commitment(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
    ended: str,
) -> None:
    pid = funded(db, linked)
    push_funded(db, linked, oc_client)
    [expense] = oc_fake.expenses_of(collective)
    assert summary_of(db, linked).available == 70_000

    oc_fake.set_expense_status(expense["id"], ended)
    result = follow_expenses(db, linked, oc_client)

    assert result.released == [pid]
    assert status_of(db, pid) == "closed"
    summary = summary_of(db, linked)
    assert (summary.committed, summary.available) == (0, 100_000)
    [released] = events(db, linked, "proposal_released")
    assert ended in released["why"] and expense["id"] in released["why"]
    [closed] = events(db, linked, "proposal_closed")
    assert (closed["oc_status"], closed["expense"], closed["released"]) == (
        ended,
        expense["id"],
        30_000,
    )
    with db.read() as session:
        pot = ledger_pots.get_pot(session, linked)
        kinds = list(
            session.scalars(select(Entry.kind).where(Entry.pot_id == pot.id).order_by(Entry.seq))
        )
    assert kinds[-1] == "release"

    again = follow_expenses(db, linked, oc_client)
    assert again.checked == 0 and again.released == []
    assert push_funded(db, linked, oc_client).created == []  # closed: never pushed again
    assert_verifies(db, linked)


def test_a_released_commitment_funds_the_next_waiting_proposal(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    first = funded(db, linked, amount=80_000)
    push_funded(db, linked, oc_client)
    proposer, steward = person(db, linked, "member"), person(db, linked, "steward")
    now = datetime.now(UTC)
    draft = Draft("Second", "Waits for money", 50_000, "Hall", payee_oc_slug=PAYEE)
    with db.write() as session:
        second = proposals.submit(
            session, linked, draft, user_id=proposer.id, open_now=True, now=now
        ).id
    with db.write() as session:
        proposals.vote(
            session,
            second,
            user_id=steward.id,
            choice="approve",
            reason=None,
            ballot_key=KEY,
            now=now,
        )
    assert status_of(db, second) == "approved"  # 20,000 left: it waits

    oc_fake.set_expense_status(oc_fake.expenses_of(collective)[0]["id"], "REJECTED")
    follow_expenses(db, linked, oc_client)
    assert (status_of(db, first), status_of(db, second)) == ("closed", "funded")
    assert [p for p, _ in push_funded(db, linked, oc_client).created] == [second]
    assert_verifies(db, linked)


def test_follow_failures_are_kept_on_the_expense_and_retried(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    funded(db, linked)
    push_funded(db, linked, oc_client)
    [expense] = oc_fake.expenses_of(collective)
    oc_fake.set_expense_status(expense["id"], "APPROVED")

    oc_fake.fail_next(503, times=3, operation="CommonpotExpense")
    failed = follow_expenses(db, linked, oc_client)
    assert not failed.ok and failed.changed == []
    [link] = expense_links(db, linked)
    assert link.status == "PENDING" and "503" in (link.last_error or "")

    later = follow_expenses(db, linked, oc_client)
    assert later.ok and later.changed == [(expense["id"], "PENDING", "APPROVED")]
    [link] = expense_links(db, linked)
    assert link.last_error is None and link.last_checked_at is not None


def test_an_expense_whose_proposal_was_withdrawn_here_is_flagged(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    pid = funded(db, linked)
    push_funded(db, linked, oc_client)
    with db.read() as session:
        proposer = proposals.get(session, pid).proposer_id
    with db.write() as session:
        proposals.withdraw(session, pid, user_id=proposer, now=datetime.now(UTC))
    follow_expenses(db, linked, oc_client)
    [link] = expense_links(db, linked)
    assert link.last_error is not None and "cancel it there" in link.last_error


# --- command line and API ---------------------------------------------------------------------


def test_cli_settings_push_and_status(
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_server: FakeServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENCOLLECTIVE_API_URL", oc_server.url)
    monkeypatch.setenv("OPENCOLLECTIVE_TOKEN", oc_fake.token)
    pid = funded(db, linked)

    code, out = invoke_cli(db, tmp_path, "oc", "settings", linked, "--expense-type", "invoice")
    assert code == 0 and f"{linked}: expense type INVOICE" in out
    code, out = invoke_cli(db, tmp_path, "oc", "status", linked)
    assert code == 0, out
    assert "push: INVOICE expenses, last push never, 1 waiting to be pushed" in out
    assert f"waiting: proposal #{pid} 300.00 GBP to {PAYEE}" in out

    code, out = invoke_cli(db, tmp_path, "oc", "push", linked)
    [expense] = oc_fake.expenses_of(collective)
    assert code == 0, out
    assert f"proposal #{pid}: created expense {expense['id']}" in out
    assert expense["type"] == "INVOICE"

    oc_fake.set_expense_status(expense["id"], "APPROVED")
    code, out = invoke_cli(db, tmp_path, "oc", "push", linked)
    assert code == 0 and f"expense {expense['id']}: PENDING -> APPROVED" in out
    code, out = invoke_cli(db, tmp_path, "oc", "status", linked)
    assert "0 waiting to be pushed" in out
    assert f"expense {expense['id']} (proposal #{pid}): APPROVED" in out

    oc_fake.deny_scope("expenses")
    funded(db, linked, amount=1_000)
    code, out = invoke_cli(db, tmp_path, "oc", "push", linked)
    assert code == 1 and "FAILED" in out and "'expenses' scope" in out
    code, out = invoke_cli(db, tmp_path, "oc", "status", linked)
    assert "last push failed" in out and "'expenses' scope" in out

    code, out = invoke_cli(db, tmp_path, "oc", "push")
    assert code == 2
    code, out = invoke_cli(db, tmp_path, "oc", "settings", linked, "--expense-type", "RECEIPT")
    assert code == 2


def test_cli_link_with_an_expense_type(
    db: Database,
    pot_slug: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_server: FakeServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENCOLLECTIVE_API_URL", oc_server.url)
    monkeypatch.setenv("OPENCOLLECTIVE_TOKEN", oc_fake.token)
    code, out = invoke_cli(
        db, tmp_path, "oc", "link", pot_slug, collective, "--expense-type", "INVOICE"
    )
    assert code == 0, out
    assert link_of(db, pot_slug).expense_type == "INVOICE"


def test_the_api_shows_pending_pushes_expenses_and_errors(
    app: Flask,
    db: Database,
    linked: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,
) -> None:
    first = funded(db, linked)
    web = app.test_client()
    state = web.get(f"/api/v1/pots/{linked}/opencollective").get_json()
    assert state["expense_type"] == "GRANT"
    assert state["pending_pushes"] == [
        {"proposal": first, "amount": {"amount": 30_000, "currency": "GBP"}, "payee": PAYEE}
    ]
    assert (state["expenses"], state["push_error"], state["last_pushed_at"]) == ([], None, None)

    push_funded(db, linked, oc_client)
    oc_fake.deny_scope("expenses")
    funded(db, linked, amount=1_000)
    push_funded(db, linked, oc_client)
    state = web.get(f"/api/v1/pots/{linked}/opencollective").get_json()
    [expense] = oc_fake.expenses_of(collective)
    assert [e["expense_id"] for e in state["expenses"]] == [expense["id"]]
    assert state["expenses"][0]["status"] == "PENDING"
    assert len(state["pending_pushes"]) == 1
    assert "'expenses' scope" in state["push_error"]
    assert state["finished_expenses"] == 0

    # The treasurer's page shows the same.
    page = web.get(f"/pots/{linked}/opencollective").get_data(as_text=True)
    assert "Grants pushed as expenses" in page
    assert expense["id"] in page and "PENDING" in page
    assert "the &#39;expenses&#39; scope" in page or "'expenses' scope" in page


def test_the_sync_worker_also_pushes_and_follows(
    databases: Any, oc_server: FakeServer, oc_fake: FakeOpenCollective, tmp_path: Path
) -> None:
    db: Database = databases.migrated("sqlite")
    try:
        with db.write() as session:
            ledger_pots.create_pot(session, "worker-pot", name="Worker", currency="GBP")
        collective(oc_fake, "worker-pot")
        with make_client(oc_server, oc_fake) as client:
            linked(db, "worker-pot", "oc-worker-pot", client)
        pid = funded(db, "worker-pot")
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
            lines = [worker.stdout.readline() for _ in range(3)]
            worker.send_signal(signal.SIGTERM)
            rest, _ = worker.communicate(timeout=20)
        assert worker.returncode == 0, [*lines, rest]
        [expense] = oc_fake.expenses_of("oc-worker-pot")
        assert f"worker-pot: proposal #{pid}: created expense {expense['id']}" in lines[2], lines
    finally:
        db.dispose()
