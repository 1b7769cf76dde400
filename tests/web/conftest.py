"""Fixtures for the web pages: pots with money moving, and (for browser tests) a real server.

The browser fixtures are per worker session: one migrated SQLite database with the demo loaded,
one HTTP server in a thread, one Chromium. Each test opens its own page.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from app import create_app
from app.demo import DEMO_SLUG, load_demo
from ledger import operations
from ledger.db import Database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real Chromium (tests/web)")


def record(
    db: Database,
    slug: str,
    kind: str,
    amount: int,
    *,
    memo: str = "",
    when: str | None = None,
    commitment: str | None = None,
) -> int:
    """Record a movement through the ledger's own operations; returns the entry's seq."""
    now = datetime.fromisoformat(when).replace(tzinfo=UTC) if when else None
    with db.write() as session:
        result = operations.record(
            session,
            slug,
            kind,
            amount,
            memo=memo or f"{kind} {amount}",
            actor="test",
            commitment=commitment,
            now=now,
        )
        return result.entry.seq


@pytest.fixture
def busy_pot(db: Database, pot_slug: str) -> str:
    """A GBP pot with money in, out, committed and a fee, over three months of 2026."""
    record(db, pot_slug, "contribution", 25_000, memo="Grant", when="2026-01-10T10:00:00")
    record(db, pot_slug, "fee", 500, memo="Host fee", when="2026-01-11T10:00:00")
    record(db, pot_slug, "payout", 7_550, memo="Venue hire", when="2026-02-03T12:00:00")
    record(
        db,
        pot_slug,
        "allocation",
        5_000,
        memo="Fellowship",
        when="2026-03-01T09:00:00",
        commitment="proposal:12",
    )
    return pot_slug


# -- a real server and a real browser --------------------------------------------------------


@dataclass(frozen=True)
class LiveSite:
    url: str
    slug: str
    database_url: str = ""  # for tests that set the scene through the services


@pytest.fixture(scope="session")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """The app (production settings, apart from plain HTTP) on a migrated SQLite file with the
    demo loaded, served by werkzeug in a thread."""
    from app import migrate

    folder = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{folder / 'site.sqlite3'}"
    database = Database(url)
    migrate.upgrade(database)
    with database.write() as session:
        load_demo(session)
    database.dispose()
    os.environ.setdefault("COMMONPOT_INSTANCE_PATH", str(folder / "instance"))
    # Not TESTING: the session cookie is Secure, as in production (browsers accept Secure
    # cookies from http://127.0.0.1, a secure context).
    application = create_app({"DATABASE_URL": url, "SECRET_KEY": uuid.uuid4().hex})
    with application.app_context():  # the demo's people and proposals, with this app's key
        from app.api.proposals import ballot_key
        from app.demo_community import load_community

        load_community(database, DEMO_SLUG, ballot_key=ballot_key())
    database.dispose()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveSite(f"http://127.0.0.1:{server.server_port}", DEMO_SLUG, url)
    finally:
        server.shutdown()
        server.server_close()
        from helpers import dispose_app

        dispose_app(application)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_site: LiveSite) -> Iterator[Any]:
    """A fresh browser context (no cookies) at desktop width; fails the test on any CSP
    violation or other console error, failed subresource, or request to another origin."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    # A page answering 4xx on purpose logs "Failed to load resource" for itself; failed
    # subresources are caught by status below instead.
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    tab.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} for {response.url}")
            if response.status >= 400 and response.request.resource_type != "document"
            else None
        ),
    )
    tab.on(
        "request",
        lambda request: (
            problems.append(f"third-party request: {request.url}")
            if not request.url.startswith((live_site.url, "data:"))
            else None
        ),
    )
    tab.problems = problems
    yield tab
    context.close()
    assert not problems, problems
