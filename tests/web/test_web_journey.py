"""The whole journey in a real browser: a steward invites two people, one joins in the browser
and proposes, the others approve it by keyboard only, and anyone can then see the allocation on
the public pages and check its entry's hash. Also: a failed form keeps what was typed, and the
member pages pass axe."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from conftest import SCREENSHOTS, LiveSite

from app.demo_community import DEMO_PASSWORD
from ledger.chain import CanonicalPosting, canonical_bytes, canonical_document, entry_hash
from ledger.db import Database
from ledger.people import accounts, membership

pytestmark = pytest.mark.browser
SERIOUS = ("serious", "critical")
NEW_PASSWORD = "a long new password"


def invite(site: LiveSite, email: str) -> str:
    """Priya, a steward of the demo pot, invites ``email`` (through the service: the
    stewards' pages are built separately)."""
    database = Database(site.database_url)
    try:
        with database.write() as session:
            priya = accounts.find_user(session, "priya@civic-practice.example")
            return membership.invite(session, site.slug, email, "member", priya).token
    finally:
        database.dispose()


def accept_by_service(site: LiveSite, token: str, name: str) -> None:
    database = Database(site.database_url)
    try:
        with database.write() as session:
            membership.accept(session, token, name=name, password=NEW_PASSWORD)
    finally:
        database.dispose()


def check_axe(page: Any, name: str) -> None:
    results = Axe().run(page)
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]
    assert not violations, (name, violations)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)


def sign_in(page: Any, site: LiveSite, email: str, password: str) -> None:
    page.goto(f"{site.url}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/")


def tab_to(page: Any, script: str, limit: int = 200) -> None:
    """Press Tab until the focused element matches ``script`` (a JS test of ``e``)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const e = document.activeElement; return !!({script}); }})()"):
            return
    raise AssertionError(f"never reached {script} by Tab")


def approve_by_keyboard(page: Any, site: LiveSite, proposal_url: str, reason: str) -> None:
    page.goto(proposal_url)
    tab_to(page, "e.type === 'radio' && e.value === 'approve'")
    page.keyboard.press("Space")
    tab_to(page, "e.name === 'reason'")
    page.keyboard.type(reason)
    tab_to(page, "e.type === 'submit' && e.closest('#vote')")
    page.keyboard.press("Enter")
    page.wait_for_url(proposal_url + "#vote")
    assert "Your vote is recorded." in page.locator("main").inner_text()


def test_invited_member_proposes_others_approve_and_anyone_can_verify(
    browser: Any, page: Any, live_site: LiveSite
) -> None:
    site = live_site
    tag = uuid.uuid4().hex[:6]
    nia_email, ola_email = f"nia-{tag}@example.org", f"ola-{tag}@example.org"
    nia_token, ola_token = invite(site, nia_email), invite(site, ola_email)
    accept_by_service(site, ola_token, f"Ola {tag}")  # the second joins before the vote opens

    # Nia accepts in the browser: her account is made and she is signed in.
    page.goto(f"{site.url}/invitations/accept?token={nia_token}")
    check_axe(page, "invitation-new-account")
    page.get_by_label("Your name").fill(f"Nia {tag}")
    page.get_by_label("Choose a password").fill(NEW_PASSWORD)
    page.get_by_label("The same password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Make my account and join").click()
    page.wait_for_url(f"{site.url}/pots/{site.slug}")
    assert "You are a member now." in page.locator("main").inner_text()

    # A mistake: everything typed stays, and the message is next to the amount.
    page.goto(f"{site.url}/pots/{site.slug}/proposals/new")
    check_axe(page, "proposal-new")
    title = f"Community lunch {tag}"
    page.get_by_label("Title").fill(title)
    page.get_by_label("What is it for?").fill("Food for **forty** people at the gathering.")
    page.get_by_label("Amount").fill("45.678")
    page.get_by_label("Who is paid").fill("Leeds Community Kitchen")
    page.get_by_label("Category (optional)").fill("events")
    page.get_by_role("button", name="Open for votes").click()
    error = page.locator("#amount-error")
    assert "3 decimal places but GBP has 2" in error.inner_text()
    assert page.get_by_label("Title").input_value() == title
    assert page.get_by_label("Amount").input_value() == "45.678"
    assert page.get_by_label("Who is paid").input_value() == "Leeds Community Kitchen"
    assert "forty" in page.get_by_label("What is it for?").input_value()
    check_axe(page, "proposal-new-error")
    page.get_by_label("Amount").fill("45.60")
    page.get_by_role("button", name="Open for votes").click()
    page.wait_for_url(f"{site.url}/pots/{site.slug}/proposals/*")
    proposal_url = page.url
    proposal_id = int(proposal_url.rsplit("/", 1)[1])
    assert "Your proposal is open for votes." in page.locator("main").inner_text()
    page.get_by_role("link", name="My proposals").click()
    assert title in page.locator("main").inner_text()
    check_axe(page, "me")

    # The demo's rule: approved as soon as 3 members approve. Ola and two others, by keyboard.
    for email, password in (
        (ola_email, NEW_PASSWORD),
        ("rhys@civic-practice.example", DEMO_PASSWORD),
        ("dev@civic-practice.example", DEMO_PASSWORD),
    ):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        voter = context.new_page()
        try:
            sign_in(voter, site, email, password)
            if email == ola_email:
                voter.goto(proposal_url)
                check_axe(voter, "proposal-vote-form")
            approve_by_keyboard(voter, site, proposal_url, f"Yes from {email.split('@')[0]}")
        finally:
            context.close()

    # Anyone: the proposal is funded, the overview shows the commitment, the ledger the entry.
    public = browser.new_context(viewport={"width": 1280, "height": 900})
    anyone = public.new_page()
    try:
        anyone.goto(proposal_url)
        main = anyone.locator("main").inner_text()
        assert "Decision: approved" in main and "3 approve, 0 object, 0 abstain" in main
        assert "Yes from rhys" in main
        anyone.goto(f"{site.url}/pots/{site.slug}")
        commitments = anyone.locator("table", has_text="Commitments not yet paid").inner_text()
        assert f"proposal:{proposal_id}" in commitments and "£45.60" in commitments
        anyone.goto(proposal_url)
        anyone.get_by_role("link", name="ledger entry #").first.click()
        anyone.wait_for_url(f"{site.url}/pots/{site.slug}/ledger/*")
        seq = int(anyone.url.rsplit("/", 1)[1])
        entry_page = anyone.locator("main").inner_text()
        assert "allocation" in entry_page and "£45.60" in entry_page
        shown = anyone.locator("dl.hashes code.hash").all_inner_texts()
        export = anyone.request.get(f"{site.url}/pots/{site.slug}/ledger.jsonl").text()
        records = [json.loads(line) for line in export.splitlines() if line]
        record = next(r for r in records if r["seq"] == seq)
        document = canonical_document(
            pot=record["pot"],
            seq=record["seq"],
            recorded_at=record["time"],
            kind=record["kind"],
            memo=record["memo"],
            actor=record["actor"],
            external_ref=record["external_ref"],
            reverses=record["reverses"],
            data=record["data"],
            postings=[CanonicalPosting(**p) for p in record["postings"]],
            prev_hash=record["prev_hash"],
        )
        recomputed = entry_hash(canonical_bytes(document))
        assert shown == [record["prev_hash"], recomputed]  # the page's hashes, recomputed
        assert record["data"]["proposal"] == proposal_id
        previous = next(r for r in records if r["seq"] == seq - 1)
        assert previous["hash"] == record["prev_hash"]  # and chained to the entry before it
    finally:
        public.close()
