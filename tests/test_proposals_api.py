"""Proposals through the HTTP API: submit, vote, decide, fund, pay, withdraw, close."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from community import Person, fund, person
from ledger.db import Database


def proposal_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Venue hire for the spring gathering",
        "summary": "Two days at the **community hall**. <script>alert(1)</script>",
        "amount": 45_000,
        "payee": {"name": "Northside Community Hall"},
        "category": "events",
    }
    body.update(overrides)
    return body


def set_rules(
    client: FlaskClient, slug: str, steward: Person, rule: dict[str, Any], **extra: Any
) -> None:
    rules = {"rule": rule, "voting_window_hours": 72, "max_open_proposals_per_member": 3, **extra}
    response = client.put(f"/api/v1/pots/{slug}/rules", json=rules, headers=steward.auth)
    assert response.status_code == 200, response.json


def test_stewards_rule_approves_and_funds_in_one_step(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    steward = person(db, pot_slug, "steward")
    proposer = person(db, pot_slug, "member")
    fund(db, pot_slug, 100_000)

    created = client.post(
        f"/api/v1/pots/{pot_slug}/proposals", json=proposal_body(), headers=proposer.auth
    )
    assert created.status_code == 201, created.json
    proposal = created.json
    assert proposal["status"] == "open"
    assert proposal["rules_version"] == 1
    assert "<script>" not in proposal["summary_html"]
    assert "<strong>community hall</strong>" in proposal["summary_html"]

    voted = client.post(
        f"/api/v1/proposals/{proposal['id']}/votes",
        json={"choice": "approve", "reason": "Good value"},
        headers=steward.auth,
    )
    assert voted.status_code == 200, voted.json
    assert voted.json["status"] == "funded"
    assert voted.json["funding"]["committed"] == {"amount": 45_000, "currency": "GBP"}
    kinds = [e["kind"] for e in voted.json["timeline"]]
    assert kinds == [
        "proposal_created",
        "proposal_opened",
        "vote_cast",
        "proposal_decided",
        "proposal_funded",
    ]

    pot = client.get(f"/api/v1/pots/{pot_slug}").json
    assert pot["totals"]["available"]["amount"] == 55_000
    assert pot["totals"]["committed"]["amount"] == 45_000
    entry = client.get(f"/api/v1/pots/{pot_slug}/entries/{voted.json['funding']['entry_seq']}").json
    assert entry["kind"] == "allocation"
    assert entry["data"]["proposal"] == proposal["id"]

    # A vote on a decided proposal is refused.
    late = client.post(
        f"/api/v1/proposals/{proposal['id']}/votes", json={"choice": "object"}, headers=steward.auth
    )
    assert late.status_code == 409
    assert late.headers["Content-Type"] == "application/problem+json"


def test_waiting_for_funds_then_funded_in_order_as_money_arrives(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    steward = person(db, pot_slug, "steward")
    alice = person(db, pot_slug, "member")
    fund(db, pot_slug, 10_000)
    ids = []
    for amount in (8_000, 5_000, 1_000):
        created = client.post(
            f"/api/v1/pots/{pot_slug}/proposals",
            json=proposal_body(amount=amount),
            headers=alice.auth,
        )
        assert created.status_code == 201, created.json
        ids.append(created.json["id"])
    statuses = []
    for pid in ids:
        voted = client.post(
            f"/api/v1/proposals/{pid}/votes", json={"choice": "approve"}, headers=steward.auth
        )
        statuses.append(voted.json["status"])
    # The 1,000 would fit, but the 5,000 was approved first and waits: nobody jumps the queue.
    assert statuses == ["funded", "approved", "approved"]
    waiting = client.get(f"/api/v1/proposals/{ids[2]}").json
    assert waiting["funding"]["waiting_position"] == 2

    # The first proposal is withdrawn: its 8,000 goes back and both waiting ones are funded.
    withdrawn = client.post(f"/api/v1/proposals/{ids[0]}/withdraw", headers=alice.auth)
    assert withdrawn.status_code == 200, withdrawn.json
    assert withdrawn.json["status"] == "withdrawn"
    assert [client.get(f"/api/v1/proposals/{pid}").json["status"] for pid in ids[1:]] == [
        "funded",
        "funded",
    ]
    pot = client.get(f"/api/v1/pots/{pot_slug}").json
    assert pot["totals"]["available"]["amount"] == 4_000


def test_payouts_partial_then_full_never_more_than_committed(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    steward = person(db, pot_slug, "steward")
    treasurer = person(db, pot_slug, "treasurer")
    alice = person(db, pot_slug, "member")
    fund(db, pot_slug, 50_000)
    pid = client.post(
        f"/api/v1/pots/{pot_slug}/proposals", json=proposal_body(amount=30_000), headers=alice.auth
    ).json["id"]
    client.post(f"/api/v1/proposals/{pid}/votes", json={"choice": "approve"}, headers=steward.auth)

    refused = client.post(
        f"/api/v1/proposals/{pid}/payouts", json={"amount": 10_000}, headers=alice.auth
    )
    assert refused.status_code == 403
    first = client.post(
        f"/api/v1/proposals/{pid}/payouts",
        json={"amount": 10_000},
        headers={**treasurer.auth, "Idempotency-Key": "pay-1"},
    )
    assert first.status_code == 201, first.json
    assert first.json["proposal"]["status"] == "partly_paid"
    again = client.post(
        f"/api/v1/proposals/{pid}/payouts",
        json={"amount": 10_000},
        headers={**treasurer.auth, "Idempotency-Key": "pay-1"},
    )
    assert again.status_code == 201
    assert again.json == first.json
    conflict = client.post(
        f"/api/v1/proposals/{pid}/payouts",
        json={"amount": 9_000},
        headers={**treasurer.auth, "Idempotency-Key": "pay-1"},
    )
    assert conflict.status_code == 409
    too_much = client.post(
        f"/api/v1/proposals/{pid}/payouts", json={"amount": 20_001}, headers=treasurer.auth
    )
    assert too_much.status_code == 409
    assert "left of its commitment" in too_much.json["detail"]
    rest = client.post(
        f"/api/v1/proposals/{pid}/payouts", json={"amount": 20_000}, headers=treasurer.auth
    )
    assert rest.json["proposal"]["status"] == "paid"
    pot = client.get(f"/api/v1/pots/{pot_slug}").json
    assert pot["totals"]["paid_out"]["amount"] == 30_000
    assert pot["totals"]["committed"]["amount"] == 0
    assert pot["totals"]["available"]["amount"] == 20_000


def test_threshold_and_objections(client: FlaskClient, db: Database, pot_slug: str) -> None:
    steward = person(db, pot_slug, "steward")
    members = [person(db, pot_slug, "member") for _ in range(4)]
    fund(db, pot_slug, 100_000)
    set_rules(
        client,
        pot_slug,
        steward,
        {"kind": "threshold", "approvals_needed": 2, "objections_to_reject": 2},
    )
    pid = client.post(
        f"/api/v1/pots/{pot_slug}/proposals", json=proposal_body(), headers=members[0].auth
    ).json["id"]
    own = client.post(
        f"/api/v1/proposals/{pid}/votes", json={"choice": "approve"}, headers=members[0].auth
    )
    assert own.status_code == 403
    first = client.post(
        f"/api/v1/proposals/{pid}/votes", json={"choice": "object"}, headers=members[1].auth
    )
    assert first.json["status"] == "open"
    changed = client.post(
        f"/api/v1/proposals/{pid}/votes", json={"choice": "approve"}, headers=members[1].auth
    )
    assert changed.json["tally"]["approvals"] == 1 and changed.json["tally"]["objections"] == 0
    second = client.post(
        f"/api/v1/proposals/{pid}/votes", json={"choice": "approve"}, headers=members[2].auth
    )
    assert second.json["status"] == "funded"
    assert second.json["decision"]["rule_version"] == 2
    assert [v["choice"] for v in second.json["votes"]] == ["approve", "approve"]


def test_secret_ballot_shows_counts_only(client: FlaskClient, db: Database, pot_slug: str) -> None:
    steward = person(db, pot_slug, "steward")
    members = [person(db, pot_slug, "member") for _ in range(3)]
    set_rules(
        client,
        pot_slug,
        steward,
        {"kind": "threshold", "approvals_needed": 3, "objections_to_reject": 3},
        ballot="secret",
    )
    pid = client.post(
        f"/api/v1/pots/{pot_slug}/proposals", json=proposal_body(), headers=members[0].auth
    ).json["id"]
    client.post(
        f"/api/v1/proposals/{pid}/votes",
        json={"choice": "object", "reason": "too dear"},
        headers=members[1].auth,
    )
    seen_by_steward = client.get(f"/api/v1/proposals/{pid}", headers=steward.auth).json
    assert seen_by_steward["votes"] is None
    assert seen_by_steward["tally"]["objections"] == 1
    assert seen_by_steward["my_vote"] is None
    seen_by_voter = client.get(f"/api/v1/proposals/{pid}", headers=members[1].auth).json
    assert seen_by_voter["my_vote"]["choice"] == "object"
    vote_events = [e for e in seen_by_steward["timeline"] if e["kind"].startswith("vote")]
    assert vote_events and all(
        e["actor"] == "secret ballot" and e["data"] == {"ballot": "secret"} for e in vote_events
    )
    # A steward's view and the voter's own view differ only in "my_vote".
    assert seen_by_voter["tally"] == seen_by_steward["tally"]


def test_bad_input_is_a_problem_and_changes_nothing(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    alice = person(db, pot_slug, "member")
    steward = person(db, pot_slug, "steward")
    set_rules(
        client, pot_slug, steward, {"kind": "stewards", "approvals_needed": 1}, max_amount=50_000
    )
    for bad in (
        proposal_body(amount=12.5),
        proposal_body(amount="100"),
        proposal_body(amount=0),
        proposal_body(amount=-5),
        proposal_body(amount=50_001),
        proposal_body(title="x" * 10_000),
        proposal_body(title=""),
        proposal_body(payee={}),
        proposal_body(surprise=True),
    ):
        response = client.post(f"/api/v1/pots/{pot_slug}/proposals", json=bad, headers=alice.auth)
        assert response.status_code in (400, 409, 422), (bad, response.json)
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json["detail"]
    listing = client.get(f"/api/v1/pots/{pot_slug}/proposals").json
    assert listing["items"] == []
    assert client.get("/api/v1/proposals/999999").status_code == 404
    assert (
        client.post(
            "/api/v1/proposals/999999/votes", json={"choice": "approve"}, headers=alice.auth
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/pots/{pot_slug}/proposals",
            json=proposal_body(),
            headers={"Authorization": "Bearer cp_tampered"},
        ).status_code
        == 401
    )
    assert (
        client.post(f"/api/v1/pots/{pot_slug}/proposals", json=proposal_body()).status_code == 401
    )


def test_treasurer_records_money_and_waiting_proposals_are_funded(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    steward = person(db, pot_slug, "steward")
    treasurer = person(db, pot_slug, "treasurer")
    alice = person(db, pot_slug, "member")
    pid = client.post(
        f"/api/v1/pots/{pot_slug}/proposals", json=proposal_body(amount=7_500), headers=alice.auth
    ).json["id"]
    voted = client.post(
        f"/api/v1/proposals/{pid}/votes", json={"choice": "approve"}, headers=steward.auth
    )
    assert voted.json["status"] == "approved"
    assert voted.json["funding"]["waiting_position"] == 1

    body = {"kind": "contribution", "amount": 10_000, "memo": "Membership fees, October"}
    assert client.post(f"/api/v1/pots/{pot_slug}/entries", json=body).status_code == 401
    assert (
        client.post(f"/api/v1/pots/{pot_slug}/entries", json=body, headers=alice.auth).status_code
        == 403
    )
    headers = {**treasurer.auth, "Idempotency-Key": "october-fees"}
    recorded = client.post(f"/api/v1/pots/{pot_slug}/entries", json=body, headers=headers)
    assert recorded.status_code == 201, recorded.json
    assert recorded.json["kind"] == "contribution"
    retried = client.post(f"/api/v1/pots/{pot_slug}/entries", json=body, headers=headers)
    assert retried.json == recorded.json
    assert client.get(f"/api/v1/proposals/{pid}").json["status"] == "funded"
    totals = client.get(f"/api/v1/pots/{pot_slug}").json["totals"]
    assert totals["available"]["amount"] == 2_500
    assert totals["committed"]["amount"] == 7_500
    for bad in ({**body, "amount": 1.5}, {**body, "kind": "allocation"}, {**body, "memo": ""}):
        refused = client.post(f"/api/v1/pots/{pot_slug}/entries", json=bad, headers=treasurer.auth)
        assert refused.status_code == 422, bad
    assert client.get(f"/api/v1/pots/{pot_slug}").json["entry_count"] == 2
