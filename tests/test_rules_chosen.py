"""Whether a pot's rules were chosen: the default, stored as version 1 when a proposal first
needs it, was chosen by nobody, and the API and the rules page say so; every version someone
chose, a steward or the operator, is chosen."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from community import person
from ledger.db import Database
from ledger.governance import proposals, rulebook
from ledger.journal import lock_pot
from ledger.pots import get_pot
from ledger.timestamps import utcnow

THRESHOLD = {
    "rule": {"kind": "threshold", "approvals_needed": 2, "objections_to_reject": 2},
    "voting_window_hours": 72,
    "max_open_proposals_per_member": 3,
}


def open_a_proposal(db: Database, slug: str) -> None:
    """Opening a proposal stores the default rules as version 1 (it must name a version)."""
    member = person(db, slug, "member")
    draft = proposals.Draft(title="Bursaries", summary="", amount=1_000, payee_name="Members")
    with db.write() as session:
        proposals.submit(session, slug, draft, user_id=member.id, open_now=True, now=utcnow())


def rules_json(client: FlaskClient, slug: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/pots/{slug}/rules")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.get_json()
    return body


def test_the_stored_default_was_chosen_by_nobody(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    assert rules_json(client, pot_slug)["chosen"] is False  # not stored yet
    open_a_proposal(db, pot_slug)
    stored = rules_json(client, pot_slug)
    assert stored["version"] == 1 and stored["set_at"] is not None
    assert stored["chosen"] is False and stored["set_by"] is None

    page = client.get(f"/pots/{pot_slug}/rules").get_data(as_text=True)
    assert "The rules in force: version 1" in page
    assert "have not chosen rules yet" in page
    assert "The default, chosen by nobody; stored" in page


def test_rules_a_steward_chose_are_chosen(client: FlaskClient, db: Database, pot_slug: str) -> None:
    steward = person(db, pot_slug, "steward")
    changed = client.put(f"/api/v1/pots/{pot_slug}/rules", json=THRESHOLD, headers=steward.auth)
    assert changed.status_code == 200
    assert changed.get_json()["chosen"] is True and changed.get_json()["version"] == 2
    assert changed.get_json()["set_by"] == steward.id

    history = client.get(f"/api/v1/pots/{pot_slug}/rules/history").get_json()["items"]
    assert [(v["version"], v["chosen"]) for v in history] == [(1, False), (2, True)]

    page = client.get(f"/pots/{pot_slug}/rules").get_data(as_text=True)
    assert "have not chosen rules yet" not in page
    assert page.count("Chosen ") == 2  # in force, and version 2 in the history
    assert "The default, chosen by nobody" in page  # version 1


def test_rules_the_operator_chose_are_chosen_though_no_user_set_them(
    db: Database, pot_slug: str
) -> None:
    with db.write() as session:
        pot = lock_pot(session, pot_slug)
        rulebook.change_rules(session, pot, THRESHOLD, user_id=None, actor="cli")
    with db.read() as session:
        pot = get_pot(session, pot_slug)
        in_force = rulebook.rules_in_force(session, pot)
        assert in_force.set_by is None and in_force.chosen
        assert [v.chosen for v in rulebook.history(session, pot)] == [False, True]
