"""Who is offered the vote form on a proposal's page: whoever may act in the pot (a member in
any role, or a site admin: ``ledger.people.membership.may_act``), never its proposers, and only
while the proposal is open."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from test_web_proposals import get, sign_in, submit

from community import Person, fund, person
from ledger.db import Database

VOTE_FORM = 'id="vote"'


@pytest.mark.parametrize(
    ("who", "offered"),
    [("member", True), ("treasurer", True), ("admin", True), ("outsider", False)],
)
def test_the_vote_form_is_offered_to_whoever_may_act_in_the_pot(
    client: FlaskClient, db: Database, pot_slug: str, who: str, offered: bool
) -> None:
    fund(db, pot_slug, 10_000)
    pid = submit(db, pot_slug, person(db, pot_slug, "member"))
    viewer: Person = {
        "member": lambda: person(db, pot_slug, "member"),
        "treasurer": lambda: person(db, pot_slug, "treasurer"),
        "admin": lambda: person(db, None, None, admin=True),  # of no pot, but runs the site
        "outsider": lambda: person(db, None, None),
    }[who]()
    sign_in(client, viewer)
    html = get(client, f"/pots/{pot_slug}/proposals/{pid}")
    assert (VOTE_FORM in html) == offered
    if not offered:
        assert "Only members of this pot vote on its proposals." in html


def test_the_public_and_the_proposer_are_not_offered_it(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    proposer = person(db, pot_slug, "member")
    pid = submit(db, pot_slug, proposer)
    page = f"/pots/{pot_slug}/proposals/{pid}"
    assert VOTE_FORM not in get(client, page)
    sign_in(client, proposer)
    html = get(client, page)
    assert VOTE_FORM not in html and "You put this proposal forward" in html
