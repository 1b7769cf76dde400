"""The rounds pages through Flask's test client, on SQLite and PostgreSQL: the list, a round
while it is voting (no running tally), and a counted, funded round with its explanation in
words; never who approved what. A member casts, changes and withdraws their ballot (or pledges)
on the round's page, and each refusal is said next to the form."""

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
    RESULTS,
    START,
    VOTING,
    advance,
    new_round,
    propose,
    review,
    verified,
    vote,
)
from test_web_proposals import REFUSED, sign_in, token_in

import app.web.rounds as rounds_pages
from app import create_app, migrate
from app.api.rounds import ballot_key
from app.demo import DEMO_SLUG, load_demo
from app.demo_community import DEMO_PASSWORD, load_community
from app.demo_rounds import load_rounds
from community import Person, fund, person
from helpers import dispose_app
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.pb.rounds import BallotLimits
from ledger.rounds import services


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


# -- voting on the page ------------------------------------------------------------------------


def checked(html: str) -> set[int]:
    """The project ids ticked on the ballot form."""
    return {
        int(value)
        for tag in re.findall(r"<input[^>]*>", html)
        if 'name="projects"' in tag and " checked" in tag
        for value in re.findall(r'value="(\d+)"', tag)
    }


def my_ballot(db: Database, app: Any, round_id: int, who: Person) -> list[int] | None:
    with app.app_context():
        key = ballot_key()
    with db.read() as session:
        round_ = services.get_round(session, round_id)
        ballot = services.my_ballot(session, round_, who.id, key)
        return None if ballot is None else services.approved_by(session, ballot)


def my_pledges(db: Database, app: Any, round_id: int, who: Person) -> dict[int, int]:
    with app.app_context():
        key = ballot_key()
    with db.read() as session:
        return services.my_pledges(session, services.get_round(session, round_id), who.id, key)


def cast(
    client: FlaskClient, slug: str, round_id: int, projects: list[int | str], status: int = 302
) -> str:
    path = f"/pots/{slug}/rounds/{round_id}"
    token = token_in(page(client, path))
    response = client.post(
        f"{path}/ballot", data={"csrf_token": token, "projects": [str(p) for p in projects]}
    )
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    if status == 302:
        assert response.headers["Location"] == f"{path}#ballot"
        return page(client, path)
    return response.get_data(as_text=True)


def withdraw(client: FlaskClient, slug: str, round_id: int) -> str:
    path = f"/pots/{slug}/rounds/{round_id}"
    token = token_in(page(client, path))
    response = client.post(f"{path}/ballot/withdraw", data={"csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    return page(client, path)


def test_a_member_casts_changes_and_withdraws_their_ballot(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, hall: VillageHall, clock: Clock
) -> None:
    at(clock, VOTING)
    sign_in(client, hall.ana)
    path = f"/pots/{pot_slug}/rounds/{hall.round_id}"
    html = page(client, path)
    words = text_of(html)
    assert "You have not voted in this round yet." in words
    assert "Tick at least 1 project; there is no limit on their total cost." in words
    assert "Community fridge (£60.00)" in words
    assert f'value="{hall.casino}"' not in html  # not eligible: no checkbox
    assert checked(html) == set()

    words = text_of(html := cast(client, pot_slug, hall.round_id, [hall.fridge, hall.seeds]))
    assert "Your ballot is saved." in words
    assert "Your ballot was saved" in words
    assert checked(html) == {hall.fridge, hall.seeds}
    assert my_ballot(db, app, hall.round_id, hall.ana) == sorted([hall.fridge, hall.seeds])

    html = cast(client, pot_slug, hall.round_id, [hall.tools])
    assert checked(html) == {hall.tools}
    assert my_ballot(db, app, hall.round_id, hall.ana) == [hall.tools]
    assert "Ballots so far 1" in text_of(html)

    words = text_of(withdraw(client, pot_slug, hall.round_id))
    assert "Your ballot is withdrawn." in words
    assert "You have not voted in this round yet." in words
    assert my_ballot(db, app, hall.round_id, hall.ana) is None
    assert "You had no ballot to withdraw." in text_of(withdraw(client, pot_slug, hall.round_id))


def test_a_member_sees_only_their_own_ballot(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, hall: VillageHall, clock: Clock
) -> None:
    at(clock, VOTING)
    sign_in(client, hall.ana)
    cast(client, pot_slug, hall.round_id, [hall.fridge, hall.seeds])
    client.post("/sign-out", data={"csrf_token": token_in(page(client, "/"))})
    sign_in(client, hall.bo)
    html = page(client, f"/pots/{pot_slug}/rounds/{hall.round_id}")
    assert checked(html) == set()
    assert "You have not voted in this round yet." in text_of(html)


@pytest.fixture
def limited(db: Database, pot_slug: str) -> dict[str, Any]:
    """A round whose ballots approve 1 or 2 projects costing at most £90 together."""
    steward = person(db, pot_slug, "steward", joined_at=START)
    voter = person(db, pot_slug, "member", joined_at=START)
    fund(db, pot_slug, 50_000)
    round_id = new_round(
        db, pot_slug, steward, limits=BallotLimits(min_projects=1, max_projects=2, max_cost=9_000)
    )
    fridge = propose(db, round_id, voter, "Community fridge", 6_000)
    tools = propose(db, round_id, voter, "Tool library", 4_000)
    seeds = propose(db, round_id, voter, "Seed swap", 2_500)
    casino = propose(db, round_id, voter, "Casino night", 1_000)
    for project in (fridge, tools, seeds):
        review(db, round_id, steward, project)
    review(db, round_id, steward, casino, eligible=False, reason="Gambling")
    return {
        "round": round_id,
        "voter": voter,
        "fridge": fridge,
        "tools": tools,
        "seeds": seeds,
        "casino": casino,
    }


@pytest.mark.parametrize(
    ("ticked", "status", "message"),
    [
        (("fridge", "tools", "seeds"), 422, "a ballot may approve at most 2 projects"),
        (("fridge", "tools"), 422, "may cost at most £90.00 together"),
        ((), 422, "a ballot must approve at least 1 project"),
        (("casino",), 422, "was not found eligible in review and cannot be voted for"),
        (("seeds", "999999"), 422, "is not part of this round"),
        (("seeds", "many"), 400, "Only the projects listed here can be ticked."),
    ],
)
def test_a_refused_ballot_is_explained_and_keeps_what_was_ticked(
    client: FlaskClient,
    app: Any,
    db: Database,
    pot_slug: str,
    limited: dict[str, Any],
    clock: Clock,
    ticked: tuple[str, ...],
    status: int,
    message: str,
) -> None:
    at(clock, VOTING)
    sign_in(client, limited["voter"])
    words = text_of(page(client, f"/pots/{pot_slug}/rounds/{limited['round']}"))
    assert "Tick 1 to 2 projects, costing at most £90.00 together." in words
    projects = [limited.get(name, name) for name in ticked]
    html = cast(client, pot_slug, limited["round"], projects, status=status)
    assert message.lower() in text_of(html).lower()
    assert "<title>Error: " in html
    assert checked(html) == {limited[n] for n in ticked if n in ("fridge", "tools", "seeds")}
    assert my_ballot(db, app, limited["round"], limited["voter"]) is None


def test_after_voting_closes_a_ballot_is_refused_readably(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, hall: VillageHall, clock: Clock
) -> None:
    at(clock, VOTING)
    sign_in(client, hall.ana)
    path = f"/pots/{pot_slug}/rounds/{hall.round_id}"
    token = token_in(page(client, path))
    at(clock, RESULTS)
    response = client.post(f"{path}/ballot", data={"csrf_token": token, "projects": [hall.fridge]})
    assert response.status_code == 409
    words = text_of(response.get_data(as_text=True))
    assert "Voting is closed: Voting in round" in words and "closed at" in words
    assert "Voting in this round is not open" in words
    assert my_ballot(db, app, hall.round_id, hall.ana) is None


def test_a_non_member_is_refused_with_a_readable_403(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, hall: VillageHall, clock: Clock
) -> None:
    at(clock, VOTING)
    stranger = person(db, None, None)
    sign_in(client, stranger)
    path = f"/pots/{pot_slug}/rounds/{hall.round_id}"
    html = page(client, path)
    assert "Only members of this pot vote in its rounds." in text_of(html)
    assert 'name="projects"' not in html
    response = client.post(
        f"{path}/ballot", data={"csrf_token": token_in(html), "projects": [hall.fridge]}
    )
    assert response.status_code == 403
    words = text_of(response.get_data(as_text=True))
    assert f"Not allowed to vote: Only members of {pot_slug} may vote in its rounds." in words
    assert my_ballot(db, app, hall.round_id, stranger) is None


def test_a_member_who_joined_after_voting_opened_is_told_why_not(
    client: FlaskClient, app: Any, db: Database, pot_slug: str, hall: VillageHall, clock: Clock
) -> None:
    at(clock, VOTING)
    late = person(db, pot_slug, "member", joined_at=START + VOTING)
    sign_in(client, late)
    path = f"/pots/{pot_slug}/rounds/{hall.round_id}"
    html = page(client, path)
    assert "You joined this pot after voting in this round opened" in text_of(html)
    response = client.post(
        f"{path}/ballot", data={"csrf_token": token_in(html), "projects": [hall.fridge]}
    )
    assert response.status_code == 403
    assert "only members who joined before may vote" in response.get_data(as_text=True)
    assert my_ballot(db, app, hall.round_id, late) is None


@pytest.mark.parametrize("action", ["ballot", "ballot/withdraw", "pledges"])
def test_each_form_refuses_a_post_without_its_csrf_token(
    client: FlaskClient,
    app: Any,
    db: Database,
    pot_slug: str,
    hall: VillageHall,
    clock: Clock,
    action: str,
) -> None:
    at(clock, VOTING)
    sign_in(client, hall.ana)
    cast(client, pot_slug, hall.round_id, [hall.fridge])
    response = client.post(
        f"/pots/{pot_slug}/rounds/{hall.round_id}/{action}", data={"projects": [hall.tools]}
    )
    assert response.status_code == 400
    assert REFUSED in response.get_data(as_text=True)
    assert my_ballot(db, app, hall.round_id, hall.ana) == [hall.fridge]


@pytest.fixture
def cofunding(db: Database, pot_slug: str) -> dict[str, Any]:
    """A co-funding round of £400 shared by four members: £100 each."""
    steward = person(db, pot_slug, "steward", joined_at=START)
    ana, bo, cy = (person(db, pot_slug, "member", joined_at=START) for _ in range(3))
    fund(db, pot_slug, 100_000)
    round_id = new_round(db, pot_slug, steward, budget=40_000, kind="cofunding", rule=None)
    garden = propose(db, round_id, ana, "Garden", 20_000, minimum=15_000)
    film = propose(db, round_id, bo, "Film night", 9_000, minimum=8_000)
    bad = propose(db, round_id, cy, "Off topic", 5_000, minimum=1_000)
    review(db, round_id, steward, garden)
    review(db, round_id, steward, film)
    review(db, round_id, steward, bad, eligible=False, reason="Not what the pot is for")
    return {"round": round_id, "ana": ana, "garden": garden, "film": film, "bad": bad}


def pledge_rows(pledges: dict[int, str]) -> dict[str, str]:
    data: dict[str, str] = {}
    for n, (project, amount) in enumerate(pledges.items()):
        data[f"pledges-{n}-project"] = str(project)
        data[f"pledges-{n}-amount"] = amount
    return data


def test_a_member_pledges_their_share_changes_and_withdraws(
    client: FlaskClient,
    app: Any,
    db: Database,
    pot_slug: str,
    cofunding: dict[str, Any],
    clock: Clock,
) -> None:
    at(clock, VOTING)
    ana, round_id = cofunding["ana"], cofunding["round"]
    garden, film = cofunding["garden"], cofunding["film"]
    sign_in(client, ana)
    path = f"/pots/{pot_slug}/rounds/{round_id}"
    html = page(client, path)
    words = text_of(html)
    assert "Your share of the round's budget is £100.00" in words
    assert "Your pledge to Garden (GBP)" in words
    assert "Needs £150.00, may receive up to £200.00." in words
    assert "Your pledge to Off topic" not in words  # not eligible

    def post(pledges: dict[int, str], status: int = 302) -> str:
        data = {"csrf_token": token_in(page(client, path)), **pledge_rows(pledges)}
        response = client.post(f"{path}/pledges", data=data)
        assert response.status_code == status, response.get_data(as_text=True)[:800]
        return page(client, path) if status == 302 else response.get_data(as_text=True)

    html = post({garden: "60.50", film: ""})
    assert "Your pledges are saved." in text_of(html)
    assert 'value="60.50"' in html
    assert my_pledges(db, app, round_id, ana) == {garden: 6_050}
    post({garden: "0", film: "25"})
    assert my_pledges(db, app, round_id, ana) == {film: 2_500}

    refused = post({garden: "80", film: "30"}, status=422)
    assert "more than your share of the round's budget, £100.00" in text_of(refused)
    assert 'value="80"' in refused and 'value="30"' in refused  # kept as typed
    refused = post({garden: "ten", film: "1.234"}, status=400)
    assert "'ten' is not a positive decimal amount" in text_of(refused)
    assert 'value="ten"' in refused
    refused = post({cofunding["bad"]: "5"}, status=422)
    assert "was not found eligible in review" in text_of(refused)
    assert my_pledges(db, app, round_id, ana) == {film: 2_500}

    words = text_of(withdraw(client, pot_slug, round_id))
    assert "Your pledges are withdrawn." in words
    assert my_pledges(db, app, round_id, ana) == {}


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


@pytest.mark.browser
def test_a_member_votes_by_keyboard_and_the_form_is_accessible(
    page: Any, live_site: LiveSite
) -> None:
    """Amara signs in, ticks two projects of the voting round with the keyboard, saves, and
    finds her ballot; axe-core finds nothing serious or critical on the page with the form."""
    site = live_site
    page.goto(f"{site.url}/sign-in")
    page.get_by_label("Email").fill("amara@civic-practice.example")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/")
    path = f"{site.url}/pots/{site.slug}/rounds/2"
    response = page.goto(path)
    assert response is not None and response.status == 200
    assert "You have not voted in this round yet." in page.inner_text("#ballot")

    results = Axe().run(page)
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not violations, violations

    warm = page.get_by_label("Warm-space evenings at the Hackney hub", exact=False)
    newsletter = page.get_by_label("Printed winter newsletter", exact=False)
    for box in (warm, newsletter):
        for _ in range(100):
            page.keyboard.press("Tab")
            if box.evaluate("e => e === document.activeElement"):
                break
        else:
            raise AssertionError("the checkbox is not reachable by Tab")
        page.keyboard.press("Space")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Save my ballot":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(f"{path}#ballot")
    assert "Your ballot is saved." in page.inner_text("#ballot")
    assert warm.is_checked() and newsletter.is_checked()
    assert not page.get_by_label("Bus fares", exact=False).is_checked()
