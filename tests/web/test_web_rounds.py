"""The rounds pages through Flask's test client, on SQLite and PostgreSQL: the list, a round
while it is voting (no running tally), and a counted, funded round with its explanation in
words; never who approved what."""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from conftest import LiveSite
from flask.testing import FlaskClient
from test_rounds_services import (
    FUNDED,
    PROPOSALS,
    START,
    VOTING,
    advance,
    new_round,
    propose,
    review,
    verified,
    vote,
)

import app.web.rounds as rounds_pages
from app import create_app, migrate
from app.demo import DEMO_SLUG, load_demo
from app.demo_community import load_community
from app.demo_rounds import load_rounds
from community import Person, fund, person
from helpers import dispose_app
from ledger import pots as ledger_pots
from ledger.db import Database


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = START
        monkeypatch.setattr(rounds_pages, "utcnow", lambda: self.now)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def text_of(html: str) -> str:
    """The page's words, tags removed and whitespace squeezed."""
    words = re.sub(r"<[^>]+>", " ", html).replace("&#34;", '"').replace("&#39;", "'")
    return re.sub(r"\s+", " ", words)


class VillageHall:
    """The worked example of docs/participatory-budgeting.md: £120, four voters, Equal Shares."""

    def __init__(self, db: Database, slug: str) -> None:
        joined = START.replace(month=2)
        self.steward = person(db, slug, "steward", joined_at=joined)
        self.ana, self.bo, self.cy, self.dee = (
            person(db, slug, "member", joined_at=joined) for _ in range(4)
        )
        fund(db, slug, 50_000)
        self.round_id = new_round(db, slug, self.steward, budget=12_000)
        self.fridge = propose(db, self.round_id, self.ana, "Community fridge", 6_000)
        self.tools = propose(db, self.round_id, self.cy, "Tool library", 4_000)
        self.mural = propose(db, self.round_id, self.dee, "Mural", 5_000)
        self.seeds = propose(db, self.round_id, self.bo, "Seed swap", 2_500)
        self.casino = propose(db, self.round_id, self.bo, "Casino night", 1_000)
        for project in (self.fridge, self.tools, self.mural, self.seeds):
            review(db, self.round_id, self.steward, project)
        review(
            db,
            self.round_id,
            self.steward,
            self.casino,
            eligible=False,
            reason="Gambling is outside the pot's purpose",
        )

    def voters(self) -> list[Person]:
        return [self.ana, self.bo, self.cy, self.dee]

    def vote(self, db: Database) -> None:
        vote(db, self.round_id, self.ana, [self.fridge, self.seeds])
        vote(db, self.round_id, self.bo, [self.fridge, self.seeds])
        vote(db, self.round_id, self.cy, [self.fridge, self.tools])
        vote(db, self.round_id, self.dee, [self.tools, self.mural])


@pytest.fixture
def hall(db: Database, pot_slug: str) -> VillageHall:
    return VillageHall(db, pot_slug)


def at(clock: Clock, offset: timedelta) -> None:
    clock.now = START + offset


def test_the_list_shows_each_round_with_its_phase_and_budget(
    client: FlaskClient, pot_slug: str, hall: VillageHall, clock: Clock
) -> None:
    at(clock, VOTING)
    html = page(client, f"/pots/{pot_slug}/rounds")
    assert f'href="/pots/{pot_slug}/rounds/{hall.round_id}"' in html
    words = text_of(html)
    assert "Spring round" in words
    assert "Voting open until 22 Mar 2026, 09:00 UTC" in words
    assert "£120.00" in words


def test_a_pot_without_rounds_says_so(client: FlaskClient, pot_slug: str) -> None:
    assert "has not run a round yet" in page(client, f"/pots/{pot_slug}/rounds")


def test_while_voting_the_page_shows_the_projects_but_no_running_tally(
    client: FlaskClient, db: Database, pot_slug: str, hall: VillageHall, clock: Clock
) -> None:
    vote(db, hall.round_id, hall.ana, [hall.fridge, hall.seeds])
    at(clock, VOTING)
    words = text_of(page(client, f"/pots/{pot_slug}/rounds/{hall.round_id}"))
    assert "Voting open until" in words
    assert "Ballots so far 1" in words
    assert "Community fridge" in words and "£60.00" in words
    assert "not eligible: Gambling is outside the pot's purpose" in words
    assert "Approvals" not in words  # counted only when voting closes
    assert f"PUT /api/v1/rounds/{hall.round_id}/ballot" in words


def test_a_counted_round_explains_each_project_in_words_and_shows_the_money(
    client: FlaskClient, db: Database, pot_slug: str, hall: VillageHall, clock: Clock
) -> None:
    hall.vote(db)
    at(clock, FUNDED)
    html = page(client, f"/pots/{pot_slug}/rounds/{hall.round_id}")  # counts and funds
    words = text_of(html)
    figures = dict(re.findall(r"<dt>([A-Za-z ]+)</dt><dd>([^<]+)</dd>", html))
    assert figures["Budget"] == "£120.00"
    assert figures["Spent"] == "£100.00"
    assert figures["Unspent"] == "£20.00"
    assert "returned to the pot" in words
    assert "2 of 4 projects funded, £100.00 of the £120.00 budget spent" in words
    assert "Funded (chosen first); it costs £60.00 and its 3 supporters each paid £20.00." in words
    assert "1 paid £30.00 and 1 paid all they had left, £10.00." in words
    assert "they had only £20.00 left between them; it costs £25.00." in words
    assert "its one supporter had only £30.00, even before anything was chosen" in words
    assert "The stewards' reason: Gambling is outside the pot's purpose" in words
    # Winners first, in the order chosen, then the others by approvals.
    order = [words.index(t) for t in ("Community fridge", "Tool library", "Seed swap", "Mural")]
    assert order == sorted(order)
    assert words.count(" won ") == 2
    assert f'href="/api/v1/rounds/{hall.round_id}/export.pb"' in html
    # Counted and funded on that first read, exactly as the API and the clock would.
    assert advance(db, pot_slug, START + FUNDED) == []
    verified(db, pot_slug)


def test_the_page_never_shows_who_approved_what(
    client: FlaskClient, db: Database, pot_slug: str, hall: VillageHall, clock: Clock
) -> None:
    hall.vote(db)
    for moment in (VOTING, FUNDED):
        at(clock, moment)
        html = page(client, f"/pots/{pot_slug}/rounds/{hall.round_id}")
        for voter in hall.voters():
            name = voter.email.split("@")[0]
            assert voter.email not in html
            assert name not in html.lower()
            assert f"/users/{voter.id}" not in html


def test_before_proposals_close_the_page_lists_what_was_proposed(
    client: FlaskClient, db: Database, pot_slug: str, clock: Clock
) -> None:
    steward = person(db, pot_slug, "steward")
    fund(db, pot_slug, 20_000)
    round_id = new_round(db, pot_slug, steward)
    at(clock, PROPOSALS)
    words = text_of(page(client, f"/pots/{pot_slug}/rounds/{round_id}"))
    assert "Taking proposals until 8 Mar 2026, 09:00 UTC" in words
    assert "No projects have been proposed yet." in words


def test_unknown_rounds_and_rounds_of_another_pot_are_not_found(
    client: FlaskClient, db: Database, pot_slug: str, hall: VillageHall
) -> None:
    other = f"{pot_slug}-other"
    with db.write() as session:
        ledger_pots.create_pot(session, other, name="Other", currency="GBP")
    page(client, f"/pots/{other}/rounds/{hall.round_id}", status=404)
    page(client, f"/pots/{pot_slug}/rounds/999999999", status=404)
    page(client, "/pots/no-such-pot/rounds", status=404)


# -- in a real browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """As ``conftest.live_site``, with the whole demo loaded: community and rounds too."""
    from werkzeug.serving import make_server

    folder = tmp_path_factory.mktemp("live-rounds")
    url = f"sqlite:///{folder / 'site.sqlite3'}"
    database = Database(url)
    migrate.upgrade(database)
    with database.write() as session:
        load_demo(session)
    load_community(database, DEMO_SLUG, ballot_key=b"k" * 32)
    load_rounds(database, DEMO_SLUG, ballot_key=b"k" * 32)
    database.dispose()
    os.environ.setdefault("COMMONPOT_INSTANCE_PATH", str(folder / "instance"))
    application = create_app({"DATABASE_URL": url, "SECRET_KEY": uuid.uuid4().hex})
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveSite(f"http://127.0.0.1:{server.server_port}", DEMO_SLUG)
    finally:
        server.shutdown()
        server.server_close()
        dispose_app(application)


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/pots/{slug}/rounds", "/pots/{slug}/rounds/1"])
def test_the_rounds_pages_are_accessible(page: Any, live_site: LiveSite, path: str) -> None:
    """axe-core finds nothing serious or critical, and nothing scrolls sideways at 320px."""
    response = page.goto(live_site.url + path.format(slug=live_site.slug))
    assert response is not None and response.status == 200
    results = Axe().run(page)
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not violations, violations
    page.set_viewport_size({"width": 320, "height": 800})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{path} is {overflow}px wider than a 320px screen"
