"""Drafts in a real browser: a member saves a proposal as a draft, corrects it, names two
co-proposers and takes one off again, and opens it for votes, by keyboard; the pages pass axe.
Meanwhile the draft is seen by its proposer and co-proposer only: another member and the public
find nothing (404) and see it in no list, until it is opened."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import LiveSite
from test_web_journey import NEW_PASSWORD, accept_by_service, check_axe, invite, sign_in, tab_to

from ledger.db import Database
from ledger.governance import proposals
from ledger.people import accounts
from ledger.timestamps import utcnow

pytestmark = pytest.mark.browser


def new_member(site: LiveSite, first_name: str, tag: str) -> str:
    """A new member of the demo pot, invited and joined through the services; their email."""
    email = f"{first_name.lower()}-{tag}@example.org"
    accept_by_service(site, invite(site, email), f"{first_name} {tag}")
    return email


@contextmanager
def browsing_as(browser: Any, site: LiveSite, email: str | None) -> Iterator[Any]:
    """A browser of its own, signed in as ``email`` (the public for None)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    try:
        if email is not None:
            sign_in(tab, site, email, NEW_PASSWORD)
        yield tab
    finally:
        context.close()


def main_text(tab: Any) -> str:
    return str(tab.locator("main").inner_text())


def assert_not_seen(tab: Any, site: LiveSite, proposal_id: int, title: str) -> None:
    """``tab``'s reader finds the proposal nowhere: its pages are 404 and no list names it."""
    base = f"{site.url}/pots/{site.slug}/proposals"
    signed_in = tab.context.cookies() != []
    pages = [f"/{proposal_id}"]
    if signed_in:  # (the public is asked to sign in there first, whatever the number)
        pages += [f"/{proposal_id}/draft", f"/{proposal_id}/edit"]
    for path in pages:
        response = tab.goto(base + path)
        assert response is not None and response.status == 404, path
        assert title not in main_text(tab)
    for path in ("", "?status=withdrawn"):
        tab.goto(base + path)
        assert title not in main_text(tab)
    downloaded = tab.request.get(f"{base}.json").text()
    assert all(p["id"] != proposal_id for p in json.loads(downloaded)["proposals"])
    if signed_in:
        tab.goto(f"{site.url}/me")
        assert title not in main_text(tab)


def choose_by_keyboard(tab: Any, label: str, option: str) -> None:
    """Tab to the select labelled ``label`` and type the start of ``option`` (type-ahead)."""
    field_id = tab.get_by_label(label).get_attribute("id")
    tab_to(tab, f"e.id === {json.dumps(field_id)}")
    tab.keyboard.type(option)
    chosen = tab.get_by_label(label).evaluate("s => s.options[s.selectedIndex].text")
    assert chosen == option, chosen


def test_a_draft_gets_a_co_proposer_and_is_opened_by_keyboard(
    browser: Any, page: Any, live_site: LiveSite
) -> None:
    site = live_site
    tag = uuid.uuid4().hex[:6]
    nia, ola, sam = (new_member(site, name, tag) for name in ("Nia", "Ola", "Sam"))
    sign_in(page, site, nia, NEW_PASSWORD)

    # Saved as a draft, not opened.
    page.goto(f"{site.url}/pots/{site.slug}/proposals/new")
    title = f"Seed library {tag}"
    page.get_by_label("Title").fill(title)
    page.get_by_label("What is it for?").fill("Shelves and **envelopes** for swapping seeds.")
    page.get_by_label("Amount").fill("38.5")
    page.get_by_label("Who is paid").fill("Leeds Seed Swap")
    page.get_by_role("button", name="Save as draft").click()
    page.wait_for_url("**/draft")
    draft_url = page.url
    proposal_id = int(draft_url.split("/")[-2])
    detail_url = f"{site.url}/pots/{site.slug}/proposals/{proposal_id}"
    assert "Your draft is saved." in main_text(page) and "£38.50" in main_text(page)
    check_axe(page, "draft")

    # Edited: a mistake is said by its field and keeps what was typed; then corrected.
    page.get_by_role("link", name="Edit the draft").click()
    page.get_by_label("Amount").fill("forty")
    page.get_by_role("button", name="Save the draft").click()
    assert "not a positive decimal amount" in page.locator("#amount-error").inner_text()
    assert page.get_by_label("Title").input_value() == title
    assert page.get_by_label("Amount").input_value() == "forty"
    check_axe(page, "draft-edit-error")
    page.get_by_label("Amount").fill("40.00")
    page.get_by_role("button", name="Save the draft").click()
    page.wait_for_url(draft_url)
    assert "£40.00" in main_text(page)

    # Two co-proposers named by keyboard, then one taken off again.
    for email in (ola, sam):
        choose_by_keyboard(page, "Member", f"{email.split('-')[0].title()} {tag}")
        tab_to(page, "e.type === 'submit' && e.textContent.trim() === 'Add co-proposer'")
        page.keyboard.press("Enter")
        page.wait_for_url(draft_url + "#co-proposers")
        assert "The co-proposer is added." in main_text(page)
    co_proposers = page.locator("ul.co-proposers").inner_text()
    assert f"Ola {tag}" in co_proposers and f"Sam {tag}" in co_proposers
    tab_to(page, f"e.type === 'submit' && e.textContent.trim() === 'Remove Sam {tag}'")
    page.keyboard.press("Enter")
    page.wait_for_url(draft_url + "#co-proposers")
    assert f"Sam {tag}" not in page.locator("ul.co-proposers").inner_text()
    check_axe(page, "draft-co-proposers")

    # Ola, its co-proposer, finds it among her drafts; Sam (taken off) and the public do not.
    with browsing_as(browser, site, ola) as tab:
        tab.goto(f"{site.url}/me")
        tab.get_by_role("link", name=f"#{proposal_id} {title}").click()
        tab.wait_for_url(draft_url)
        text = main_text(tab)
        assert f"only Nia {tag} and its co-proposers can see it" in text
        assert tab.get_by_role("button", name="Take me off this draft").count() == 1
        assert tab.get_by_role("button", name="Open for votes").count() == 0
        check_axe(tab, "draft-as-co-proposer")
    for reader in (sam, None):
        with browsing_as(browser, site, reader) as tab:
            assert_not_seen(tab, site, proposal_id, title)

    # Opened for votes by keyboard: now anyone reads it, with its co-proposer's name.
    page.goto(draft_url)
    tab_to(page, "e.type === 'submit' && e.textContent.trim() === 'Open for votes'")
    page.keyboard.press("Enter")
    page.wait_for_url(detail_url)
    assert "Your proposal is open for votes." in main_text(page)
    check_axe(page, "draft-opened")
    with browsing_as(browser, site, None) as tab:
        tab.goto(detail_url)
        details = tab.locator("dl.details").first.inner_text()
        assert f"Nia {tag}" in details and f"Ola {tag}" in details
        assert "£40.00" in details and "open" in details
        tab.goto(f"{site.url}/pots/{site.slug}/proposals?status=open")
        assert title in main_text(tab)
    with browsing_as(browser, site, ola) as tab:  # a co-proposer does not vote on it
        tab.goto(detail_url)
        assert "You put this proposal forward, so you do not vote on it." in main_text(tab)


def test_drafts_stay_with_their_proposers(browser: Any, page: Any, live_site: LiveSite) -> None:
    """Another member and the public find neither a draft nor a withdrawn draft; its proposer
    finds both, their drafts listed on the proposals page and their own page (which pass axe)."""
    site = live_site
    tag = uuid.uuid4().hex[:6]
    nia, sam = new_member(site, "Nia", tag), new_member(site, "Sam", tag)
    titles = [f"Private idea {tag}", f"Dropped idea {tag}"]
    ids = [save_draft(site, nia, t) for t in titles]
    withdraw(site, nia, ids[1])

    sign_in(page, site, nia, NEW_PASSWORD)
    page.goto(f"{site.url}/pots/{site.slug}/proposals")
    drafts = page.locator("section", has=page.locator("#drafts-heading")).inner_text()
    assert titles[0] in drafts and titles[1] not in drafts  # withdrawn: no longer a draft
    check_axe(page, "proposals-with-my-drafts")
    page.goto(f"{site.url}/me")
    assert titles[0] in main_text(page)
    check_axe(page, "me-with-drafts")
    response = page.goto(f"{site.url}/pots/{site.slug}/proposals/{ids[1]}")
    assert response is not None and response.status == 200 and titles[1] in main_text(page)

    for reader in (sam, None):
        with browsing_as(browser, site, reader) as tab:
            for proposal_id, title in zip(ids, titles, strict=True):
                assert_not_seen(tab, site, proposal_id, title)


def save_draft(site: LiveSite, email: str, title: str) -> int:
    database = Database(site.database_url)
    try:
        with database.write() as session:
            user = accounts.find_user(session, email)
            assert user is not None
            terms = proposals.Draft(title=title, summary="Not yet.", amount=900, payee_name="Us")
            return proposals.submit(
                session, site.slug, terms, user_id=user.id, open_now=False, now=utcnow()
            ).id
    finally:
        database.dispose()


def withdraw(site: LiveSite, email: str, proposal_id: int) -> None:
    database = Database(site.database_url)
    try:
        with database.write() as session:
            user = accounts.find_user(session, email)
            assert user is not None
            proposals.withdraw(session, proposal_id, user_id=user.id, now=utcnow())
    finally:
        database.dispose()
