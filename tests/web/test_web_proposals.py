"""Proposals and the member pages through Flask's test client, on SQLite and PostgreSQL:
the public list, proposal, rules, downloads and feed; submitting, voting, withdrawing,
joining with an invitation and "my proposals and votes"."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.api.proposals import ballot_key
from community import PASSWORD, Person, fund, person
from ledger.db import Database
from ledger.governance import proposals, rulebook
from ledger.governance.models import Proposal
from ledger.journal import lock_pot
from ledger.people import membership
from ledger.pots import get_pot
from ledger.timestamps import utcnow

ATOM = "{http://www.w3.org/2005/Atom}"
REFUSED = "This form could not be accepted"


# -- helpers ---------------------------------------------------------------------------------


def get(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    return response.get_data(as_text=True)


def token_in(html: str) -> str:
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def sign_in(client: FlaskClient, who: Person) -> None:
    token = token_in(get(client, "/sign-in"))
    response = client.post(
        "/sign-in", data={"csrf_token": token, "email": who.email, "password": PASSWORD}
    )
    assert response.status_code == 302


def post_form(
    client: FlaskClient, page: str, action: str, data: dict[str, str], *, csrf: bool = True
) -> Any:
    """Post ``data`` to ``action`` with the CSRF token of ``page``, as a browser would."""
    body = dict(data)
    if csrf:
        body["csrf_token"] = token_in(get(client, page))
    return client.post(action, data=body)


def submit(
    db: Database,
    slug: str,
    by: Person,
    *,
    title: str = "Venue for the spring meetup",
    amount: int = 1_250,
    category: str | None = "events",
    summary: str = "Two days in **Leeds**.",
) -> int:
    draft = proposals.Draft(
        title=title, summary=summary, amount=amount, payee_name="Leeds Halls", category=category
    )
    with db.write() as session:
        return proposals.submit(session, slug, draft, user_id=by.id, open_now=True, now=utcnow()).id


def vote(db: Database, app: Any, proposal_id: int, by: Person, choice: str, reason: str) -> None:
    with app.app_context():
        key = ballot_key()
    with db.write() as session:
        proposals.vote(
            session,
            proposal_id,
            user_id=by.id,
            choice=choice,
            reason=reason,
            ballot_key=key,
            now=utcnow(),
        )


def set_rules(db: Database, slug: str, steward: Person, **changes: Any) -> None:
    rules: dict[str, Any] = {
        "rule": {"kind": "threshold", "approvals_needed": 2, "objections_to_reject": 2},
        "voting_window_hours": 72,
        "max_open_proposals_per_member": 2,
    }
    rules.update(changes)
    with db.write() as session:
        pot = lock_pot(session, slug)
        rulebook.change_rules(session, pot, rules, user_id=steward.id, actor=f"user:{steward.id}")


def status_of(db: Database, proposal_id: int) -> str:
    with db.read() as session:
        found = session.get(Proposal, proposal_id)
        assert found is not None
        return found.status


@pytest.fixture
def community(db: Database, pot_slug: str) -> dict[str, Person]:
    """A funded pot (£500) with a steward, a treasurer and three members."""
    fund(db, pot_slug, 50_000)
    return {
        "steward": person(db, pot_slug, "steward"),
        "treasurer": person(db, pot_slug, "treasurer"),
        "amara": person(db, pot_slug, "member"),
        "rhys": person(db, pot_slug, "member"),
        "sian": person(db, pot_slug, "member"),
    }


# -- public pages ----------------------------------------------------------------------------


def test_the_list_shows_status_amount_tally_and_filters(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    first = submit(db, pot_slug, community["amara"])
    submit(db, pot_slug, community["rhys"], title="Toolkit print run", category="publications")
    vote(db, app, first, community["sian"], "object", "Too soon")
    html = get(client, f"/pots/{pot_slug}/proposals")
    assert "Venue for the spring meetup" in html and "Toolkit print run" in html
    assert "£12.50" in html
    assert "0 approve, 1 object, 0 abstain" in html
    assert '<span class="status status-open">open</span>' in html
    only = get(client, f"/pots/{pot_slug}/proposals?category=publications")
    assert "Toolkit print run" in only and "Venue for the spring meetup" not in only
    assert "No proposals match" in get(client, f"/pots/{pot_slug}/proposals?status=paid")
    bad = get(client, f"/pots/{pot_slug}/proposals?status=bribed&category=nope", 400)
    assert "Not a valid choice" in bad and 'role="alert"' in bad
    assert get(client, "/pots/no-such-pot/proposals", 404)


def test_the_list_pages_through_proposals(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    set_rules(db, pot_slug, community["steward"], max_open_proposals_per_member=30)
    ids = [submit(db, pot_slug, community["amara"], title=f"Idea {i}") for i in range(21)]
    first = get(client, f"/pots/{pot_slug}/proposals")
    assert f"Proposals {ids[0]} to {ids[19]}" in first
    assert f'rel="next" href="/pots/{pot_slug}/proposals?after={ids[19]}"' in first
    second = get(client, f"/pots/{pot_slug}/proposals?after={ids[19]}")
    assert "Idea 20" in second and 'rel="next"' not in second
    assert f'href="/pots/{pot_slug}/proposals">First page' in second


def test_a_proposal_shows_its_decision_money_and_timeline(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    pid = submit(db, pot_slug, community["amara"])
    vote(db, app, pid, community["steward"], "approve", "Good value")  # default: 1 steward
    html = get(client, f"/pots/{pot_slug}/proposals/{pid}")
    assert "<strong>Leeds</strong>" in html  # the summary's Markdown
    assert "Decision: <strong>approved</strong>" in html
    assert "1 steward approved" in html  # the decision's reason, from the domain
    assert '<span class="status status-funded">funded</span>' in html
    money = html[html.index('id="money-heading"') :]
    assert "£12.50" in money and "ledger entry #" in money
    for step in ("Proposed", "Opened for votes", "Vote cast", "Decided", "Funded"):
        assert f"<strong>{step}" in html, step
    assert "Good value" in html  # an open ballot shows who voted how
    assert community["steward"].email.split("@")[0].title() in html
    get(client, f"/pots/{pot_slug}/proposals/999999", 404)


def test_a_proposal_of_another_pot_is_not_found_here(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    pid = submit(db, pot_slug, community["amara"])
    from ledger import pots as ledger_pots

    with db.write() as session:
        ledger_pots.create_pot(session, f"{pot_slug}-b", name="Other", currency="EUR")
    assert "no proposal" in get(client, f"/pots/{pot_slug}-b/proposals/{pid}", 404)


def test_member_text_is_sanitised_and_escaped(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    pid = submit(
        db,
        pot_slug,
        community["amara"],
        title="<script>alert('t')</script>",
        summary="<script>alert('s')</script> [x](javascript:alert(1)) <img src=x onerror=y>",
        category="<b>c</b>",
    )
    for path in (f"/pots/{pot_slug}/proposals/{pid}", f"/pots/{pot_slug}/proposals"):
        html = get(client, path)
        assert "<script>" not in html and "<img" not in html and 'href="javascript' not in html
        assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in html
        assert "<b>c</b>" not in html


def test_a_secret_ballot_never_shows_who_voted_how(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    set_rules(db, pot_slug, community["steward"], ballot="secret")
    pid = submit(db, pot_slug, community["amara"])
    vote(db, app, pid, community["rhys"], "object", "Secret reason of Rhys")
    names = [community[k].email.split("@")[0].title() for k in ("rhys", "steward")]
    public = [
        get(client, f"/pots/{pot_slug}/proposals/{pid}"),
        get(client, f"/pots/{pot_slug}/proposals"),
        get(client, f"/pots/{pot_slug}/proposals.csv"),
        get(client, f"/pots/{pot_slug}/proposals.json"),
        get(client, f"/pots/{pot_slug}/feed.atom"),
    ]
    sign_in(client, community["sian"])  # another member sees no more
    public.append(get(client, f"/pots/{pot_slug}/proposals/{pid}"))
    for text in public:
        assert "Secret reason of Rhys" not in text
        assert not any(name in text for name in names)
    assert "secret ballot" in public[0] and "0 approve, 1 object, 0 abstain" in public[0]
    client.post("/sign-out", data={"csrf_token": token_in(get(client, "/"))})
    sign_in(client, community["rhys"])  # the voter sees their own vote, to change it
    own = get(client, f"/pots/{pot_slug}/proposals/{pid}")
    assert "Secret reason of Rhys" in own and "Change my vote" in own


def test_the_rules_page_says_the_rules_in_words_with_their_history(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    html = get(client, f"/pots/{pot_slug}/rules")
    assert "Stewards: approved when 1 steward approves" in html
    assert "have not chosen rules yet" in html
    set_rules(db, pot_slug, community["steward"], max_amount=80_000, ballot="secret")
    html = get(client, f"/pots/{pot_slug}/rules")
    assert "Threshold: approved as soon as 2 members approve, unless 2 object" in html
    assert "£800.00" in html and "72 hours (3 days)" in html
    assert "who voted how is visible to no one" in html
    assert 'id="rules-v2"' in html and 'id="rules-v1"' in html
    assert community["steward"].email.split("@")[0].title() in html


def test_the_downloads_hold_every_proposal(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    pid = submit(db, pot_slug, community["amara"], title="=HYPERLINK(evil)")
    vote(db, app, pid, community["steward"], "approve", "ok")
    response = client.get(f"/pots/{pot_slug}/proposals.csv")
    assert response.mimetype == "text/csv"
    assert f'filename="{pot_slug}-proposals.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1
    assert rows[0]["title"] == "'=HYPERLINK(evil)"  # never a formula
    assert (rows[0]["amount"], rows[0]["currency"], rows[0]["status"]) == ("12.50", "GBP", "funded")
    assert rows[0]["approvals"] == "1" and rows[0]["committed"] == "12.50"
    document = json.loads(get(client, f"/pots/{pot_slug}/proposals.json"))
    assert document["pot"] == pot_slug
    [item] = document["proposals"]
    assert item["amount"] == {"amount": 1250, "currency": "GBP"}
    assert item["decision"]["outcome"] == "approved" and "summary_html" not in item
    assert get(client, f"/pots/{pot_slug}/proposals.json?status=open").count('"id"') == 0
    assert client.get("/pots/no-such-pot/proposals.csv").status_code == 404


def test_the_feed_carries_decisions_and_the_overview_spending_by_category(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    pid = submit(db, pot_slug, community["amara"])
    vote(db, app, pid, community["steward"], "approve", "ok")
    feed = ET.fromstring(client.get(f"/pots/{pot_slug}/feed.atom").get_data())
    titles = [e.findtext(f"{ATOM}title") or "" for e in feed.iter(f"{ATOM}entry")]
    assert f"Proposal #{pid} (Venue for the spring meetup) funded: £12.50 set aside" in titles
    assert f"Proposal #{pid} (Venue for the spring meetup) approved" in titles
    assert "Contribution of £500.00: Test money" in titles
    html = get(client, f"/pots/{pot_slug}")
    spending = html[html.index('id="spending-heading"') :]
    assert re.search(
        r">events</a></th>\s*<td class=\"num\">£0.00</td>\s*<td class=\"num\">£12.50", spending
    )
    assert f'href="/pots/{pot_slug}/proposals"' in html and f'href="/pots/{pot_slug}/rules"' in html
    assert f'href="/pots/{pot_slug}/proposals.csv"' in html
    rounds_page = any(r.rule == "/pots/<slug>/rounds" for r in app.url_map.iter_rules())
    assert (f'href="/pots/{pot_slug}/rounds"' in html) == rounds_page  # once that page exists


# -- submitting ------------------------------------------------------------------------------

GOOD = {
    "title": "Bursaries for the gathering",
    "summary": "Travel for *small* organisations.",
    "amount": "120.50",
    "payee_name": "Glasgow Halls",
    "payee_oc_slug": "",
    "category": "events",
}


def test_submitting_a_proposal_opens_it_for_votes(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    new = f"/pots/{pot_slug}/proposals/new"
    assert client.get(new).status_code == 302  # to the sign-in page
    sign_in(client, community["amara"])
    response = post_form(client, new, new, GOOD)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    pid = int(response.headers["Location"].rsplit("/", 1)[1])
    with db.read() as session:
        made = proposals.get(session, pid)
        assert (made.amount, made.status, made.category) == (12_050, "open", "events")
    html = get(client, response.headers["Location"])
    assert "Your proposal is open for votes." in html and "£120.50" in html
    assert "You put this proposal forward" in html and "Withdraw this proposal" in html


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": ""}, "title", "Give the proposal a title."),
        ({"amount": "12.345"}, "amount", "has 3 decimal places but GBP has 2"),
        ({"amount": "lots"}, "amount", "is not a positive decimal amount"),
        ({"amount": "0"}, "amount", "must be greater than zero"),
        ({"payee_name": ""}, "payee_name", "Say who the money goes to."),
        ({"payee_oc_slug": "Not A Slug"}, "payee_oc_slug", "Lowercase letters, digits and hyphens"),
        ({"amount": "900.00"}, "amount", "over this pot&#39;s limit of 800.00 GBP"),
    ],
)
def test_each_mistake_is_shown_by_its_field_and_keeps_what_was_typed(
    client: FlaskClient,
    db: Database,
    pot_slug: str,
    community: dict[str, Person],
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    set_rules(db, pot_slug, community["steward"], max_amount=80_000)
    sign_in(client, community["amara"])
    new = f"/pots/{pot_slug}/proposals/new"
    typed = {**GOOD, **changes}
    response = post_form(client, new, new, typed)
    html = response.get_data(as_text=True)
    assert response.status_code in (400, 422), html[:1000]
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert found and message in found.group(1), html[:3000]
    assert 'aria-invalid="true"' in html
    for name, value in typed.items():
        if name == "summary":
            assert f">{value}</textarea>" in html.replace("\r\n", "")
        elif value:
            assert f'value="{value}"' in html.replace("&#39;", "'"), name
    with db.read() as session:
        assert proposals.list_proposals(session, get_pot(session, pot_slug)) == []


def test_too_many_open_proposals_is_said_on_the_form(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    set_rules(db, pot_slug, community["steward"], max_open_proposals_per_member=1)
    submit(db, pot_slug, community["amara"])
    sign_in(client, community["amara"])
    new = f"/pots/{pot_slug}/proposals/new"
    response = post_form(client, new, new, GOOD)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "You already have 1 open proposals" in html and 'value="Bursaries' in html


def test_only_members_may_propose(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    sign_in(client, person(db, None, None))
    html = get(client, f"/pots/{pot_slug}/proposals/new", 403)
    assert "only a member of this pot may do this" in html


# -- voting and withdrawing ------------------------------------------------------------------


def test_a_member_votes_with_a_reason_and_changes_the_vote(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    set_rules(db, pot_slug, community["steward"])
    pid = submit(db, pot_slug, community["amara"])
    page = f"/pots/{pot_slug}/proposals/{pid}"
    sign_in(client, community["rhys"])
    response = post_form(
        client, page, f"{page}/vote", {"choice": "object", "reason": "Venue too far"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#vote")
    html = get(client, page)
    assert "Your vote is recorded." in html
    assert "0 approve, 1 object, 0 abstain" in html and "Venue too far" in html
    assert re.search(r'<input checked[^>]*value="object">', html)  # the form shows my vote
    response = post_form(client, page, f"{page}/vote", {"choice": "approve", "reason": ""})
    assert response.status_code == 302
    html = get(client, page)
    assert "1 approve, 0 object, 0 abstain" in html and "Vote changed" in html


def test_a_vote_without_a_choice_keeps_the_reason(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    pid = submit(db, pot_slug, community["amara"])
    page = f"/pots/{pot_slug}/proposals/{pid}"
    sign_in(client, community["rhys"])
    response = post_form(client, page, f"{page}/vote", {"reason": "Thinking about it"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Choose approve, object or abstain." in html
    assert ">Thinking about it</textarea>" in html.replace("\r\n", "")


def test_a_non_member_cannot_vote_and_reads_why(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    pid = submit(db, pot_slug, community["amara"])
    page = f"/pots/{pot_slug}/proposals/{pid}"
    sign_in(client, person(db, None, None))
    assert "Only members of this pot vote" in get(client, page)
    response = post_form(client, page, f"{page}/vote", {"choice": "approve", "reason": "me"})
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Not allowed to vote: Only members of" in html and 'role="alert"' in html
    assert "0 approve, 0 object, 0 abstain" in html


def test_a_proposer_cannot_vote_on_their_own_proposal(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    pid = submit(db, pot_slug, community["amara"])
    page = f"/pots/{pot_slug}/proposals/{pid}"
    sign_in(client, community["amara"])
    response = post_form(client, page, f"{page}/vote", {"choice": "approve", "reason": ""})
    assert response.status_code == 403
    assert "Proposers cannot vote on their own proposal" in response.get_data(as_text=True)


def test_voting_after_the_decision_is_refused_readably(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    pid = submit(db, pot_slug, community["amara"])
    page = f"/pots/{pot_slug}/proposals/{pid}"
    sign_in(client, community["rhys"])
    token = token_in(get(client, page))  # the form was open when the page was read
    vote(db, app, pid, community["steward"], "approve", "ok")  # decides it
    response = client.post(
        f"{page}/vote", data={"csrf_token": token, "choice": "object", "reason": "late"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Voting is closed" in html and "votes are closed" in html


def test_the_proposer_withdraws_and_others_cannot(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    pid = submit(db, pot_slug, community["amara"])
    page = f"/pots/{pot_slug}/proposals/{pid}"
    sign_in(client, community["rhys"])
    response = post_form(client, page, f"{page}/withdraw", {})
    assert response.status_code == 403
    assert "Only its proposer can withdraw" in response.get_data(as_text=True)
    client.post("/sign-out", data={"csrf_token": token_in(get(client, "/"))})
    sign_in(client, community["amara"])
    response = post_form(client, page, f"{page}/withdraw", {})
    assert response.status_code == 302
    assert status_of(db, pid) == "withdrawn"
    assert "Your proposal is withdrawn." in get(client, page)


@pytest.mark.parametrize("action", ["vote", "withdraw", "new", "accept"])
def test_every_new_form_refuses_a_post_without_its_csrf_token(
    client: FlaskClient, db: Database, pot_slug: str, community: dict[str, Person], action: str
) -> None:
    pid = submit(db, pot_slug, community["amara"])
    sign_in(client, community["amara"] if action == "withdraw" else community["rhys"])
    path = {
        "vote": f"/pots/{pot_slug}/proposals/{pid}/vote",
        "withdraw": f"/pots/{pot_slug}/proposals/{pid}/withdraw",
        "new": f"/pots/{pot_slug}/proposals/new",
        "accept": "/invitations/accept",
    }[action]
    response = client.post(path, data={**GOOD, "choice": "approve", "token": "x" * 43})
    assert response.status_code == 400
    assert REFUSED in response.get_data(as_text=True)
    assert status_of(db, pid) == "open"
    with db.read() as session:
        assert len(proposals.list_proposals(session, get_pot(session, pot_slug))) == 1


# -- joining and my page ---------------------------------------------------------------------


def invite(db: Database, slug: str, email: str) -> str:
    with db.write() as session:
        return membership.invite(session, slug, email, "member", None).token


def test_accepting_an_invitation_makes_the_account_and_signs_in(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    token = invite(db, pot_slug, "newcomer@example.org")
    page = f"/invitations/accept?token={token}"
    assert "Make my account and join" in get(client, page)
    mismatch = post_form(
        client,
        page,
        "/invitations/accept",
        {"token": token, "name": "Nia Jones", "password": "long enough 1", "confirm": "other"},
    )
    html = mismatch.get_data(as_text=True)
    assert mismatch.status_code == 400
    assert "The two passwords are not the same." in html and 'value="Nia Jones"' in html
    short = post_form(
        client,
        page,
        "/invitations/accept",
        {"token": token, "name": "Nia Jones", "password": "short", "confirm": "short"},
    )
    assert "Use at least 10 characters." in short.get_data(as_text=True)
    joined = post_form(
        client,
        page,
        "/invitations/accept",
        {
            "token": token,
            "name": "Nia Jones",
            "password": "long enough 1",
            "confirm": "long enough 1",
        },
    )
    assert joined.status_code == 302 and joined.headers["Location"] == f"/pots/{pot_slug}"
    welcome = get(client, f"/pots/{pot_slug}")
    assert "Welcome to Test pot" in welcome or "Nia Jones" in welcome
    mine = get(client, "/me")
    assert "You are a member of this pot." in mine and "Nia Jones" in mine
    again = post_form(
        client, page, "/invitations/accept", {"token": token}
    )  # signed in now: the same token a second time
    assert again.status_code == 409 and "already been used" in again.get_data(as_text=True)


def test_an_existing_account_signs_in_first_then_joins(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    someone = person(db, None, None)
    token = invite(db, pot_slug, someone.email)
    page = f"/invitations/accept?token={token}"
    html = get(client, page)
    assert "Sign in first" in html
    refused = post_form(
        client,
        page,
        "/invitations/accept",
        {
            "token": token,
            "name": "X",
            "password": "not the password",
            "confirm": "not the password",
        },
    )
    assert refused.status_code == 409
    assert "already has an account: sign in" in refused.get_data(as_text=True)
    sign_in(client, someone)
    html = get(client, page)
    assert "Join the pot" in html
    joined = post_form(client, page, "/invitations/accept", {"token": token})
    assert joined.status_code == 302
    assert "You are a member of this pot." in get(client, "/me")


def test_a_bad_or_missing_token_is_explained(client: FlaskClient, db: Database) -> None:
    assert "no invitation token" in get(client, "/invitations/accept", 400)
    html = get(client, "/invitations/accept?token=nonsense")
    response = client.post(
        "/invitations/accept",
        data={
            "csrf_token": token_in(html),
            "token": "nonsense",
            "name": "A",
            "password": "long enough 1",
            "confirm": "long enough 1",
        },
    )
    assert response.status_code == 404
    assert "not one this service gave out" in response.get_data(as_text=True)


def test_my_page_lists_my_proposals_and_votes_even_secret_ones(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, community: dict[str, Person]
) -> None:
    assert client.get("/me").status_code == 302
    set_rules(db, pot_slug, community["steward"], ballot="secret")
    mine = submit(db, pot_slug, community["rhys"], title="Rhys's own idea")
    theirs = submit(db, pot_slug, community["amara"], title="Amara's idea")
    vote(db, app, theirs, community["rhys"], "abstain", "I am a researcher")
    sign_in(client, community["rhys"])
    html = get(client, "/me")
    assert f"#{mine} Rhys&#39;s own idea" in html
    votes = html[html.index("My votes") :]
    assert f"#{theirs} Amara&#39;s idea" in votes and "I am a researcher" in votes
    assert "abstain" in votes
    assert 'href="/me"' in html  # the "My proposals" link in the site's navigation
