"""The treasurer's pages: recording money, paying and closing funded proposals, resolving
reconciliation items; on both databases through the test client, and in a real browser (with the
stewards' invitation and rules editor) for keyboard use, axe-core and screenshots."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import SCREENSHOTS, LiveSite
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from test_oc_reconcile import oc_sum
from test_oc_sync import (  # noqa: F401 (fixtures)
    CLEAN_SEED,
    collective,
    linked,
    oc_client,
    oc_row,
)

from community import PASSWORD, fund, person
from integrations.opencollective import OpenCollectiveClient
from integrations.opencollective.sync import sync_pot
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.governance import proposals
from ledger.governance.models import Proposal
from ledger.models import Entry
from tests.oc_fake import FakeOpenCollective, FakeServer

pytest_plugins = ["tests.oc_fake.plugin"]


# --- helpers ---------------------------------------------------------------------------------


def token_of(html: str, name: str = "csrf_token") -> str:
    found = re.search(rf'name="{re.escape(name)}" (?:type="hidden" )?value="([^"]+)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


def sign_in(client: FlaskClient, email: str) -> None:
    page = client.get("/sign-in").get_data(as_text=True)
    response = client.post(
        "/sign-in", data={"csrf_token": token_of(page), "email": email, "password": PASSWORD}
    )
    assert response.status_code == 302


def signed_in_as(app: Flask, db: Database, slug: str, role: str | None) -> FlaskClient:
    client = app.test_client()
    sign_in(client, person(db, slug if role else None, role).email)
    return client


def entries(db: Database, slug: str) -> list[Entry]:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        return list(
            session.scalars(select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq))
        )


def record_form(client: FlaskClient, slug: str, **fields: str) -> dict[str, str]:
    page = client.get(f"/pots/{slug}/treasury").get_data(as_text=True)
    data = {
        "csrf_token": token_of(page),
        "token": token_of(page, "token"),
        "kind": "contribution",
        "direction": "increase",
        "amount": "250.00",
        "memo": "Grant from the Lankelly Foundation",
        "external_ref": "",
    }
    return data | fields


def funded_proposal(db: Database, slug: str, amount: int) -> int:
    """A proposal approved by a steward (the default rules) and funded from the pot's money."""
    proposer = person(db, slug, "member")
    steward = person(db, slug, "steward")
    now = datetime.now(UTC)
    with db.write() as session:
        draft = proposals.Draft(
            title="Venue for the spring gathering",
            summary="A hall.",
            amount=amount,
            payee_name="Hall",
        )
        proposal = proposals.submit(
            session, slug, draft, user_id=proposer.id, open_now=True, now=now
        )
        proposals.vote(
            session,
            proposal.id,
            user_id=steward.id,
            choice="approve",
            reason="",
            ballot_key=b"k" * 32,
            now=now,
        )
        assert proposal.status == "funded", proposal.status
        return proposal.id


@pytest.fixture
def treasurer(app: Flask, db: Database, pot_slug: str) -> FlaskClient:
    return signed_in_as(app, db, pot_slug, "treasurer")


# --- recording money -------------------------------------------------------------------------


def test_a_treasurer_records_a_contribution(
    treasurer: FlaskClient, db: Database, pot_slug: str
) -> None:
    page = treasurer.get(f"/pots/{pot_slug}/treasury")
    assert page.status_code == 200 and "Record money in or out" in page.text
    response = treasurer.post(
        f"/pots/{pot_slug}/treasury/entries", data=record_form(treasurer, pot_slug)
    )
    assert response.status_code == 302
    assert "Recorded as entry #1." in treasurer.get(response.headers["Location"]).text
    [entry] = entries(db, pot_slug)
    assert (entry.kind, entry.memo) == ("contribution", "Grant from the Lankelly Foundation")
    assert entry.actor.startswith("user:") and entry.idempotency_key.startswith("web:")
    with db.read() as session:
        assert (
            ledger_pots.summarise(session, ledger_pots.get_pot(session, pot_slug)).available
            == 25_000
        )


def test_an_adjustment_takes_its_direction(
    treasurer: FlaskClient, db: Database, pot_slug: str
) -> None:
    fund(db, pot_slug, 1_000)
    data = record_form(
        treasurer,
        pot_slug,
        kind="adjustment",
        direction="decrease",
        amount="0.40",
        memo="Bank rounding",
        external_ref="bank-0412",
    )
    assert treasurer.post(f"/pots/{pot_slug}/treasury/entries", data=data).status_code == 302
    with db.read() as session:
        assert (
            ledger_pots.summarise(session, ledger_pots.get_pot(session, pot_slug)).available == 960
        )
    assert entries(db, pot_slug)[-1].external_ref == "bank-0412"


def test_a_form_sent_twice_records_once(
    treasurer: FlaskClient, db: Database, pot_slug: str
) -> None:
    data = record_form(treasurer, pot_slug)
    first = treasurer.post(f"/pots/{pot_slug}/treasury/entries", data=data)
    second = treasurer.post(f"/pots/{pot_slug}/treasury/entries", data=data)
    assert first.status_code == second.status_code == 302
    assert "it was recorded once, as entry #1" in treasurer.get(second.headers["Location"]).text
    assert len(entries(db, pot_slug)) == 1
    # A fresh page is a fresh form: it records again.
    again = treasurer.post(
        f"/pots/{pot_slug}/treasury/entries", data=record_form(treasurer, pot_slug)
    )
    assert again.status_code == 302 and len(entries(db, pot_slug)) == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "12.345"}, "has 3 decimal places but GBP has 2"),
        ({"amount": "-5"}, "is not a positive decimal amount"),
        ({"amount": "0"}, "Amount must be greater than zero"),
        ({"memo": ""}, "Say what it was."),
        ({"kind": "allocation"}, "Not a valid choice"),
    ],
)
def test_a_refused_record_form_keeps_what_was_typed(
    treasurer: FlaskClient, db: Database, pot_slug: str, fields: dict[str, str], message: str
) -> None:
    data = record_form(treasurer, pot_slug, external_ref="ref-kept-77", **fields)
    response = treasurer.post(f"/pots/{pot_slug}/treasury/entries", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and "Please correct" in html and 'aria-invalid="true"' in html
    assert 'value="ref-kept-77"' in html and f'value="{data["token"]}"' in html
    assert entries(db, pot_slug) == []


def test_a_refund_larger_than_the_pot_is_refused_with_the_ledgers_message(
    treasurer: FlaskClient, db: Database, pot_slug: str
) -> None:
    fund(db, pot_slug, 1_000)
    data = record_form(treasurer, pot_slug, kind="refund", amount="20.00", memo="Refund to Ann")
    response = treasurer.post(f"/pots/{pot_slug}/treasury/entries", data=data)
    assert 400 <= response.status_code < 500
    assert "Nothing was changed." in response.text and 'value="Refund to Ann"' in response.text
    assert len(entries(db, pot_slug)) == 1


# --- funded proposals ------------------------------------------------------------------------


def test_a_funded_proposal_is_paid_in_part_then_closed(
    treasurer: FlaskClient, db: Database, pot_slug: str
) -> None:
    fund(db, pot_slug, 100_000)
    proposal_id = funded_proposal(db, pot_slug, 50_000)
    page = treasurer.get(f"/pots/{pot_slug}/treasury").text
    assert f"#{proposal_id} Venue for the spring gathering: 500.00 left" in page

    def payout(amount: str, token: str | None = None) -> Any:
        html = treasurer.get(f"/pots/{pot_slug}/treasury").text
        data = {
            "payout-csrf_token": token_of(html, "payout-csrf_token"),
            "payout-token": token or token_of(html, "payout-token"),
            "payout-proposal": str(proposal_id),
            "payout-amount": amount,
            "payout-memo": "",
        }
        return treasurer.post(f"/pots/{pot_slug}/treasury/payouts", data=data), data

    too_much, data = payout("600.00")
    assert too_much.status_code == 409
    assert "has 500.00 GBP left of its commitment" in too_much.text
    assert 'value="600.00"' in too_much.text  # kept
    done, data = payout("200.00")
    assert done.status_code == 302
    assert "now partly paid" in treasurer.get(done.headers["Location"]).text
    again = treasurer.post(f"/pots/{pot_slug}/treasury/payouts", data=data)  # sent twice
    assert again.status_code == 302
    with db.read() as session:
        proposal = session.get(Proposal, proposal_id)
        assert proposal is not None and proposal.paid_amount == 20_000

    html = treasurer.get(f"/pots/{pot_slug}/treasury").text
    closed = treasurer.post(
        f"/pots/{pot_slug}/treasury/proposals/{proposal_id}/close",
        data={"csrf_token": token_of(html)},
    )
    assert closed.status_code == 302
    assert "is closed" in treasurer.get(closed.headers["Location"]).text
    with db.read() as session:
        proposal = session.get(Proposal, proposal_id)
        assert proposal is not None and proposal.status == "closed"
        summary = ledger_pots.summarise(session, ledger_pots.get_pot(session, pot_slug))
        assert (summary.available, summary.committed) == (80_000, 0)
    twice = treasurer.post(
        f"/pots/{pot_slug}/treasury/proposals/{proposal_id}/close",
        data={"csrf_token": token_of(html)},
    )
    assert twice.status_code == 409 and "only funded ones close" in twice.text


def test_another_pots_proposal_is_not_this_treasurers(
    app: Flask, db: Database, pot_slug: str, treasurer: FlaskClient
) -> None:
    other = f"{pot_slug}-other"
    with db.write() as session:
        ledger_pots.create_pot(session, other, name="Other pot", currency="GBP")
    fund(db, other, 10_000)
    theirs = funded_proposal(db, other, 5_000)
    html = treasurer.get(f"/pots/{pot_slug}/treasury").text
    response = treasurer.post(
        f"/pots/{pot_slug}/treasury/proposals/{theirs}/close", data={"csrf_token": token_of(html)}
    )
    assert response.status_code == 404 and "has no proposal" in response.text
    with db.read() as session:
        assert session.get(Proposal, theirs).status == "funded"  # type: ignore[union-attr]


# --- who may, and CSRF -----------------------------------------------------------------------


def test_the_public_is_sent_to_sign_in_and_other_roles_are_refused(
    app: Flask, db: Database, pot_slug: str, client: FlaskClient
) -> None:
    response = client.get(f"/pots/{pot_slug}/treasury")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert client.post(f"/pots/{pot_slug}/treasury/entries").status_code in (302, 400)
    for role in ("member", "steward", None):
        other = signed_in_as(app, db, pot_slug, role)
        refused = other.get(f"/pots/{pot_slug}/treasury")
        assert refused.status_code == 403, role
        assert "only a treasurer of this pot may do this" in refused.text
        assert 'href="/assets/site.css"' in refused.text  # a page, not JSON
        data = record_form(signed_in_as(app, db, pot_slug, "treasurer"), pot_slug)
        assert other.post(f"/pots/{pot_slug}/treasury/entries", data=data).status_code in (
            400,  # their session has another CSRF token
            403,
        )
    assert entries(db, pot_slug) == []


def test_every_treasurer_form_needs_its_csrf_token(
    treasurer: FlaskClient, db: Database, pot_slug: str
) -> None:
    fund(db, pot_slug, 10_000)
    proposal_id = funded_proposal(db, pot_slug, 5_000)
    posts = {
        f"/pots/{pot_slug}/treasury/entries": {
            k: v for k, v in record_form(treasurer, pot_slug).items() if k != "csrf_token"
        },
        f"/pots/{pot_slug}/treasury/payouts": {
            "payout-token": "x",
            "payout-proposal": str(proposal_id),
            "payout-amount": "1.00",
        },
        f"/pots/{pot_slug}/treasury/proposals/{proposal_id}/close": {},
        f"/pots/{pot_slug}/opencollective/resolutions": {
            "item": "balance",
            "action": "adjust",
            "reason": "x",
        },
    }
    for path, data in posts.items():
        response = treasurer.post(path, data=data)
        assert response.status_code == 400, path
        assert "This form could not be accepted" in response.text, path
    assert len(entries(db, pot_slug)) == 2  # the money and its allocation, nothing more


# --- reconciliation --------------------------------------------------------------------------


@pytest.fixture
def synced(
    db: Database,
    linked: str,  # noqa: F811
    collective: str,  # noqa: F811
    oc_fake: FakeOpenCollective,
    oc_client: OpenCollectiveClient,  # noqa: F811
) -> str:
    oc_fake.generate_transactions(collective, 20, seed=CLEAN_SEED)
    sync_pot(db, linked, oc_client, page_size=30)
    return linked


@pytest.fixture
def app_with_oc(app: Flask, oc_server: FakeServer, oc_fake: FakeOpenCollective) -> Flask:
    app.config.update(OPENCOLLECTIVE_API_URL=oc_server.url, OPENCOLLECTIVE_TOKEN=oc_fake.token)
    return app


def test_a_treasurer_resolves_reconciliation_items_from_the_page(
    app_with_oc: Flask,
    db: Database,
    synced: str,
    collective: str,  # noqa: F811
    oc_fake: FakeOpenCollective,
) -> None:
    added = oc_row(oc_fake, collective, kind="ADDED_FUNDS", cents=1_234)
    oc_fake.add_transactions(collective, [added])
    oc_fake.set_balance(collective, oc_sum(oc_fake, collective) + 77)
    key = f"oc:{added['id']}"

    public = app_with_oc.test_client().get(f"/pots/{synced}/opencollective")
    assert public.status_code == 200 and key in public.text and "Import it" in public.text
    assert "<form" not in public.text.split("<main", 1)[1]  # the public reads, never resolves

    treasurer = signed_in_as(app_with_oc, db, synced, "treasurer")
    page = treasurer.get(f"/pots/{synced}/opencollective").text
    assert "Last synced" in page and "Last error" in page
    before = len(entries(db, synced))

    refused = treasurer.post(
        f"/pots/{synced}/opencollective/resolutions",
        data={
            "csrf_token": token_of(page),
            "item": "balance",
            "action": "adjust",
            "reason": " ",
            "amount": "0.777",
        },
    )
    assert refused.status_code == 400 and "Say why you adjust it" in refused.text
    bad_amount = treasurer.post(
        f"/pots/{synced}/opencollective/resolutions",
        data={
            "csrf_token": token_of(page),
            "item": "balance",
            "action": "adjust",
            "reason": "Host rounding",
            "amount": "0.777",
        },
    )
    assert bad_amount.status_code == 400 and "has 3 decimal places" in bad_amount.text
    assert ">Host rounding</textarea>" in bad_amount.text  # kept

    imported = treasurer.post(
        f"/pots/{synced}/opencollective/resolutions",
        data={"csrf_token": token_of(page), "item": key, "action": "import"},
    )
    assert imported.status_code == 302
    assert (
        f"{key} was imported as entry #{before + 1}"
        in treasurer.get(imported.headers["Location"]).text
    )
    adjusted = treasurer.post(
        f"/pots/{synced}/opencollective/resolutions",
        data={
            "csrf_token": token_of(page),
            "item": "balance",
            "action": "adjust",
            "reason": "Host rounding",
        },
    )
    assert adjusted.status_code == 302
    final = treasurer.get(adjusted.headers["Location"]).text
    assert "balance was adjusted by 0.77 GBP" in final and "Everything matches." in final
    nothing = treasurer.post(
        f"/pots/{synced}/opencollective/resolutions",
        data={
            "csrf_token": token_of(page),
            "item": "balance",
            "action": "adjust",
            "reason": "Again",
        },
    )
    assert nothing.status_code == 409 and "Nothing to resolve" in nothing.text
    assert len(entries(db, synced)) == before + 2

    member = signed_in_as(app_with_oc, db, synced, "member")
    html = member.get(f"/pots/{synced}/opencollective").text
    forbidden = member.post(
        f"/pots/{synced}/opencollective/resolutions",
        data={"csrf_token": token_of(html), "item": "balance", "action": "adjust", "reason": "x"},
    )
    assert forbidden.status_code == 403


# --- in a real browser -----------------------------------------------------------------------

SERIOUS = ("serious", "critical")
DEMO_PASSWORD = "commonpot-demo-2026"
TREASURER = "tom@civic-practice.example"
STEWARD = "priya@civic-practice.example"


def browser_sign_in(page: Any, site: LiveSite, email: str, then: str) -> None:
    page.goto(f"{site.url}/sign-in?next={then}")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{site.url}{then}")


def check_accessible(page: Any, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]
    assert not violations, violations
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    page.set_viewport_size({"width": 320, "height": 800})
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than a 320px screen"
    page.set_viewport_size({"width": 1280, "height": 900})


def tab_to(page: Any, selector: str, presses: int = 80) -> None:
    """Press Tab until ``selector`` has the focus (keyboard only, like a person would)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => document.activeElement?.matches({selector!r}) ?? false"):
            return
    raise AssertionError(f"{selector} never got the focus by Tab")


@pytest.mark.browser
def test_a_treasurer_records_a_contribution_by_keyboard(page: Any, live_site: LiveSite) -> None:
    treasury = f"/pots/{live_site.slug}/treasury"
    browser_sign_in(page, live_site, TREASURER, treasury)
    check_accessible(page, "treasury")
    tab_to(page, "#kind")
    page.keyboard.press("Tab")  # the direction (only for adjustments): left as it is
    tab_to(page, "#amount")
    page.keyboard.type("12.50")
    page.keyboard.press("Tab")
    page.keyboard.type("Raffle at the winter meet-up")
    page.keyboard.press("Tab")
    page.keyboard.type("raffle-2026")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_site.url}{treasury}")
    assert "Recorded as entry #" in page.inner_text("[role=status]")
    # A refused form, by keyboard too: the message is next to the field, what was typed stays.
    tab_to(page, "#amount")
    page.keyboard.type("12.505")
    page.keyboard.press("Tab")
    page.keyboard.type("Too precise")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert "has 3 decimal places" in page.inner_text("#amount-error")
    assert page.input_value("#memo") == "Too precise"
    check_accessible(page, "treasury-error")


@pytest.mark.browser
def test_a_steward_invites_someone_and_changes_the_rules(page: Any, live_site: LiveSite) -> None:
    members = f"/pots/{live_site.slug}/members"
    browser_sign_in(page, live_site, STEWARD, members)
    check_accessible(page, "members")
    tab_to(page, "#email")
    page.keyboard.type("newcomer@civic-practice.example")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    link = page.input_value("#invitation-link")
    assert "/invitations/accept?token=cpi_" in link
    check_accessible(page, "invitation-made")
    page.goto(live_site.url + members)
    assert "newcomer@civic-practice.example" in page.inner_text("main")
    assert "cpi_" not in page.content()  # shown once, never again

    edit = f"/pots/{live_site.slug}/rules/edit"
    page.goto(live_site.url + edit)
    check_accessible(page, "rules-edit")
    page.check("#kind-1")  # threshold
    page.fill("#threshold_approvals_needed", "3")
    page.fill("#threshold_objections_to_reject", "")
    page.fill("#max_amount", "1500.00")
    page.click("text=Save as a new version")
    page.wait_for_load_state()
    assert "Objections that reject it" in page.inner_text(".error-summary")
    assert page.input_value("#max_amount") == "1500.00"  # nothing typed is lost
    check_accessible(page, "rules-edit-error")
    page.fill("#threshold_objections_to_reject", "2")
    page.click("text=Save as a new version")
    page.wait_for_url(f"{live_site.url}{edit}")
    assert re.search(
        r"Saved: version \d+ of the rules is in force", page.inner_text("[role=status]")
    )
