"""Linking a pot (CLI and API) and Open Collective webhooks over HTTP: only hints, looked up
through the (fake) API before anything changes. Wrong token 404 and malformed body 400 change
nothing and ask nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from people import bearer, member
from test_oc_sync import CLEAN_SEED, link_of, oc_refs, oc_row, summary_of

from helpers import invoke_cli
from integrations.opencollective.store import hash_token, link_for_slug
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.errors import NotFound
from ledger.people.models import Role
from tests.oc_fake import FakeOpenCollective, FakeServer
from tests.oc_fake.data import JSONDict

pytest_plugins = ["tests.oc_fake.plugin"]

PROBLEM = "application/problem+json"


@pytest.fixture
def web(
    app: Flask, oc_server: FakeServer, oc_fake: FakeOpenCollective, pot_slug: str
) -> FlaskClient:
    """A client signed in as a steward of the pot (who may link it)."""
    app.config.update(OPENCOLLECTIVE_API_URL=oc_server.url, OPENCOLLECTIVE_TOKEN=oc_fake.token)
    _, token = member(app, pot_slug, Role.STEWARD)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def collective(oc_fake: FakeOpenCollective, pot_slug: str) -> str:
    slug = f"oc-{pot_slug}"
    oc_fake.add_collective(slug, currency="GBP")
    oc_fake.generate_transactions(slug, 12, seed=CLEAN_SEED)
    return slug


@pytest.fixture
def hook(web: FlaskClient, pot_slug: str, collective: str) -> str:
    """Link through the API; the answer's webhook URL (its path) is what Open Collective calls."""
    answer = web.post(
        f"/api/v1/pots/{pot_slug}/opencollective/link", json={"collective": collective}
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["pot"], body["collective"], body["currency"]) == (pot_slug, collective, "GBP")
    url: str = body["webhook_url"]
    assert url.startswith("http://localhost/integrations/opencollective/webhooks/")
    return url.removeprefix("http://localhost")


def created_event(row: JSONDict) -> dict[str, Any]:
    """The payload Open Collective posts for collective.transaction.created."""
    return {
        "id": 98765,
        "type": "collective.transaction.created",
        "CollectiveId": 4321,
        "createdAt": row["createdAt"],
        "data": {
            "transaction": {
                "id": row["legacyId"],
                "uuid": row["id"],
                "group": row["group"],
                "type": row["type"],
                "kind": row["kind"],
                "amount": int(row["amount"]["valueInCents"]),
                "currency": row["amount"]["currency"],
                "createdAt": row["createdAt"],
            }
        },
    }


def test_a_contribution_webhook_is_looked_up_then_recorded_once(
    web: FlaskClient,
    hook: str,
    db: Database,
    pot_slug: str,
    collective: str,
    oc_fake: FakeOpenCollective,
) -> None:
    row = oc_row(oc_fake, collective, kind="CONTRIBUTION", cents=2_000)
    oc_fake.add_transactions(collective, [row])
    oc_fake.requests.clear()

    answer = web.post(hook, json=created_event(row))
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "recorded"
    assert oc_fake.operations() == ["CommonpotTransaction"]  # looked up before any change
    assert oc_fake.requests[0].variables == {"ref": {"legacyId": row["legacyId"]}}
    assert oc_refs(db, pot_slug) == [f"oc:{row['id']}"]
    assert summary_of(db, pot_slug).held == 2_000

    replay = web.post(hook, json=created_event(row))
    assert replay.status_code == 200 and replay.get_json()["status"] == "duplicate"
    assert summary_of(db, pot_slug).entry_count == 1

    # The cursor did not move: the sync meets the row later and skips it by its reference.
    with db.read() as session:
        assert link_for_slug(session, pot_slug)[1].next_offset == 0


def test_the_webhook_body_is_only_a_hint(
    web: FlaskClient,
    hook: str,
    db: Database,
    pot_slug: str,
    collective: str,
    oc_fake: FakeOpenCollective,
) -> None:
    """The amount in the body is ignored: what counts is what the API says."""
    row = oc_row(oc_fake, collective, kind="ADDED_FUNDS", cents=500)
    oc_fake.add_transactions(collective, [row])
    event = created_event(row)
    event["data"]["transaction"]["amount"] = 5_000_000
    assert web.post(hook, json=event).get_json()["status"] == "recorded"
    assert summary_of(db, pot_slug).held == 500


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"data": {}}', "no 'type'"),
        (b'{"type": "collective.transaction.created", "data": {}}', "data.transaction.id"),
        (
            b'{"type": "collective.transaction.created", "data": {"transaction": {"id": "7"}}}',
            "data.transaction.id",
        ),
        (
            b'{"type": "collective.transaction.created", "data": {"transaction": {"id": true}}}',
            "data.transaction.id",
        ),
    ],
)
def test_a_malformed_body_is_400_and_changes_nothing(
    web: FlaskClient,
    hook: str,
    db: Database,
    pot_slug: str,
    oc_fake: FakeOpenCollective,
    body: bytes,
    message: str,
) -> None:
    oc_fake.requests.clear()
    answer = web.post(hook, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == PROBLEM
    problem = json.loads(answer.data)
    assert problem["title"] == "Malformed webhook" and message in problem["detail"]
    assert oc_fake.requests == []
    assert summary_of(db, pot_slug).entry_count == 0


@pytest.mark.parametrize("token", ["wrong-token", "x" * 500])
def test_a_wrong_token_is_404_and_changes_nothing(
    web: FlaskClient,
    hook: str,
    db: Database,
    pot_slug: str,
    collective: str,
    oc_fake: FakeOpenCollective,
    token: str,
) -> None:
    row = oc_row(oc_fake, collective, kind="CONTRIBUTION", cents=100)
    oc_fake.add_transactions(collective, [row])
    oc_fake.requests.clear()
    answer = web.post(f"/integrations/opencollective/webhooks/{token}", json=created_event(row))
    assert answer.status_code == 404 and answer.headers["Content-Type"] == PROBLEM
    # Even a malformed body gets 404: nothing about the pot is revealed to a wrong token.
    assert web.post(f"/integrations/opencollective/webhooks/{token}", data=b"{").status_code == 404
    assert oc_fake.requests == []
    assert summary_of(db, pot_slug).entry_count == 0


def test_unknown_events_are_acknowledged_and_ignored(
    web: FlaskClient, hook: str, db: Database, pot_slug: str, oc_fake: FakeOpenCollective
) -> None:
    oc_fake.requests.clear()
    answer = web.post(hook, json={"type": "collective.expense.approved", "data": {"expense": {}}})
    assert answer.status_code == 200 and answer.get_json()["status"] == "ignored"
    assert oc_fake.requests == []
    assert summary_of(db, pot_slug).entry_count == 0


def test_hints_about_other_or_unknown_transactions_change_nothing(
    web: FlaskClient, hook: str, db: Database, pot_slug: str, oc_fake: FakeOpenCollective
) -> None:
    oc_fake.add_collective("someone-elses", currency="GBP")
    theirs = oc_row(oc_fake, "someone-elses", kind="CONTRIBUTION", cents=100)
    oc_fake.add_transactions("someone-elses", [theirs])
    answer = web.post(hook, json=created_event(theirs))
    assert answer.status_code == 200 and answer.get_json()["status"] == "ignored"

    ghost = created_event(theirs)
    ghost["data"]["transaction"]["id"] = 999_999_999
    answer = web.post(hook, json=ghost)
    assert answer.status_code == 200 and answer.get_json()["status"] == "ignored"
    assert summary_of(db, pot_slug).entry_count == 0


def test_when_open_collective_cannot_be_asked_the_hint_is_left_to_the_sync(
    web: FlaskClient,
    hook: str,
    db: Database,
    pot_slug: str,
    collective: str,
    oc_fake: FakeOpenCollective,
) -> None:
    row = oc_row(oc_fake, collective, kind="CONTRIBUTION", cents=100)
    oc_fake.add_transactions(collective, [row])
    oc_fake.fail_next(500, times=2)  # the webhook's client retries once, then answers
    answer = web.post(hook, json=created_event(row))
    assert answer.status_code == 200 and answer.get_json()["status"] == "deferred"
    assert summary_of(db, pot_slug).entry_count == 0


def test_linking_through_the_api(
    web: FlaskClient, db: Database, pot_slug: str, oc_fake: FakeOpenCollective
) -> None:
    oc_fake.add_collective("in-euros", currency="EUR")
    answer = web.post(
        f"/api/v1/pots/{pot_slug}/opencollective/link", json={"collective": "in-euros"}
    )
    assert answer.status_code == 422 and answer.headers["Content-Type"] == PROBLEM
    assert "EUR" in json.loads(answer.data)["detail"]
    answer = web.post(f"/api/v1/pots/{pot_slug}/opencollective/link", json={"collective": "nope"})
    assert answer.status_code == 404
    answer = web.post("/api/v1/pots/no-such-pot/opencollective/link", json={"collective": "x"})
    assert answer.status_code == 404 and oc_fake.operations().count("CommonpotCollective") == 2
    answer = web.post(f"/api/v1/pots/{pot_slug}/opencollective/link", json={})
    assert answer.status_code == 422
    with db.read() as session:
        assert ledger_pots.get_pot(session, pot_slug).head_seq == 0
    assert web.get(f"/api/v1/pots/{pot_slug}/opencollective").status_code == 404


# --- linking from the command line ----------------------------------------------------------


@pytest.fixture
def oc_env(
    monkeypatch: pytest.MonkeyPatch, oc_server: FakeServer, oc_fake: FakeOpenCollective
) -> None:
    monkeypatch.setenv("OPENCOLLECTIVE_API_URL", oc_server.url)
    monkeypatch.setenv("OPENCOLLECTIVE_TOKEN", oc_fake.token)


@pytest.mark.usefixtures("oc_env")
def test_oc_link_refuses_a_collective_in_another_currency(
    db: Database, pot_slug: str, oc_fake: FakeOpenCollective, tmp_path: Path
) -> None:
    oc_fake.add_collective("euro-collective", currency="EUR")
    code, out = invoke_cli(db, tmp_path, "oc", "link", pot_slug, "euro-collective")
    assert code == 2
    assert "Currency mismatch" in out and "EUR" in out and "GBP" in out
    code, out = invoke_cli(db, tmp_path, "oc", "link", pot_slug, "no-such-collective")
    assert code == 2 and "no-such-collective" in out
    code, out = invoke_cli(db, tmp_path, "oc", "status", pot_slug)
    assert code == 2 and "not linked" in out


@pytest.mark.usefixtures("oc_env")
def test_oc_link_shows_the_webhook_url_once_and_keeps_only_its_hash(
    db: Database, pot_slug: str, collective: str, oc_fake: FakeOpenCollective, tmp_path: Path
) -> None:
    code, out = invoke_cli(
        db, tmp_path, "oc", "link", pot_slug, collective, "--base-url", "https://pot.example/"
    )
    assert code == 0, out
    prefix = "https://pot.example/integrations/opencollective/webhooks/"
    url = next(line.strip() for line in out.splitlines() if prefix in line)
    token = url.removeprefix(prefix)
    assert len(token) >= 43  # 256 random bits
    link = link_of(db, pot_slug)
    assert link.webhook_token_hash == hash_token(token) and token not in repr(vars(link))

    code, out = invoke_cli(db, tmp_path, "oc", "sync", pot_slug)
    assert code == 0 and "12 new entries" in out, out
    code, out = invoke_cli(db, tmp_path, "oc", "status")
    assert code == 0 and f"{pot_slug}: {collective}, offset 12" in out
    code, out = invoke_cli(db, tmp_path, "oc", "sync")
    assert code == 2 and "SLUG or --all" in out

    # Linking again rotates the token and keeps the cursor.
    code, out = invoke_cli(db, tmp_path, "oc", "link", pot_slug, collective)
    assert code == 0 and "re-linked" in out
    assert link_of(db, pot_slug).webhook_token_hash != hash_token(token)
    assert link_of(db, pot_slug).next_offset == 12


def test_linking_needs_a_steward(web: FlaskClient, app: Flask, db: Database, pot_slug: str) -> None:
    url = f"/api/v1/pots/{pot_slug}/opencollective/link"
    anonymous = app.test_client()
    answer = anonymous.post(url, json={"collective": "x"})
    assert answer.status_code == 401 and answer.headers["Content-Type"] == PROBLEM
    answer = anonymous.post(url, json={}, headers={"Authorization": "Bearer wrong"})
    assert answer.status_code == 401
    _, treasurer = member(app, pot_slug, Role.TREASURER)
    answer = anonymous.post(url, json={"collective": "x"}, headers=bearer(treasurer))
    assert answer.status_code == 403 and "steward" in answer.get_json()["detail"]
    with db.read() as session, pytest.raises(NotFound):
        link_for_slug(session, pot_slug)  # the refused requests linked nothing
