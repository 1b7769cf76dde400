"""The public site in a real browser (Debian's Chromium driven by Playwright): accessibility
(axe-core), keyboard reachability, narrow screens, the CSP holding, and screenshots."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from conftest import SCREENSHOTS, LiveSite

pytestmark = pytest.mark.browser

PAGES = {
    "index": "/",
    "overview": "/pots/{slug}",
    "ledger": "/pots/{slug}/ledger",
    "ledger-filtered": "/pots/{slug}/ledger?kind=payout&since=2026-02-01",
    "ledger-bad-filter": "/pots/{slug}/ledger?since=yesterday&kind=bribe",
    "entry": "/pots/{slug}/ledger/5",
    "preferences": "/preferences",
    "not-found": "/pots/no-such-pot",
    "reconciliation": "/pots/{slug}/opencollective",
    "proposals": "/pots/{slug}/proposals",
    "proposals-filtered": "/pots/{slug}/proposals?status=paid&category=publications",
    "proposals-bad-filter": "/pots/{slug}/proposals?status=bribed",
    "proposal": "/pots/{slug}/proposals/1",
    "proposal-rejected": "/pots/{slug}/proposals/3",
    "rules": "/pots/{slug}/rules",
    "invitation": "/invitations/accept?token=an-unknown-token",
}
SERIOUS = ("serious", "critical")


def open_page(page: Any, site: LiveSite, path: str) -> None:
    response = page.goto(site.url + path.format(slug=site.slug))
    assert response is not None and response.status < 500


@pytest.mark.parametrize("name", PAGES)
def test_each_page_is_accessible_and_fits_a_phone(
    page: Any, live_site: LiveSite, name: str
) -> None:
    """axe-core finds nothing serious or critical; at 320 CSS pixels nothing makes the page
    scroll sideways (tables scroll inside their own region). Screenshots at 1280 and 320."""
    open_page(page, live_site, PAGES[name])
    page.locator("details").evaluate_all("all => all.forEach(d => d.open = true)")
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


def focusable_count(page: Any) -> int:
    return int(
        page.evaluate(
            """() => [...document.querySelectorAll(
                 'a[href], button, input:not([type=hidden]), select, textarea, [tabindex="0"]')]
               .filter(e => e.getClientRects().length
                            && !e.closest('details:not([open])')).length"""
        )
    )


@pytest.mark.parametrize(
    "name", ["index", "overview", "ledger", "entry", "preferences", "proposals", "proposal"]
)
def test_everything_is_reachable_by_keyboard(page: Any, live_site: LiveSite, name: str) -> None:
    open_page(page, live_site, PAGES[name])
    expected = focusable_count(page)
    outlined: dict[str, bool] = {}  # element -> focus outline visible when it got focus
    # Date inputs take one Tab per part (day, month, year): allow for more presses than stops.
    for _ in range(3 * expected + 10):
        page.keyboard.press("Tab")
        marker = page.evaluate(
            """() => { const e = document.activeElement;
                 if (!e || e === document.body) return null;
                 e.dataset.tabbed = e.dataset.tabbed || String(Math.random());
                 return [e.dataset.tabbed, getComputedStyle(e).outlineStyle !== 'none']; }"""
        )
        if marker is None:  # past the last element, focus left the page
            break
        # (A date input's own calendar button, its last stop, draws its own focus ring.)
        outlined.setdefault(marker[0], marker[1])
    assert len(outlined) >= expected, f"{len(outlined)} of {expected} focusable elements reached"
    assert all(outlined.values()), "an element has no visible focus outline"


def test_the_skip_link_is_first_and_moves_to_the_main_content(
    page: Any, live_site: LiveSite
) -> None:
    open_page(page, live_site, PAGES["overview"])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_filtering_the_ledger_with_the_keyboard(page: Any, live_site: LiveSite) -> None:
    open_page(page, live_site, PAGES["ledger"])
    page.get_by_label("Kind").select_option("payout")
    page.keyboard.press("Tab")  # From
    page.keyboard.press("Shift+Tab")
    page.get_by_role("button", name="Show entries").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/ledger?kind=payout**")
    rows = page.locator("table.entries tbody tr")
    assert rows.count() == payouts_in(live_site)
    assert all("payout" in text for text in rows.all_inner_texts())


def payouts_in(site: LiveSite) -> int:
    from sqlalchemy import func, select

    from ledger.db import Database
    from ledger.models import Entry

    database = Database(site.database_url)
    try:
        with database.read() as session:
            return int(session.scalar(select(func.count()).where(Entry.kind == "payout")) or 0)
    finally:
        database.dispose()


def test_choosing_a_time_zone_survives_the_csrf_check(page: Any, live_site: LiveSite) -> None:
    """The form's CSRF token, the Secure session cookie over http://127.0.0.1 and the redirect."""
    open_page(page, live_site, PAGES["entry"])
    page.get_by_role("link", name="Times in UTC").click()
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/ledger/5")
    assert "Asia/Tokyo" in page.locator("main time").first.inner_text()


def test_the_chart_is_drawn_and_loads_nothing_else(page: Any, live_site: LiveSite) -> None:
    open_page(page, live_site, PAGES["overview"])
    chart = page.locator("figure.chart img")
    chart.wait_for()
    assert chart.evaluate("img => img.complete && img.naturalWidth") == 880


def test_swagger_ui_works_under_its_policy(page: Any, live_site: LiveSite) -> None:
    open_page(page, live_site, "/api/v1/docs")
    page.get_by_text("Commonpot API").first.wait_for(timeout=15_000)
    assert page.locator(".opblock").count() > 3
