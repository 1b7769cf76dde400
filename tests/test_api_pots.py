"""The read-only pots API (``/api/v1/pots``) through Flask's test client, on SQLite and PostgreSQL.

Data is made with ``ledger.operations.record`` in the test's own pot (``pot_slug``), so the tests
share the worker's database without seeing each other's entries. Money is always
``{"amount": <int minor units>, "currency": "GBP"}``, and every error is an RFC 9457 problem.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger import operations
from ledger.db import Database
from ledger.money import MAX_AMOUNT

API = "/api/v1"
PROBLEM_JSON = "application/problem+json"
GENESIS = "0" * 64
INT64_MAX = 2**63 - 1

# (seq, hash) of an entry written by ``record``.
Written = tuple[int, str]


def record(db: Database, slug: str, kind: str, amount: int, **options: Any) -> Written:
    """One named movement, in its own committed unit of work."""
    options.setdefault("memo", f"{kind} of {amount}")
    options.setdefault("actor", "treasurer")
    with db.write() as session:
        entry = operations.record(session, slug, kind, amount, **options).entry
        return entry.seq, entry.hash


def day(year: int, month: int, dom: int, *hms: int, tz: timezone = UTC) -> datetime:
    return datetime(year, month, dom, *hms, tzinfo=tz)


def b64(text: str) -> str:
    """A cursor-shaped string (URL-safe base64, no padding) that the API did not give out."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def ok_json(response: TestResponse) -> Any:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with the expected status: never a 500, never an HTML error page."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert isinstance(body, dict)
    for key in ("type", "title", "detail"):
        assert isinstance(body.get(key), str) and body[key], (key, body)
    assert type(body.get("status")) is int and body["status"] == status, body
    return body


def money_values(value: Any) -> Iterator[Any]:
    """Every number anywhere in a JSON document (to prove none is a float)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from money_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from money_values(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield value


def assert_money(value: Any, amount: int) -> None:
    assert value == {"amount": amount, "currency": "GBP"}
    assert type(value["amount"]) is int


def all_pages(client: FlaskClient, url: str, **query: Any) -> list[dict[str, Any]]:
    """Follow ``next_cursor`` until it is null; returns every page's body."""
    pages: list[dict[str, Any]] = []
    params = dict(query)
    while True:
        page = ok_json(client.get(url, query_string=params))
        pages.append(page)
        if page["next_cursor"] is None:
            return pages
        assert isinstance(page["next_cursor"], str) and page["next_cursor"]
        assert len(pages) < 100, "the cursor never ran out"
        params = {**query, "cursor": page["next_cursor"]}


def seqs(client: FlaskClient, slug: str, **query: Any) -> list[int]:
    pages = all_pages(client, f"{API}/pots/{slug}/entries", **query)
    return [item["seq"] for page in pages for item in page["items"]]


@pytest.fixture
def busy_pot(db: Database, pot_slug: str) -> dict[int, str]:
    """Contributions, a fee, an allocation to proposal:1, and payouts from it and from available.

    Returns seq -> hash of the six entries.
    """
    written = [
        record(db, pot_slug, "contribution", 1000),
        record(db, pot_slug, "contribution", 500),
        record(db, pot_slug, "fee", 20),
        record(db, pot_slug, "allocation", 300, commitment="proposal:1"),
        record(db, pot_slug, "payout", 100, commitment="proposal:1"),
        record(db, pot_slug, "payout", 200),
    ]
    return dict(written)


# -- GET /api/v1/pots ----------------------------------------------------------------------------


def test_list_shows_the_pot_with_integer_money(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    record(db, pot_slug, "contribution", 1234)
    record(db, pot_slug, "fee", 34)

    body = ok_json(client.get(f"{API}/pots"))

    slugs = [item["slug"] for item in body["items"]]
    assert slugs == sorted(slugs)
    (pot,) = [item for item in body["items"] if item["slug"] == pot_slug]
    assert pot["name"] == "Test pot"
    assert pot["currency"] == "GBP"
    assert pot["entry_count"] == 2
    assert set(pot["balances"]) == {"available", "income", "fees"}
    assert_money(pot["balances"]["available"], 1200)
    assert_money(pot["balances"]["income"], -1234)
    assert_money(pot["balances"]["fees"], 34)
    for value in [*pot["balances"].values(), *pot["totals"].values()]:
        assert set(value) == {"amount", "currency"}
        assert type(value["amount"]) is int
        assert value["currency"] == "GBP"
    assert all(type(n) is int for n in money_values(body))


def test_largest_amount_stays_an_exact_integer(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    record(db, pot_slug, "contribution", MAX_AMOUNT)

    response = client.get(f"{API}/pots/{pot_slug}")

    pot = ok_json(response)
    assert_money(pot["totals"]["held"], MAX_AMOUNT)
    assert_money(pot["balances"]["income"], -MAX_AMOUNT)
    assert str(MAX_AMOUNT) in response.get_data(as_text=True)  # not 9.007199254740991e+15


# -- GET /api/v1/pots/{slug} ---------------------------------------------------------------------


def test_detail_totals_after_every_kind_of_movement(
    client: FlaskClient, pot_slug: str, busy_pot: dict[int, str]
) -> None:
    pot = ok_json(client.get(f"{API}/pots/{pot_slug}"))

    totals = pot["totals"]
    assert set(totals) == {"held", "available", "committed", "received", "paid_out", "fees"}
    assert_money(totals["received"], 1500)
    assert_money(totals["fees"], 20)
    assert_money(totals["paid_out"], 300)  # 100 from the commitment, 200 from available
    assert_money(totals["committed"], 200)  # 300 allocated, 100 of it paid out
    assert_money(totals["available"], 980)  # 1500 - 20 - 300 - 200
    assert_money(totals["held"], 1180)
    assert totals["held"]["amount"] == (
        totals["received"]["amount"] - totals["paid_out"]["amount"] - totals["fees"]["amount"]
    )
    assert {account: value["amount"] for account, value in pot["balances"].items()} == {
        "available": 980,
        "committed:proposal:1": 200,
        "income": -1500,
        "fees": 20,
        "paid_out": 300,
    }
    assert sum(value["amount"] for value in pot["balances"].values()) == 0
    assert all(type(n) is int for n in money_values(pot))


def test_detail_head_is_the_last_entry(
    client: FlaskClient, pot_slug: str, busy_pot: dict[int, str]
) -> None:
    pot = ok_json(client.get(f"{API}/pots/{pot_slug}"))

    assert pot["slug"] == pot_slug
    assert pot["entry_count"] == 6
    assert pot["head"] == {"seq": 6, "hash": busy_pot[6]}
    last = ok_json(client.get(f"{API}/pots/{pot_slug}/entries/6"))
    assert last["hash"] == pot["head"]["hash"]


def test_detail_of_an_empty_pot(client: FlaskClient, pot_slug: str) -> None:
    pot = ok_json(client.get(f"{API}/pots/{pot_slug}"))

    assert pot["entry_count"] == 0
    assert pot["head"] == {"seq": 0, "hash": GENESIS}
    assert pot["balances"] == {}
    for value in pot["totals"].values():
        assert_money(value, 0)
    assert ok_json(client.get(f"{API}/pots/{pot_slug}/entries")) == {
        "items": [],
        "next_cursor": None,
    }


# -- GET /api/v1/pots/{slug}/entries -------------------------------------------------------------


@pytest.mark.parametrize("count", [5, 4])
def test_pages_of_two_cover_every_entry_once_in_order(
    client: FlaskClient, db: Database, pot_slug: str, count: int
) -> None:
    for amount in range(1, count + 1):
        record(db, pot_slug, "contribution", amount * 100)

    pages = all_pages(client, f"{API}/pots/{pot_slug}/entries", limit=2)

    sizes = [len(page["items"]) for page in pages]
    assert sizes == ([2, 2, 1] if count == 5 else [2, 2])  # no empty page at the end
    assert [item["seq"] for page in pages for item in page["items"]] == list(range(1, count + 1))
    assert [page["next_cursor"] is None for page in pages] == [False] * (len(pages) - 1) + [True]


def test_default_page_holds_every_entry(
    client: FlaskClient, pot_slug: str, busy_pot: dict[int, str]
) -> None:
    page = ok_json(client.get(f"{API}/pots/{pot_slug}/entries"))

    assert [item["seq"] for item in page["items"]] == [1, 2, 3, 4, 5, 6]
    assert [item["hash"] for item in page["items"]] == [busy_pot[seq] for seq in range(1, 7)]
    assert page["next_cursor"] is None


def test_filter_by_kind(client: FlaskClient, pot_slug: str, busy_pot: dict[int, str]) -> None:
    url = f"{API}/pots/{pot_slug}/entries"

    assert seqs(client, pot_slug, kind="contribution") == [1, 2]
    assert seqs(client, pot_slug, kind="payout") == [5, 6]
    assert seqs(client, pot_slug, kind="allocation") == [4]
    assert seqs(client, pot_slug, kind="reversal") == []
    # Filtered pages still follow the cursor: one payout per page.
    pages = all_pages(client, url, kind="payout", limit=1)
    assert [[item["seq"] for item in page["items"]] for page in pages] == [[5], [6]]
    assert all(item["kind"] == "payout" for page in pages for item in page["items"])


@pytest.fixture
def dated_pot(db: Database, pot_slug: str) -> str:
    """Five entries on chosen UTC days, two of them at a day's very edge."""
    plus_two = timezone(timedelta(hours=2))
    for moment in (
        day(2026, 1, 9, 23, 59, 59, 999999),  # 1: the 9th, last microsecond
        day(2026, 1, 10, 0, 0, 0),  # 2: the 10th, first microsecond
        day(2026, 1, 11, 1, 30, tz=plus_two),  # 3: the 10th in UTC (the 11th at +02:00)
        day(2026, 1, 11, 0, 0, 0),  # 4: the 11th
        day(2026, 1, 12, 9, 0),  # 5: the 12th
    ):
        record(db, pot_slug, "contribution", 100, now=moment)
    return pot_slug


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"since": "2026-01-10", "until": "2026-01-10"}, [2, 3]),
        ({"since": "2026-01-10", "until": "2026-01-11"}, [2, 3, 4]),
        ({"since": "2026-01-11"}, [4, 5]),
        ({"until": "2026-01-10"}, [1, 2, 3]),
        ({"until": "2026-01-08"}, []),
        ({"since": "2026-01-13"}, []),
        ({"since": "2026-01-09", "until": "2026-01-12", "limit": 2}, [1, 2, 3, 4, 5]),
        ({"since": "2026-01-10", "kind": "contribution", "limit": 1}, [2, 3, 4, 5]),
    ],
)
def test_filter_by_dates(
    client: FlaskClient, dated_pot: str, query: dict[str, Any], expected: list[int]
) -> None:
    assert seqs(client, dated_pot, **query) == expected


def test_entry_times_are_utc(client: FlaskClient, dated_pot: str) -> None:
    page = ok_json(client.get(f"{API}/pots/{dated_pot}/entries"))

    assert [item["time"] for item in page["items"]] == [
        "2026-01-09T23:59:59.999999Z",
        "2026-01-10T00:00:00.000000Z",
        "2026-01-10T23:30:00.000000Z",
        "2026-01-11T00:00:00.000000Z",
        "2026-01-12T09:00:00.000000Z",
    ]


# -- GET /api/v1/pots/{slug}/entries/{seq} -------------------------------------------------------


def test_each_entry_balances_and_chains_to_the_one_before(
    client: FlaskClient, pot_slug: str, busy_pot: dict[int, str]
) -> None:
    listed = ok_json(client.get(f"{API}/pots/{pot_slug}/entries"))["items"]
    previous = GENESIS
    for seq in range(1, 7):
        entry = ok_json(client.get(f"{API}/pots/{pot_slug}/entries/{seq}"))

        assert entry["seq"] == seq
        assert entry["hash"] == busy_pot[seq]
        assert entry["prev_hash"] == previous
        assert entry == listed[seq - 1]
        assert len(entry["postings"]) >= 2
        assert sum(p["amount"] for p in entry["postings"]) == 0
        assert all(type(p["amount"]) is int and p["currency"] == "GBP" for p in entry["postings"])
        previous = entry["hash"]


def test_entry_shows_its_movement(
    client: FlaskClient, pot_slug: str, busy_pot: dict[int, str]
) -> None:
    allocation = ok_json(client.get(f"{API}/pots/{pot_slug}/entries/4"))

    assert allocation["kind"] == "allocation"
    assert allocation["memo"] == "allocation of 300"
    assert allocation["actor"] == "treasurer"
    assert allocation["reverses"] is None
    assert allocation["external_ref"] is None
    assert allocation["data"] == {}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", allocation["time"])
    assert sorted((p["account"], p["amount"]) for p in allocation["postings"]) == [
        ("available", -300),
        ("committed:proposal:1", 300),
    ]


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/pots/{slug}", "/pots/{slug}/entries", "/pots/{slug}/entries/1"])
def test_unknown_pot(client: FlaskClient, pot_slug: str, path: str) -> None:
    url = API + path.format(slug=f"{pot_slug}-missing")

    body = assert_problem(client.get(url), 404)

    assert body["title"] == "Pot not found"
    assert f"{pot_slug}-missing" in body["detail"]


@pytest.mark.parametrize("seq", ["2", "99", "0", "-1", str(INT64_MAX)])
def test_unknown_seq(client: FlaskClient, db: Database, pot_slug: str, seq: str) -> None:
    record(db, pot_slug, "contribution", 100)

    body = assert_problem(client.get(f"{API}/pots/{pot_slug}/entries/{seq}"), 404)

    assert body["title"] == "Entry not found"


@pytest.mark.parametrize("seq", [str(INT64_MAX + 1), "-9223372036854775809", "9" * 30])
def test_seq_beyond_64_bits_is_unknown(client: FlaskClient, pot_slug: str, seq: str) -> None:
    """Regression: such a seq once reached the database (OverflowError, bigint out of range)."""
    assert_problem(client.get(f"{API}/pots/{pot_slug}/entries/{seq}"), 404)


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "c2VxOng",  # "seq:x"
        b64("foo:1"),
        b64("seq:"),
        b64("seq:-1"),
        b64("seq:1.5"),
        b64("seq:" + "9" * 30),  # a huge number
        "9" * 40,
        "é",
    ],
)
def test_malformed_cursor(
    client: FlaskClient, pot_slug: str, busy_pot: dict[int, str], cursor: str
) -> None:
    response = client.get(f"{API}/pots/{pot_slug}/entries", query_string={"cursor": cursor})

    body = assert_problem(response, 400)

    assert "cursor" in body["detail"]


def test_cursor_resumes_after_the_last_entry_it_saw(
    client: FlaskClient, pot_slug: str, busy_pot: dict[int, str]
) -> None:
    url = f"{API}/pots/{pot_slug}/entries"
    cursor = ok_json(client.get(url, query_string={"limit": 5}))["next_cursor"]

    assert ok_json(client.get(url, query_string={"cursor": cursor})) == {
        "items": [ok_json(client.get(f"{url}/6"))],
        "next_cursor": None,
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "10000"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"kind": "nonsense"}, "kind"),
        ({"kind": "Contribution"}, "kind"),
        ({"since": "2026-13-45"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-02-30"}, "until"),
    ],
)
def test_invalid_query(
    client: FlaskClient, pot_slug: str, query: dict[str, str], field: str
) -> None:
    response = client.get(f"{API}/pots/{pot_slug}/entries", query_string=query)

    body = assert_problem(response, 422)

    assert field in body["errors"]["query"]
    assert field in body["detail"]


def test_since_after_until(client: FlaskClient, pot_slug: str) -> None:
    response = client.get(
        f"{API}/pots/{pot_slug}/entries",
        query_string={"since": "2026-02-01", "until": "2026-01-31"},
    )

    body = assert_problem(response, 422)

    assert "since" in body["detail"] and "until" in body["detail"]


@pytest.mark.parametrize(
    "query", [{"until": "9999-12-31"}, {"since": "2026-01-01", "until": "9999-12-31"}]
)
def test_last_representable_day(
    client: FlaskClient, db: Database, pot_slug: str, query: dict[str, str]
) -> None:
    """Regression: ``until + 1 day`` once overflowed on 9999-12-31 into a 500."""
    record(db, pot_slug, "contribution", 100, now=day(2026, 1, 10, 12))

    assert seqs(client, pot_slug, **query) == [1]


def test_first_representable_day(client: FlaskClient, db: Database, pot_slug: str) -> None:
    record(db, pot_slug, "contribution", 100, now=day(2026, 1, 10, 12))

    assert seqs(client, pot_slug, since=date.min.isoformat()) == [1]
    assert seqs(client, pot_slug, until=date.min.isoformat()) == []


@pytest.mark.parametrize("path", ["/pots/{slug}", "/pots/{slug}/entries", "/pots/{slug}/entries/1"])
def test_nul_in_slug_is_an_unknown_pot(client: FlaskClient, path: str) -> None:
    """Regression: a NUL byte once reached PostgreSQL, whose text cannot hold it: a 500."""
    assert_problem(client.get(API + path.format(slug="a%00b")), 404)


@pytest.mark.parametrize(
    "path",
    ["/nothing", "/pots/{slug}/nothing", "/pots/{slug}/entries/x", "/pots/", "/pots/{slug}/"],
)
def test_unknown_route(client: FlaskClient, pot_slug: str, path: str) -> None:
    assert_problem(client.get(API + path.format(slug=pot_slug)), 404)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "path", ["/pots", "/pots/{slug}", "/pots/{slug}/entries", "/pots/{slug}/entries/1"]
)
def test_read_only_routes_refuse_other_methods(
    client: FlaskClient, pot_slug: str, method: str, path: str
) -> None:
    if (path, method) == ("/pots/{slug}/entries", "POST"):
        pytest.skip("treasurers record money with POST (tests/test_proposals_api.py)")
    response = client.open(API + path.format(slug=pot_slug), method=method, json={})

    assert_problem(response, 405)
    assert "GET" in {m.strip() for m in response.headers["Allow"].split(",")}


# -- OpenAPI document and docs -------------------------------------------------------------------


def test_openapi_document(client: FlaskClient) -> None:
    response = client.get(f"{API}/openapi.json")

    doc = ok_json(response)
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "Commonpot API"
    assert set(doc["paths"]) >= {
        "/api/v1/pots",
        "/api/v1/pots/{slug}",
        "/api/v1/pots/{slug}/entries",
        "/api/v1/pots/{slug}/entries/{seq}",
    }
    for path in ("/api/v1/pots", "/api/v1/pots/{slug}/entries/{seq}"):
        assert "200" in doc["paths"][path]["get"]["responses"]
    entries = doc["paths"]["/api/v1/pots/{slug}/entries"]["get"]
    assert {p["name"] for p in entries["parameters"]} == {
        "cursor",
        "limit",
        "kind",
        "since",
        "until",
    }


def test_docs_page_uses_our_own_swagger_ui(client: FlaskClient) -> None:
    response = client.get(f"{API}/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "cdn" not in html.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert f"{API}/docs/assets/swagger-ui-bundle.js" in assets
    assert f"{API}/openapi.json" in html
    for asset in assets:
        assert asset.startswith(f"{API}/docs/assets/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert served.data, asset
        served.close()


def test_swagger_ui_bundle_is_served(client: FlaskClient) -> None:
    response = client.get(f"{API}/docs/assets/swagger-ui-bundle.js")

    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert b"SwaggerUIBundle" in response.data
    response.close()


@pytest.mark.parametrize("name", ["missing.js", "../__init__.py", "..%2F..%2Fsettings.py"])
def test_unknown_swagger_asset(client: FlaskClient, name: str) -> None:
    assert_problem(client.get(f"{API}/docs/assets/{name}"), 404)
