"""The public pages through Flask's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import record
from flask.testing import FlaskClient

from ledger import entries as ledger_entries
from ledger import pots as ledger_pots
from ledger.db import Database

ATOM = "{http://www.w3.org/2005/Atom}"


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_the_index_lists_pots_linking_to_their_overviews(
    client: FlaskClient, busy_pot: str
) -> None:
    html = page(client, "/")
    assert f'href="/pots/{busy_pot}"' in html
    assert f'href="/pots/{busy_pot}/ledger"' in html


def test_the_overview_shows_the_balances_in_the_pots_currency(
    client: FlaskClient, busy_pot: str
) -> None:
    html = page(client, f"/pots/{busy_pot}")
    figures = dict(re.findall(r"<dt>([A-Za-z ]+)</dt><dd>([^<]+)</dd>", html))
    assert figures == {
        "Held": "£169.50",  # 250.00 - 5.00 - 75.50
        "Available": "£119.50",
        "Committed": "£50.00",
        "Received": "£250.00",
        "Paid out": "£75.50",
        "Fees": "£5.00",
    }
    assert "<code>proposal:12</code>" in html  # the open commitment


def test_the_overview_charts_money_in_and_out_with_a_table_of_the_same_figures(
    client: FlaskClient, busy_pot: str
) -> None:
    html = page(client, f"/pots/{busy_pot}")
    assert f'<img src="/pots/{busy_pot}/charts/flow.svg"' in html
    rows = re.findall(
        r'<tr><th scope="row">(\w+ \d{4})</th>'
        r'<td class="num">([^<]+)</td><td class="num">([^<]+)</td></tr>',
        html,
    )
    assert rows == [
        ("Jan 2026", "£250.00", "£5.00"),
        ("Feb 2026", "£0.00", "£75.50"),
    ]  # the allocation in March moves money inside the pot: neither in nor out


def test_the_chart_follows_entries_appended_after_it_was_first_drawn(
    client: FlaskClient, db: Database, busy_pot: str
) -> None:
    page(client, f"/pots/{busy_pot}")
    record(db, busy_pot, "contribution", 1_000, when="2026-02-20T10:00:00")
    record(db, busy_pot, "payout", 2_000, when="2026-04-02T10:00:00", commitment="proposal:12")
    html = page(client, f"/pots/{busy_pot}")
    assert '<tr><th scope="row">Feb 2026</th><td class="num">£10.00</td>' in html
    assert (
        '<tr><th scope="row">Apr 2026</th><td class="num">£0.00</td><td class="num">£20.00</td>'
        in html
    )


def test_the_chart_is_a_script_free_svg(client: FlaskClient, busy_pot: str) -> None:
    response = client.get(f"/pots/{busy_pot}/charts/flow.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    ET.fromstring(svg.split("?>", 1)[1])  # well-formed
    assert "<script" not in svg
    assert not re.search(r'(?:href|src)="(?!#)', svg)  # loads nothing
    assert "Money in" in svg and "Money out" in svg
    assert "script-src" not in response.headers["Content-Security-Policy"]


def test_an_empty_pot_has_an_overview_too(client: FlaskClient, pot_slug: str) -> None:
    html = page(client, f"/pots/{pot_slug}")
    assert "No money has moved yet." in html and "The ledger is empty." in html
    assert client.get(f"/pots/{pot_slug}/charts/flow.svg").status_code == 200


def test_an_unknown_pot_is_a_404_page(client: FlaskClient) -> None:
    for path in ("/pots/no-such-pot", "/pots/no-such-pot/ledger", "/pots/NOT%20A%20SLUG"):
        assert "no pot called" in page(client, path, 404)
    assert client.get("/pots/no-such-pot/ledger.csv").status_code == 404
    assert client.get("/pots/no-such-pot/feed.atom").status_code == 404


def test_the_ledger_pages_through_entries_with_a_cursor(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    for i in range(55):
        record(db, pot_slug, "contribution", 100 + i)
    first = page(client, f"/pots/{pot_slug}/ledger")
    assert "Entries 1 to 50" in first
    assert f'rel="next" href="/pots/{pot_slug}/ledger?after=50"' in first
    second = page(client, f"/pots/{pot_slug}/ledger?after=50")
    assert "Entries 51 to 55" in second and 'rel="next"' not in second
    assert f'href="/pots/{pot_slug}/ledger">First page' in second


def test_the_ledger_filters_by_kind_and_utc_day(client: FlaskClient, busy_pot: str) -> None:
    html = page(client, f"/pots/{busy_pot}/ledger?kind=payout")
    assert "Venue hire" in html and "Grant" not in html
    html = page(client, f"/pots/{busy_pot}/ledger?since=2026-01-11&until=2026-02-03")
    assert "Host fee" in html and "Venue hire" in html
    assert "Grant" not in html and "Fellowship" not in html
    assert page(client, f"/pots/{busy_pot}/ledger?kind=refund").count("No entries match") == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=bribe", "Kind: Not a valid choice."),
        ("since=yesterday", "From: Not a valid date value."),
        ("until=2026-02-30", "To: Not a valid date value."),
        ("since=2026-03-01&until=2026-02-01", "To: The end date is before the start date."),
        ("after=-1", "It must be an entry number (0 or more)."),
        ("after=99999999999999999999999", "It must be an entry number (0 or more)."),
        ("after=ten", "Not a valid integer value."),
    ],
)
def test_bad_filters_are_explained_not_a_crash(
    client: FlaskClient, busy_pot: str, query: str, message: str
) -> None:
    html = page(client, f"/pots/{busy_pot}/ledger?{query}", 400)
    summary = html[html.index('<div class="error-summary" role="alert"') :]
    assert message in summary[: summary.index("</div>")]
    if not query.startswith("after"):  # the field itself says so too
        assert 'aria-invalid="true"' in html


def test_an_entry_page_shows_postings_and_the_hash_chain(
    client: FlaskClient, db: Database, busy_pot: str
) -> None:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, busy_pot)
        entry = ledger_entries.get_entry(session, pot, 3)
        entry_hash, prev_hash = entry.hash, entry.prev_hash
    html = page(client, f"/pots/{busy_pot}/ledger/3")
    assert "Entry #3: payout of £75.50" in html
    assert "<code>available</code>" in html and "<code>paid_out</code>" in html
    assert entry_hash in html and prev_hash in html
    assert f'href="/pots/{busy_pot}/ledger/2"' in html
    assert f'href="/api/v1/pots/{busy_pot}/proofs/inclusion?seq=3"' in html
    first = page(client, f"/pots/{busy_pot}/ledger/1")
    assert "0" * 64 in first and "the first entry" in first


@pytest.mark.parametrize("seq", ["0", "5", str(2**63), str(10**30)])
def test_an_entry_that_does_not_exist_is_a_404_page(
    client: FlaskClient, busy_pot: str, seq: str
) -> None:
    page(client, f"/pots/{busy_pot}/ledger/{seq}", 404)


def test_the_downloads_are_the_ledgers_own_exports(
    client: FlaskClient, db: Database, busy_pot: str
) -> None:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, busy_pot)
        csv_text = "".join(ledger_entries.export_csv(session, pot))
        jsonl_text = "".join(ledger_entries.export_jsonl(session, pot))
    response = client.get(f"/pots/{busy_pot}/ledger.csv")
    assert response.mimetype == "text/csv" and response.get_data(as_text=True) == csv_text
    assert f'filename="{busy_pot}-ledger.csv"' in response.headers["Content-Disposition"]
    response = client.get(f"/pots/{busy_pot}/ledger.jsonl")
    assert response.get_data(as_text=True) == jsonl_text
    assert [json.loads(line)["seq"] for line in jsonl_text.splitlines()] == [1, 2, 3, 4]


def test_the_atom_feed_lists_payments_newest_first(client: FlaskClient, busy_pot: str) -> None:
    response = client.get(f"/pots/{busy_pot}/feed.atom")
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.get_data())
    titles = [e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")]
    assert titles == ["Payout of £75.50: Venue hire", "Contribution of £250.00: Grant"]
    first = next(feed.iter(f"{ATOM}entry"))
    assert first.findtext(f"{ATOM}id") == f"http://localhost/pots/{busy_pot}/ledger/3"
    assert first.findtext(f"{ATOM}updated") == "2026-02-03T12:00:00.000000Z"
    assert feed.findtext(f"{ATOM}updated") == "2026-02-03T12:00:00.000000Z"
    overview = page(client, f"/pots/{busy_pot}")
    assert (
        f'type="application/atom+xml" title="Test pot: payments" href="/pots/{busy_pot}/feed.atom"'
        in overview
    )


def test_member_text_is_escaped_everywhere(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    memo = '<script>alert("x")</script> & <b>bold</b>'
    record(db, pot_slug, "contribution", 100, memo=memo)
    for path in (f"/pots/{pot_slug}", f"/pots/{pot_slug}/ledger", f"/pots/{pot_slug}/ledger/1"):
        html = page(client, path)
        assert memo not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;" in html
    feed = client.get(f"/pots/{pot_slug}/feed.atom").get_data(as_text=True)
    assert "<script>" not in feed
    title = ET.fromstring(feed.encode()).find(f"{ATOM}entry/{ATOM}title")
    assert title is not None and title.text == f"Contribution of £1.00: {memo}"


def test_dates_are_utc_time_elements(client: FlaskClient, busy_pot: str) -> None:
    html = page(client, f"/pots/{busy_pot}/ledger/3")
    assert '<time datetime="2026-02-03T12:00:00Z">3 Feb 2026, 12:00 UTC</time>' in html


def test_a_chosen_time_zone_shows_dates_in_it(client: FlaskClient, busy_pot: str) -> None:
    form = page(client, f"/preferences?next=/pots/{busy_pot}/ledger/3")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token is not None
    response = client.post(
        "/preferences",
        data={
            "csrf_token": token.group(1),
            "time_zone": "Asia/Tokyo",
            "next": f"/pots/{busy_pot}/ledger/3",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/pots/{busy_pot}/ledger/3"
    html = page(client, f"/pots/{busy_pot}/ledger/3")
    assert '<time datetime="2026-02-03T12:00:00Z">3 Feb 2026, 21:00 Asia/Tokyo</time>' in html


def test_the_preferences_form_redirects_only_within_the_site(client: FlaskClient) -> None:
    form = page(client, "/preferences")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token is not None
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(
            "/preferences", data={"csrf_token": token.group(1), "time_zone": "", "next": target}
        )
        assert response.headers["Location"] == "/preferences"
    response = client.post(
        "/preferences", data={"csrf_token": token.group(1), "time_zone": "Mars/Olympus"}
    )
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)


def test_the_reconciliation_page_uses_the_site_layout(client: FlaskClient, pot_slug: str) -> None:
    html = page(client, f"/pots/{pot_slug}/opencollective")
    assert 'href="/assets/site.css"' in html and "not linked to an Open Collective" in html
