"""Reconciliation against the fake Open Collective: each kind of difference is found, and each is
resolved (import, adjustment) through the CLI, the API and the treasurer's page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from people import member
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from test_oc_sync import (  # noqa: F401 (fixtures)
    CLEAN_SEED,
    collective,
    linked,
    oc_client,
    oc_refs,
    oc_row,
    summary_of,
)

from helpers import invoke_cli
from integrations.opencollective import OpenCollectiveClient
from integrations.opencollective.reconcile import NothingToResolve, reconcile, resolve
from integrations.opencollective.store import OCResolution
from integrations.opencollective.sync import sync_pot
from ledger import pots as ledger_pots
from ledger.chain import parse_json_object
from ledger.db import Database
from ledger.entries import get_entry
from ledger.errors import InvalidInput
from ledger.people.models import Role
from tests.oc_fake import FakeOpenCollective, FakeServer
from tests.oc_fake.data import JSONDict

pytest_plugins = ["tests.oc_fake.plugin"]


def rows_of(fake: FakeOpenCollective, slug: str) -> list[JSONDict]:
    return fake.transactions[slug]


def oc_sum(fake: FakeOpenCollective, slug: str) -> int:
    return sum(int(r["netAmount"]["valueInCents"]) for r in rows_of(fake, slug))


def set_amount(row: JSONDict, cents: int) -> None:
    for key in ("amount", "netAmount"):
        row[key] = {**row[key], "valueInCents": float(cents), "value": cents / 100}


@pytest.fixture
def synced(
    db: Database,
    linked: str,  # noqa: F811
    collective: str,  # noqa: F811
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,  # noqa: F811
) -> str:
    oc_fake.generate_transactions(collective, 60, seed=CLEAN_SEED)
    sync_pot(db, linked, oc_client, page_size=30)
    return linked


@pytest.fixture
def app_with_oc(app: Flask, oc_server: FakeServer, oc_fake: FakeOpenCollective) -> Flask:
    app.config.update(OPENCOLLECTIVE_API_URL=oc_server.url, OPENCOLLECTIVE_TOKEN=oc_fake.token)
    return app


def treasurer_client(app: Flask, slug: str) -> tuple[FlaskClient, str]:
    """A client signed in as a treasurer of pot ``slug`` (who may resolve its items), and
    the treasurer's actor name."""
    user_id, token = member(app, slug, Role.TREASURER)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client, f"user:{user_id}"


@pytest.fixture
def oc_env(
    monkeypatch: pytest.MonkeyPatch, oc_server: FakeServer, oc_fake: FakeOpenCollective
) -> None:
    monkeypatch.setenv("OPENCOLLECTIVE_API_URL", oc_server.url)
    monkeypatch.setenv("OPENCOLLECTIVE_TOKEN", oc_fake.token)


@pytest.mark.usefixtures("oc_env")
def test_a_synced_pot_matches_line_by_line(
    db: Database,
    synced: str,
    oc_client: OpenCollectiveClient,  # noqa: F811
    tmp_path: Path,
) -> None:
    report = reconcile(db, synced, oc_client)
    assert report.ok and report.items == []
    assert (report.transactions, report.matched) == (60, 60)
    assert report.held == report.oc_balance
    code, out = invoke_cli(db, tmp_path, "oc", "reconcile", synced)
    assert code == 0 and "everything matches" in out, out


@pytest.mark.usefixtures("oc_env")
def test_each_kind_of_difference_is_found_and_resolved(
    db: Database,
    synced: str,
    collective: str,  # noqa: F811
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,  # noqa: F811
    app_with_oc: Flask,
    tmp_path: Path,
) -> None:
    rows = rows_of(oc_fake, collective)
    deleted = next(r for r in rows if r["kind"] == "ADDED_FUNDS")
    rows.remove(deleted)  # Open Collective no longer lists it: missing there
    changed = next(r for r in rows if r["kind"] == "EXPENSE")
    was = int(changed["amount"]["valueInCents"])
    set_amount(changed, was - 100)  # 1.00 more paid out than we recorded: amount mismatch
    added = oc_row(oc_fake, collective, kind="ADDED_FUNDS", cents=2_500)
    oc_fake.add_transactions(collective, [added])  # not synced yet: missing here
    oc_fake.set_balance(collective, oc_sum(oc_fake, collective) + 77)  # 0.77 nobody explains

    report = reconcile(db, synced, oc_client)
    found = {item.key: (item.problem, item.delta) for item in report.items}
    assert found == {
        f"oc:{deleted['id']}": ("missing_there", -int(deleted["amount"]["valueInCents"])),
        f"oc:{changed['id']}": ("amount_mismatch", -100),
        f"oc:{added['id']}": ("missing_here", 2_500),
        "balance": ("balance", 77),
    }
    assert not report.ok and report.matched == 58
    assert report.difference == sum(delta or 0 for _, delta in found.values())
    code, out = invoke_cli(db, tmp_path, "oc", "reconcile", synced)
    assert code == 1 and "4 item(s) to resolve" in out and "missing_here" in out

    # Import the missing transaction (CLI): it is looked up through the API and appended.
    code, out = invoke_cli(db, tmp_path, "oc", "resolve", synced, f"oc:{added['id']}", "--import")
    assert code == 0 and "imported as entry" in out, out
    assert f"oc:{added['id']}" in oc_refs(db, synced)

    # Adjust the changed amount (API), with a written reason.
    client, treasurer = treasurer_client(app_with_oc, synced)
    answer = client.post(
        f"/api/v1/pots/{synced}/reconciliation/resolutions",
        json={"item": f"oc:{changed['id']}", "action": "adjust", "reason": "Bank charge"},
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["amount"] == -100
    adjustment_seq = answer.get_json()["seq"]

    # The deleted transaction (CLI, bare uuid as Open Collective shows it).
    code, out = invoke_cli(
        db,
        tmp_path,
        "oc",
        "resolve",
        synced,
        deleted["id"],
        "--adjust",
        "--reason",
        "Deleted on OC",
    )
    assert code == 0 and "adjusted by -" in out, out

    # What is left of the balance (the command the page shows next to the item).
    code, out = invoke_cli(
        db, tmp_path, "oc", "resolve", synced, "balance", "--adjust", "--reason", "Host rounding"
    )
    assert code == 0 and "adjusted by" in out, out

    final = reconcile(db, synced, oc_client)
    assert final.ok, final.items
    assert final.held == final.oc_balance
    assert invoke_cli(db, tmp_path, "oc", "reconcile", synced)[0] == 0

    # Every resolution is on record, and each adjustment names its item and reason.
    with db.read() as session:
        pot = ledger_pots.get_pot(session, synced)
        done = list(session.scalars(select(OCResolution).where(OCResolution.pot_id == pot.id)))
        entry = get_entry(session, pot, adjustment_seq)
        assert entry.kind == "adjustment" and entry.actor == treasurer
        assert parse_json_object(entry.data_json)["reconciliation"] == {
            "item": f"oc:{changed['id']}",
            "problem": "amount_mismatch",
            "reason": "Bank charge",
            "opencollective": {"id": changed["id"]},
        }
        assert "Bank charge" in entry.memo
    assert sorted((r.problem, r.action) for r in done) == [
        ("amount_mismatch", "adjust"),
        ("balance", "adjust"),
        ("missing_here", "import"),
        ("missing_there", "adjust"),
    ]

    # Resolutions are append-only, like the ledger.
    with pytest.raises(DBAPIError), db.write() as session:
        session.execute(update(OCResolution).values(reason="rewritten"))


def test_refused_resolutions_change_nothing(
    db: Database,
    synced: str,
    collective: str,  # noqa: F811
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,  # noqa: F811
) -> None:
    matched = rows_of(oc_fake, collective)[0]
    with pytest.raises(NothingToResolve):
        resolve(db, synced, f"oc:{matched['id']}", oc_client, action="import", actor="t")
    with pytest.raises(NothingToResolve):
        resolve(db, synced, "balance", oc_client, action="adjust", actor="t", reason="x")
    set_amount(matched, int(matched["amount"]["valueInCents"]) + 5)
    with pytest.raises(InvalidInput, match="only a transaction missing here can be imported"):
        resolve(db, synced, f"oc:{matched['id']}", oc_client, action="import", actor="t")
    with pytest.raises(InvalidInput, match="written reason"):
        resolve(db, synced, f"oc:{matched['id']}", oc_client, action="adjust", actor="t")
    with pytest.raises(InvalidInput, match="not a reconciliation item"):
        resolve(db, synced, "oc:../../etc", oc_client, action="adjust", actor="t", reason="x")
    assert summary_of(db, synced).entry_count == 60


def test_an_adjusted_transaction_is_never_imported_afterwards(
    db: Database,
    synced: str,
    collective: str,  # noqa: F811
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,  # noqa: F811
) -> None:
    late = oc_row(oc_fake, collective, kind="CONTRIBUTION", cents=4_000)
    oc_fake.add_transactions(collective, [late])
    oc_fake.set_balance(collective, oc_sum(oc_fake, collective))
    done = resolve(
        db, synced, f"oc:{late['id']}", oc_client, action="adjust", actor="t", reason="By hand"
    )
    assert (done.problem, done.amount) == ("missing_here", 4_000)
    result = sync_pot(db, synced, oc_client)
    assert (result.appended, result.skipped) == (0, 1)
    assert reconcile(db, synced, oc_client).ok


def test_a_transaction_in_another_currency_needs_an_amount_to_settle(
    db: Database,
    synced: str,
    collective: str,  # noqa: F811
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,  # noqa: F811
) -> None:
    euros = oc_row(oc_fake, collective, kind="CONTRIBUTION", cents=600, currency="EUR")
    oc_fake.add_transactions(collective, [euros])
    oc_fake.set_balance(collective, oc_sum(oc_fake, collective) - 600 + 510)  # OC converted it
    report = reconcile(db, synced, oc_client)
    assert [(i.problem, i.delta, i.currency) for i in report.items] == [
        ("currency_mismatch", None, "EUR"),
        ("balance", 510, "GBP"),
    ]
    key = f"oc:{euros['id']}"
    with pytest.raises(InvalidInput, match="give the adjustment's amount"):
        resolve(db, synced, key, oc_client, action="adjust", actor="t", reason="EUR gift")
    resolve(db, synced, key, oc_client, action="adjust", actor="t", reason="EUR gift", amount=510)
    assert reconcile(db, synced, oc_client).ok
    assert sync_pot(db, synced, oc_client).skipped == 1  # the sync no longer stops on it


def test_reconciliation_api_and_page(
    db: Database,
    synced: str,
    collective: str,  # noqa: F811
    oc_fake: FakeOpenCollective,
    app_with_oc: Flask,
    pot_slug: str,
) -> None:
    client, _ = treasurer_client(app_with_oc, synced)
    answer = client.get(f"/api/v1/pots/{synced}/reconciliation")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["ok"] is True and body["matched"] == 60 and body["items"] == []
    assert body["held"] == body["oc_balance"] and body["difference"]["amount"] == 0

    added = oc_row(oc_fake, collective, kind="ADDED_FUNDS", cents=1_234)
    oc_fake.add_transactions(collective, [added])
    oc_fake.set_balance(collective, oc_sum(oc_fake, collective))
    body = client.get(f"/api/v1/pots/{synced}/reconciliation").get_json()
    assert [(i["key"], i["problem"], i["delta"], i["actions"]) for i in body["items"]] == [
        (f"oc:{added['id']}", "missing_here", 1234, ["import", "adjust"])
    ]
    page = client.get(f"/pots/{synced}/opencollective")
    assert page.status_code == 200
    assert "Items to resolve" in page.text and f"oc:{added['id']}" in page.text
    assert "12.34" in page.text and "Import it" in page.text

    state = client.get(f"/api/v1/pots/{synced}/opencollective").get_json()
    assert state["collective"] == collective and state["next_offset"] == 60

    refused = client.post(
        f"/api/v1/pots/{synced}/reconciliation/resolutions",
        json={"item": "balance", "action": "adjust"},
    )
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"

    unlinked = client.get(f"/api/v1/pots/{pot_slug}-x/reconciliation")
    assert unlinked.status_code == 404
    oc_fake.deny_scope("transactions")
    down = client.get(f"/api/v1/pots/{synced}/reconciliation")
    assert down.status_code == 502
    assert "refused our token" in json.loads(down.data)["detail"]
