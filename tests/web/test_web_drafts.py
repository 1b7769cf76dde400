"""Drafts on the pages, through Flask's test client on SQLite and PostgreSQL: saving a proposal
as a draft, editing it, naming and removing co-proposers, opening it for votes, withdrawing it;
the mistakes said next to their fields with what was typed kept; every form's CSRF check; and a
draft never shown to anyone but its proposer and co-proposers (404, in no list or download)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_web_proposals import GOOD, REFUSED, get, post_form, set_rules, sign_in, status_of

from community import Person, fund, person
from ledger import audit
from ledger.db import Database
from ledger.errors import Forbidden, InvalidInput
from ledger.governance import proposals
from ledger.governance.errors import WrongState
from ledger.pots import get_pot
from ledger.timestamps import utcnow

SECRET_TITLE = "Surprise party for the treasurer"
SECRET_CATEGORY = "hush-hush"


@pytest.fixture
def people(db: Database, pot_slug: str) -> dict[str, Person]:
    """A funded pot (£500) with a steward and three members."""
    fund(db, pot_slug, 50_000)
    return {
        "steward": person(db, pot_slug, "steward"),
        "amara": person(db, pot_slug, "member"),
        "rhys": person(db, pot_slug, "member"),
        "sian": person(db, pot_slug, "member"),
    }


def client_of(app: Flask, who: Person | None) -> FlaskClient:
    """A browser of its own: signed in as ``who``, or the public for None."""
    client = app.test_client()
    if who is not None:
        sign_in(client, who)
    return client


def save_draft(db: Database, slug: str, by: Person, *, co: tuple[Person, ...] = ()) -> int:
    terms = proposals.Draft(
        title=SECRET_TITLE,
        summary="Cake and **balloons**.",
        amount=4_200,
        payee_name="Leeds Bakery",
        category=SECRET_CATEGORY,
        co_proposers=[p.id for p in co],
    )
    with db.write() as session:
        return proposals.submit(
            session, slug, terms, user_id=by.id, open_now=False, now=utcnow()
        ).id


def pages_of(slug: str, pid: int) -> dict[str, str]:
    base = f"/pots/{slug}/proposals/{pid}"
    return {"detail": base, "draft": f"{base}/draft", "edit": f"{base}/edit"}


def co_proposer_ids(db: Database, pid: int) -> list[int]:
    with db.read() as session:
        return proposals.co_proposers_of(session, proposals.get(session, pid))


# -- saving and seeing a draft -----------------------------------------------------------------


def test_saving_as_draft_keeps_it_for_its_proposer(
    app: Flask, db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    amara = client_of(app, people["amara"])
    new = f"/pots/{pot_slug}/proposals/new"
    response = post_form(amara, new, new, {**GOOD, "save_draft": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    pid = int(response.headers["Location"].split("/")[-2])
    assert response.headers["Location"] == pages_of(pot_slug, pid)["draft"]
    assert status_of(db, pid) == "draft"
    html = get(amara, response.headers["Location"])
    assert "Your draft is saved. Only you and the co-proposers you add can see it." in html
    assert "A draft: only you and its co-proposers can see it." in html
    assert "£120.50" in html and "<em>small</em>" in html
    # Its proposal page sends its proposer to the draft's page.
    detail = amara.get(pages_of(pot_slug, pid)["detail"])
    assert detail.status_code == 302 and detail.headers["Location"].endswith("/draft")
    # Listed for them, apart from the public list, and on their own page.
    listing = get(amara, f"/pots/{pot_slug}/proposals")
    mine = listing[listing.index('id="drafts-heading"') : listing.index("filter-heading")]
    assert "Bursaries for the gathering" in mine
    assert "Bursaries for the gathering" not in listing[listing.index("filter-heading") :]
    me = get(amara, "/me")
    drafts = me[me.index("My drafts") : me.index("My proposals</h3>")]
    assert f"#{pid} Bursaries for the gathering" in drafts
    assert f"#{pid} " not in me[me.index("My proposals</h3>") :]


def test_a_draft_is_found_by_nobody_else(
    app: Flask, db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    pid = save_draft(db, pot_slug, people["amara"], co=(people["rhys"],))
    pages = pages_of(pot_slug, pid)
    public, sian = client_of(app, None), client_of(app, people["sian"])
    for path in (pages["detail"], pages["draft"], pages["edit"]):
        assert sian.get(path).status_code == 404, path
    assert public.get(pages["detail"]).status_code == 404
    for path in (pages["draft"], pages["edit"]):  # sign in first (for any number at all)
        assert public.get(path).status_code == 302
    for reader in (public, sian):
        for path in (
            f"/pots/{pot_slug}/proposals",
            f"/pots/{pot_slug}/proposals.csv",
            f"/pots/{pot_slug}/proposals.json",
            f"/pots/{pot_slug}/feed.atom",
            f"/pots/{pot_slug}",
        ):
            text = get(reader, path)
            assert SECRET_TITLE not in text and SECRET_CATEGORY not in text, path
    assert SECRET_TITLE not in get(sian, "/me")
    assert json.loads(get(public, f"/pots/{pot_slug}/proposals.json"))["proposals"] == []
    # Drafts are not a status anyone can list.
    assert "Not a valid choice" in get(public, f"/pots/{pot_slug}/proposals?status=draft", 400)
    # Sian's forms find nothing either, and change nothing.
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', get(sian, "/me"))
    assert token
    for action, data in (
        ("open", {}),
        ("withdraw", {}),
        ("vote", {"choice": "approve"}),
        ("edit", GOOD),
        ("co-proposers", {"member": str(people["sian"].id)}),
        (f"co-proposers/{people['rhys'].id}/remove", {}),
    ):
        response = sian.post(f"{pages['detail']}/{action}", data={**data, "csrf_token": token[1]})
        assert response.status_code == 404, action
    assert status_of(db, pid) == "draft" and co_proposer_ids(db, pid) == [people["rhys"].id]
    # Its co-proposer sees it, and where.
    rhys = client_of(app, people["rhys"])
    html = get(rhys, pages["draft"])
    assert SECRET_TITLE in html and "Take me off this draft" in html
    assert "Open for votes</button>" not in html and "Edit the draft" not in html
    assert SECRET_TITLE in get(rhys, f"/pots/{pot_slug}/proposals")
    assert SECRET_TITLE in get(rhys, "/me")


# -- editing -----------------------------------------------------------------------------------


def test_editing_a_draft_starts_from_what_was_saved(
    app: Flask, db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    pid = save_draft(db, pot_slug, people["amara"], co=(people["rhys"],))
    edit = pages_of(pot_slug, pid)["edit"]
    amara = client_of(app, people["amara"])
    form = get(amara, edit)
    assert f'value="{SECRET_TITLE}"' in form and 'value="42.00"' in form
    assert f'value="{SECRET_CATEGORY}"' in form and "Cake and **balloons**.</textarea>" in form
    changed = {**GOOD, "title": "A quieter party", "amount": "35.00"}
    response = post_form(amara, edit, edit, changed)
    assert response.status_code == 302 and response.headers["Location"].endswith("/draft")
    with db.read() as session:
        saved = proposals.get(session, pid)
        assert (saved.title, saved.amount, saved.status) == ("A quieter party", 3_500, "draft")
    assert co_proposer_ids(db, pid) == [people["rhys"].id]  # editing keeps the co-proposers
    assert "Your draft is saved." in get(amara, response.headers["Location"])
    # A co-proposer reads the draft but does not edit it.
    rhys = client_of(app, people["rhys"])
    assert "only its proposer can change a draft" in get(rhys, edit, 403)


@pytest.mark.parametrize(
    ("page", "changes", "field", "message"),
    [
        ("new", {"title": ""}, "title", "Give the proposal a title."),
        ("new", {"amount": "12.345"}, "amount", "has 3 decimal places but GBP has 2"),
        ("new", {"payee_oc_slug": "Not A Slug"}, "payee_oc_slug", "Lowercase letters"),
        ("edit", {"summary": ""}, "summary", "Say what the money is for."),
        ("edit", {"amount": "nothing"}, "amount", "is not a positive decimal amount"),
        ("edit", {"payee_oc_slug": "Not A Slug"}, "payee_oc_slug", "Lowercase letters"),
    ],
)
def test_draft_mistakes_are_shown_by_their_field_and_keep_what_was_typed(
    app: Flask,
    db: Database,
    pot_slug: str,
    people: dict[str, Person],
    page: str,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    pid = save_draft(db, pot_slug, people["amara"])
    path = f"/pots/{pot_slug}/proposals/new" if page == "new" else pages_of(pot_slug, pid)["edit"]
    amara = client_of(app, people["amara"])
    typed = {**GOOD, **changes, "save_draft": "y"}
    response = post_form(amara, path, path, typed)
    html = response.get_data(as_text=True)
    assert response.status_code in (400, 422), html[:1000]
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert found and message in found.group(1), html[:3000]
    assert html.count('aria-invalid="true"') == 1 and "<title>Error: " in html
    for name, value in typed.items():
        if name == "summary" and value:
            assert f">{value}</textarea>" in html.replace("\r\n", "")
        elif value and name != "save_draft":
            assert f'value="{value}"' in html, name
    with db.read() as session:  # nothing saved, nothing changed
        assert [p.id for p in proposals.list_proposals(session, get_pot(session, pot_slug))] == [
            pid
        ]
        assert proposals.get(session, pid).title == SECRET_TITLE


# -- co-proposers ------------------------------------------------------------------------------


def test_the_proposer_adds_and_removes_co_proposers(
    app: Flask, db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    pid = save_draft(db, pot_slug, people["amara"])
    draft = pages_of(pot_slug, pid)["draft"]
    amara, rhys = client_of(app, people["amara"]), client_of(app, people["rhys"])
    html = get(amara, draft)
    options = re.findall(r'<option value="(\d+)">', html)
    assert sorted(map(int, options)) == sorted(p.id for k, p in people.items() if k != "amara")
    assert rhys.get(draft).status_code == 404

    added = post_form(
        amara, draft, f"{draft[:-6]}/co-proposers", {"member": str(people["rhys"].id)}
    )
    assert added.status_code == 302 and added.headers["Location"].endswith("/draft#co-proposers")
    assert co_proposer_ids(db, pid) == [people["rhys"].id]
    html = get(amara, draft)
    assert "The co-proposer is added." in html
    assert f'<option value="{people["rhys"].id}">' not in html  # offered no more
    assert SECRET_TITLE in get(rhys, draft)

    removed = post_form(amara, draft, f"{draft[:-6]}/co-proposers/{people['rhys'].id}/remove", {})
    assert removed.status_code == 302
    assert co_proposer_ids(db, pid) == []
    assert "The co-proposer is removed." in get(amara, draft)
    assert rhys.get(draft).status_code == 404  # no longer theirs to see


def test_a_co_proposer_takes_themselves_off(
    app: Flask, db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    pid = save_draft(db, pot_slug, people["amara"], co=(people["rhys"], people["sian"]))
    draft = pages_of(pot_slug, pid)["draft"]
    rhys = client_of(app, people["rhys"])
    # Not someone else, though.
    other = post_form(rhys, draft, f"{draft[:-6]}/co-proposers/{people['sian'].id}/remove", {})
    assert other.status_code == 403
    assert "Only its proposer can change a draft." in other.get_data(as_text=True)
    response = post_form(rhys, draft, f"{draft[:-6]}/co-proposers/{people['rhys'].id}/remove", {})
    assert response.status_code == 302 and response.headers["Location"] == "/me"
    assert "You are no longer a co-proposer of that draft." in get(rhys, "/me")
    assert co_proposer_ids(db, pid) == [people["sian"].id]


@pytest.mark.parametrize(
    ("member", "status", "message"),
    [
        ("", 400, "Choose the member who proposes it with you."),
        ("someone", 400, "Choose a member of the pot."),
        ("9" * 40, 400, "Choose a member of the pot."),
        ("amara", 422, "You are already its proposer."),
        ("outsider", 422, "is not a member of"),
    ],
)
def test_a_co_proposer_who_cannot_be_named_is_said_by_the_field(
    app: Flask,
    db: Database,
    pot_slug: str,
    people: dict[str, Person],
    member: str,
    status: int,
    message: str,
) -> None:
    pid = save_draft(db, pot_slug, people["amara"])
    draft = pages_of(pot_slug, pid)["draft"]
    chosen = {
        "amara": str(people["amara"].id),
        "outsider": str(person(db, None, None).id),
    }.get(member, member)
    amara = client_of(app, people["amara"])
    response = post_form(amara, draft, f"{draft[:-6]}/co-proposers", {"member": chosen})
    html = response.get_data(as_text=True)
    assert response.status_code == status, html[:2000]
    found = re.search(r'<p class="error" id="member-error">([^<]*)</p>', html)
    assert found and message in found.group(1), html[:3000]
    assert 'role="alert"' in html and co_proposer_ids(db, pid) == []


# -- opening and withdrawing ---------------------------------------------------------------------


def test_opening_a_draft_puts_its_final_terms_to_the_vote(
    app: Flask, db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    pid = save_draft(db, pot_slug, people["amara"], co=(people["rhys"],))
    with db.write() as session:
        proposals.revise(
            session,
            pid,
            proposals.Draft(title="Party", summary="", amount=3_000, payee_name="Bakery"),
            user_id=people["amara"].id,
        )
    pages = pages_of(pot_slug, pid)
    rhys, amara = client_of(app, people["rhys"]), client_of(app, people["amara"])
    refused = post_form(rhys, pages["draft"], f"{pages['detail']}/open", {})
    assert refused.status_code == 403
    assert "Only its proposer can open a draft for votes." in refused.get_data(as_text=True)
    opened = post_form(amara, pages["draft"], f"{pages['detail']}/open", {})
    assert opened.status_code == 302 and opened.headers["Location"] == pages["detail"]
    html = get(amara, pages["detail"])
    assert "Your proposal is open for votes." in html
    assert re.search(r"<dt>Co-proposers</dt><dd>Member-\w+</dd>", html)
    # Now anyone reads it, and its draft page is its proposal page.
    public = client_of(app, None)
    assert "Party" in get(public, pages["detail"])
    assert "Party" in get(public, f"/pots/{pot_slug}/proposals")
    assert amara.get(pages["draft"]).headers["Location"] == pages["detail"]
    assert "no longer" not in get(rhys, pages["detail"])
    assert "You put this proposal forward, so you do not vote on it." in get(rhys, pages["detail"])
    with db.read() as session:
        pot = get_pot(session, pot_slug)
        [event] = [
            e
            for e in audit.list_events(session, pot, proposal_id=pid)
            if e.kind == "proposal_opened"
        ]
        terms = audit.event_data(event)
    assert (terms["title"], terms["amount"], terms["payee"]) == ("Party", 3_000, "Bakery")
    assert terms["co_proposers"] == [people["rhys"].id]


def test_a_refused_opening_is_said_on_the_draft_page(
    app: Flask, db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    set_rules(db, pot_slug, people["steward"], max_amount=4_000)  # the draft asks £42.00
    pid = save_draft(db, pot_slug, people["amara"])
    pages = pages_of(pot_slug, pid)
    amara = client_of(app, people["amara"])
    response = post_form(amara, pages["draft"], f"{pages['detail']}/open", {})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "over this pot&#39;s limit of 40.00 GBP" in html and SECRET_TITLE in html
    assert 'role="alert"' in html and status_of(db, pid) == "draft"


def test_a_withdrawn_draft_stays_private(
    app: Flask, db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    pid = save_draft(db, pot_slug, people["amara"])
    pages = pages_of(pot_slug, pid)
    amara = client_of(app, people["amara"])
    response = post_form(amara, pages["draft"], f"{pages['detail']}/withdraw", {})
    assert response.status_code == 302 and status_of(db, pid) == "withdrawn"
    html = get(amara, pages["detail"])
    assert "Your draft is withdrawn." in html and SECRET_TITLE in html
    for reader in (client_of(app, None), client_of(app, people["rhys"])):
        assert reader.get(pages["detail"]).status_code == 404
        assert SECRET_TITLE not in get(reader, f"/pots/{pot_slug}/proposals?status=withdrawn")


# -- CSRF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["new", "edit", "add", "remove", "open"])
def test_every_draft_form_refuses_a_post_without_its_csrf_token(
    app: Flask, db: Database, pot_slug: str, people: dict[str, Person], action: str
) -> None:
    pid = save_draft(db, pot_slug, people["amara"], co=(people["rhys"],))
    base = pages_of(pot_slug, pid)["detail"]
    path = {
        "new": f"/pots/{pot_slug}/proposals/new",
        "edit": f"{base}/edit",
        "add": f"{base}/co-proposers",
        "remove": f"{base}/co-proposers/{people['rhys'].id}/remove",
        "open": f"{base}/open",
    }[action]
    amara = client_of(app, people["amara"])
    data = {**GOOD, "save_draft": "y", "member": str(people["sian"].id)}
    response = amara.post(path, data=data)
    assert response.status_code == 400
    assert REFUSED in response.get_data(as_text=True)
    with db.read() as session:
        assert [p.id for p in proposals.list_proposals(session, get_pot(session, pot_slug))] == [
            pid
        ]
        assert proposals.get(session, pid).title == SECRET_TITLE
    assert status_of(db, pid) == "draft" and co_proposer_ids(db, pid) == [people["rhys"].id]


# -- the services' rules -----------------------------------------------------------------------


def test_only_its_proposer_changes_a_draft_and_only_while_it_is_one(
    db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    amara, rhys = people["amara"], people["rhys"]
    pid = save_draft(db, pot_slug, amara, co=(rhys,))
    terms = proposals.Draft(title="T", summary="", amount=100, payee_name="P")
    changes: list[Any] = [
        lambda s, who: proposals.revise(s, pid, terms, user_id=who.id),
        lambda s, who: proposals.add_co_proposer(s, pid, people["sian"].id, user_id=who.id),
        lambda s, who: proposals.remove_co_proposer(s, pid, people["sian"].id, user_id=who.id),
    ]
    for change in changes:
        with pytest.raises(Forbidden), db.write() as session:
            change(session, rhys)
    with pytest.raises(InvalidInput, match="one at a time"), db.write() as session:
        proposals.revise(
            session, pid, proposals.Draft("T", "", 100, "P", co_proposers=[9]), user_id=amara.id
        )
    with db.write() as session:  # naming someone twice changes nothing
        proposals.add_co_proposer(session, pid, rhys.id, user_id=amara.id)
    assert co_proposer_ids(db, pid) == [rhys.id]
    with db.write() as session:
        proposals.open_for_votes(session, pid, user_id=amara.id, now=utcnow())
    for change in changes:
        with pytest.raises(WrongState), db.write() as session:
            change(session, amara)
    with pytest.raises(WrongState), db.write() as session:  # nor off an open one
        proposals.remove_co_proposer(session, pid, rhys.id, user_id=rhys.id)
    assert co_proposer_ids(db, pid) == [rhys.id]


def test_at_most_twenty_co_proposers(db: Database, pot_slug: str) -> None:
    proposer = person(db, pot_slug, "member")
    many = tuple(person(db, pot_slug, "member") for _ in range(proposals.MAX_CO_PROPOSERS + 1))
    pid = save_draft(db, pot_slug, proposer, co=many[:-1])
    with pytest.raises(InvalidInput, match="at most 20"), db.write() as session:
        proposals.add_co_proposer(session, pid, many[-1].id, user_id=proposer.id)
