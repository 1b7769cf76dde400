"""OpenCollectiveClient against the fake Open Collective (a real HTTP server on 127.0.0.1 that
validates every request against the real schema). No test really waits for a backoff: the
client's `sleep` is a recorder."""

from __future__ import annotations

import itertools
import logging
import math
import socket
import sys
import traceback
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

# Runs standalone (`--noconftest`): make the project root importable for `integrations` and
# `tests.oc_fake`. Harmless once pyproject/conftest put the root on sys.path.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from graphql import parse, validate  # noqa: E402

from integrations.opencollective import (  # noqa: E402
    OpenCollectiveAuthError,
    OpenCollectiveClient,
    OpenCollectiveDataError,
    OpenCollectiveGraphQLError,
    OpenCollectiveNotFound,
    OpenCollectiveOutcomeUnknown,
    OpenCollectiveUnavailable,
    PayoutMethod,
    minor_units,
)
from integrations.opencollective.client import DEFAULT_API_URL  # noqa: E402
from integrations.opencollective.queries import ALL_DOCUMENTS, TRANSACTIONS_QUERY  # noqa: E402
from tests.oc_fake import FakeOpenCollective, FakeServer, load_schema  # noqa: E402

pytest_plugins = ["tests.oc_fake.plugin"]

SLUG = "commonpot-test"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def world(oc_fake: FakeOpenCollective) -> FakeOpenCollective:
    oc_fake.add_collective(SLUG, name="Commonpot Test", currency="GBP", balance_minor=123_456)
    oc_fake.add_account("alice", name="Alice", typename="Individual")
    return oc_fake


def make_client(
    server: FakeServer, token: str, sleeps: list[float], **kwargs: Any
) -> OpenCollectiveClient:
    options: dict[str, Any] = {"timeout": (2.0, 2.0), "max_retries": 3, "sleep": sleeps.append}
    options.update(kwargs)
    return OpenCollectiveClient(server.url, token, **options)


@pytest.fixture
def client(
    world: FakeOpenCollective, oc_server: FakeServer, sleeps: list[float]
) -> Iterator[OpenCollectiveClient]:
    with make_client(oc_server, world.token, sleeps) as c:
        yield c


def offsets_requested(fake: FakeOpenCollective) -> list[int]:
    return [
        r.variables["offset"] for r in fake.requests if r.operation_name == "CommonpotTransactions"
    ]


# --- the documents themselves -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_every_document_is_valid_against_the_real_schema(name: str) -> None:
    assert validate(load_schema(), parse(ALL_DOCUMENTS[name])) == []


# --- reads ------------------------------------------------------------------------------------


def test_get_collective(client: OpenCollectiveClient, world: FakeOpenCollective) -> None:
    info = client.get_collective(SLUG)
    assert (info.slug, info.name, info.currency, info.balance_minor) == (
        SLUG,
        "Commonpot Test",
        "GBP",
        123_456,
    )
    assert type(info.balance_minor) is int
    assert world.requests[-1].had_token


def test_unknown_collective_is_not_found(client: OpenCollectiveClient) -> None:
    with pytest.raises(OpenCollectiveNotFound):
        client.get_collective("no-such-collective")


def test_iterates_350_transactions_in_pages_of_100(
    client: OpenCollectiveClient, world: FakeOpenCollective
) -> None:
    rows = world.generate_transactions(SLUG, 350)
    items = list(client.iter_transactions(SLUG, page_size=100))

    assert [t.id for t in items] == [r["id"] for r in rows]
    assert [t.offset for t in items] == list(range(350))
    assert offsets_requested(world) == [0, 100, 200, 300]
    assert all(type(t.amount.value_minor) is int for t in items)
    assert [t.created_at for t in items] == sorted(t.created_at for t in items)
    # The scripted mix arrived intact: fee rows share their contribution's group, refunds link.
    kinds = {t.kind for t in items}
    assert {"CONTRIBUTION", "PAYMENT_PROCESSOR_FEE", "HOST_FEE", "ADDED_FUNDS", "EXPENSE"} <= kinds
    groups: dict[str, list[str]] = {}
    for t in items:
        groups.setdefault(t.group, []).append(t.kind or "")
    assert ["CONTRIBUTION", "HOST_FEE", "PAYMENT_PROCESSOR_FEE"] in map(sorted, groups.values())
    refunds = [t for t in items if t.is_refund]
    assert refunds and all(t.refund_transaction_id and t.type == "DEBIT" for t in refunds)
    assert all(t.expense_id for t in items if t.kind == "EXPENSE")
    assert client.get_collective(SLUG).balance_minor == sum(t.amount.value_minor for t in items)


def test_iteration_fetches_lazily(client: OpenCollectiveClient, world: FakeOpenCollective) -> None:
    world.generate_transactions(SLUG, 350)
    first = list(itertools.islice(client.iter_transactions(SLUG, page_size=100), 5))
    assert len(first) == 5
    assert offsets_requested(world) == [0]


def test_resume_from_an_offset(client: OpenCollectiveClient, world: FakeOpenCollective) -> None:
    world.generate_transactions(SLUG, 350)
    full = list(client.iter_transactions(SLUG))
    world.requests.clear()

    stored = list(itertools.islice(client.iter_transactions(SLUG), 130))
    resumed = list(client.iter_transactions(SLUG, offset=stored[-1].next_offset))

    assert stored + resumed == full
    assert offsets_requested(world) == [0, 100, 130, 230, 330]


def test_date_from_filters_on_the_server(
    client: OpenCollectiveClient, world: FakeOpenCollective
) -> None:
    rows = world.generate_transactions(SLUG, 120)
    cutoff = rows[60]["createdAt"]
    items = list(client.iter_transactions(SLUG, date_from=cutoff))
    expected = [r["id"] for r in rows if r["createdAt"] >= cutoff]  # same-format ISO strings
    assert [t.id for t in items] == expected and len(expected) >= 60
    assert world.requests[-1].variables["dateFrom"] == cutoff


def test_bad_arguments_fail_at_the_call(client: OpenCollectiveClient) -> None:
    with pytest.raises(ValueError):
        client.iter_transactions(SLUG, page_size=0)
    with pytest.raises(ValueError):
        client.iter_transactions(SLUG, offset=-1)


def test_get_transaction_by_id_and_legacy_id(
    client: OpenCollectiveClient, world: FakeOpenCollective
) -> None:
    rows = world.generate_transactions(SLUG, 10)
    by_id = client.get_transaction(rows[4]["id"])
    by_legacy = client.get_transaction(legacy_id=rows[4]["legacyId"])
    assert by_id == by_legacy
    assert by_id.offset is None and by_id.amount.value_minor == rows[4]["amount"]["valueInCents"]
    with pytest.raises(OpenCollectiveNotFound):
        client.get_transaction("00000000-0000-4000-8000-000000000000")


# --- money ------------------------------------------------------------------------------------


def test_integral_float_becomes_int_and_fraction_is_refused(
    client: OpenCollectiveClient, world: FakeOpenCollective
) -> None:
    rows = world.generate_transactions(SLUG, 150)
    rows[0]["amount"]["valueInCents"] = 1250.0
    assert next(client.iter_transactions(SLUG)).amount.value_minor == 1250

    rows[7]["amount"]["valueInCents"] = 12.5
    yielded = []
    with pytest.raises(OpenCollectiveDataError, match=r"12\.5"):
        for tx in client.iter_transactions(SLUG):
            yielded.append(tx)
    assert yielded == []  # the bad page is refused whole, nothing of it reaches the caller

    world.set_balance(SLUG, 12.5)
    with pytest.raises(OpenCollectiveDataError):
        client.get_collective(SLUG)


@pytest.mark.parametrize(
    "value",
    [
        12.5,
        math.nan,
        math.inf,
        -math.inf,
        True,
        "12",
        None,
        Decimal("12.5"),
        Decimal("NaN"),
        2.0**60,
    ],
)
def test_minor_units_refuses(value: object) -> None:
    with pytest.raises(OpenCollectiveDataError):
        minor_units(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (-5, -5), (5.0, 5), (Decimal("1250.0"), 1250), (Decimal("1E+3"), 1000)],
)
def test_minor_units_accepts_exact_integers(value: object, expected: int) -> None:
    result = minor_units(value)
    assert result == expected and type(result) is int


# --- retries ----------------------------------------------------------------------------------


def test_429_honours_retry_after(
    client: OpenCollectiveClient, world: FakeOpenCollective, sleeps: list[float]
) -> None:
    world.fail_next(429, retry_after=2)
    assert client.get_collective(SLUG).balance_minor == 123_456
    assert sleeps == [2.0]
    assert len(world.requests) == 2


def test_503_is_retried(
    client: OpenCollectiveClient, world: FakeOpenCollective, sleeps: list[float]
) -> None:
    world.fail_next(503, times=2)
    assert client.get_collective(SLUG).slug == SLUG
    assert len(world.requests) == 3
    assert sleeps == [1.0]  # urllib3: no wait before the first retry, then backoff * 2


def test_500_then_success(
    client: OpenCollectiveClient, world: FakeOpenCollective, sleeps: list[float]
) -> None:
    world.fail_next(500)
    assert client.get_collective(SLUG).slug == SLUG
    assert sleeps == [0.5]
    assert len(world.requests) == 2


def test_read_timeout_then_success(
    world: FakeOpenCollective, oc_server: FakeServer, sleeps: list[float]
) -> None:
    # The timeout leaves room for a loaded machine's ordinary answer; only the delayed one lapses.
    world.delay_next(4.0)
    with make_client(oc_server, world.token, sleeps, timeout=(2.0, 1.5)) as c:
        assert c.get_collective(SLUG).slug == SLUG
    assert sleeps == [0.5]
    assert len(world.requests) == 2


def test_connection_dropped_mid_page_then_success(
    client: OpenCollectiveClient, world: FakeOpenCollective, sleeps: list[float]
) -> None:
    rows = world.generate_transactions(SLUG, 250)
    iterator = client.iter_transactions(SLUG)
    first = next(iterator)  # page 1 fetched
    world.drop_next()  # page 2 arrives half-way, then the connection closes
    rest = list(iterator)
    assert [t.id for t in [first, *rest]] == [r["id"] for r in rows]
    assert offsets_requested(world) == [0, 100, 100, 200]
    assert sleeps == [0.5]


def test_retries_exhausted_on_500(
    client: OpenCollectiveClient, world: FakeOpenCollective, sleeps: list[float]
) -> None:
    world.fail_next(500, times=10)
    with pytest.raises(OpenCollectiveUnavailable, match="4 attempts"):
        client.get_collective(SLUG)
    assert len(world.requests) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_retries_exhausted_on_429_reports_retry_after(
    client: OpenCollectiveClient, world: FakeOpenCollective, sleeps: list[float]
) -> None:
    world.fail_next(429, retry_after=7, times=10)
    with pytest.raises(OpenCollectiveUnavailable) as caught:
        client.get_collective(SLUG)
    assert caught.value.retry_after == 7
    assert len(world.requests) == 4
    assert sleeps == [7.0, 7.0, 7.0]


def test_unreachable_server(sleeps: list[float]) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/graphql/v2"
    with (
        OpenCollectiveClient(url, "tok-unreachable", max_retries=2, sleep=sleeps.append) as c,
        pytest.raises(OpenCollectiveUnavailable, match="unreachable"),
    ):
        c.get_collective(SLUG)
    assert len(sleeps) == 1  # urllib3 retried twice: immediately, then after a backoff


# --- authentication and secrecy ---------------------------------------------------------------


def test_missing_transactions_scope(
    client: OpenCollectiveClient, world: FakeOpenCollective
) -> None:
    world.generate_transactions(SLUG, 5)
    world.deny_scope("transactions")
    with pytest.raises(OpenCollectiveAuthError, match="token lacks the 'transactions' scope") as e:
        list(client.iter_transactions(SLUG))
    assert e.value.scope == "transactions"
    assert len(world.requests) == 1  # not retried


def test_missing_expenses_scope(client: OpenCollectiveClient, world: FakeOpenCollective) -> None:
    world.deny_scope("expenses")
    with pytest.raises(OpenCollectiveAuthError, match="'expenses' scope"):
        client.create_expense(SLUG, **expense_args())
    assert world.expenses == {}


def test_wrong_token(world: FakeOpenCollective, oc_server: FakeServer, sleeps: list[float]) -> None:
    wrong = "wrong-token-4f1c9a7e"
    with make_client(oc_server, wrong, sleeps) as c, pytest.raises(OpenCollectiveAuthError) as e:
        c.get_collective(SLUG)
    # The real API echoes a refused token in its message; the client must not pass it on.
    assert "Invalid Personal Token" in str(e.value)
    assert wrong not in str(e.value)
    assert len(world.requests) == 1


def test_token_never_in_logs_reprs_or_errors(
    world: FakeOpenCollective,
    oc_server: FakeServer,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, urllib3's connection logging included
    world.generate_transactions(SLUG, 120)
    messages: list[str] = []
    with make_client(oc_server, world.token, sleeps) as c:
        messages.append(repr(c))
        world.fail_next(429, retry_after=1)
        world.fail_next(500)
        world.drop_next()
        list(c.iter_transactions(SLUG))
        # A client of its own with a short read timeout: only the delayed answers may time out,
        # however slow a loaded machine answers the others.
        with make_client(oc_server, world.token, sleeps, timeout=(2.0, 0.25)) as impatient:
            world.delay_next(1.0, times=4)
            with pytest.raises(OpenCollectiveUnavailable) as unavailable:
                impatient.get_collective(SLUG)
        world.deny_scope("transactions")
        with pytest.raises(OpenCollectiveAuthError) as denied:
            list(c.iter_transactions(SLUG))
    with make_client(oc_server, world.token + "x", sleeps) as wrong:
        messages.append(repr(wrong))
        with pytest.raises(OpenCollectiveAuthError) as refused:
            wrong.get_collective(SLUG)
    for caught in (unavailable, denied, refused):
        messages += [str(caught.value), repr(caught.value)]
        messages += traceback.format_exception(caught.value)
    assert "<redacted>" in messages[0]
    assert caplog.records, "expected the retries to be logged"
    for text in [caplog.text, *messages]:
        assert world.token not in text


def test_from_env() -> None:
    env = {"OPENCOLLECTIVE_TOKEN": "env-token-123"}
    with OpenCollectiveClient.from_env(env) as c:
        assert c.api_url == DEFAULT_API_URL and "env-token-123" not in repr(c)
    env["OPENCOLLECTIVE_API_URL"] = "http://127.0.0.1:9/graphql/v2"
    with OpenCollectiveClient.from_env(env) as c:
        assert c.api_url == env["OPENCOLLECTIVE_API_URL"]
    with pytest.raises(OpenCollectiveAuthError, match="OPENCOLLECTIVE_TOKEN"):
        OpenCollectiveClient.from_env({})


# --- expenses ---------------------------------------------------------------------------------


def expense_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "payee_slug": "alice",
        "description": "Community garden tools",
        "amount_minor": 4_250,
        "currency": "GBP",
        "expense_type": "INVOICE",
        "custom_data": {"commonpot": {"proposal_id": "prop-42"}},
        "reference": "commonpot-prop-42",
        "payout_method": PayoutMethod.other("Sort code 00-00-00, account 12345678", "GBP"),
    }
    args.update(overrides)
    return args


def test_create_expense_is_pending_and_follows_status_changes(
    client: OpenCollectiveClient, world: FakeOpenCollective
) -> None:
    created = client.create_expense(SLUG, **expense_args())
    assert created.status == "PENDING"
    assert (created.amount.value_minor, created.amount.currency) == (4_250, "GBP")
    assert created.custom_data == {"commonpot": {"proposal_id": "prop-42"}}
    assert (created.reference, created.payee_slug, created.account_slug) == (
        "commonpot-prop-42",
        "alice",
        SLUG,
    )
    sent = world.requests[-1].variables["expense"]
    assert sent["items"][0]["amountV2"] == {"valueInCents": 4_250, "currency": "GBP"}
    assert type(sent["items"][0]["amountV2"]["valueInCents"]) is int

    world.set_expense_status(created.id, "APPROVED")
    assert client.get_expense(created.id).status == "APPROVED"
    world.set_expense_status(created.id, "PAID")
    assert client.get_expense(legacy_id=created.legacy_id).status == "PAID"
    with pytest.raises(OpenCollectiveNotFound):
        client.get_expense("ex_doesnotexist")


def test_grant_with_account_balance_payout(
    client: OpenCollectiveClient, world: FakeOpenCollective
) -> None:
    world.add_collective("neighbour-pot", currency="GBP")
    created = client.create_expense(
        SLUG,
        **expense_args(
            payee_slug="neighbour-pot",
            expense_type="GRANT",
            payout_method=PayoutMethod.account_balance(),
        ),
    )
    assert created.type == "GRANT" and created.payee_slug == "neighbour-pot"


def test_create_expense_is_not_resent_when_the_answer_is_lost(
    client: OpenCollectiveClient, world: FakeOpenCollective, oc_server: FakeServer
) -> None:
    world.drop_next()
    with pytest.raises(OpenCollectiveOutcomeUnknown, match="look it up"):
        client.create_expense(SLUG, **expense_args())
    assert world.operations().count("CommonpotCreateExpense") == 1
    # The expense was in fact created; the documented recovery finds it.
    found = client.find_expenses(SLUG, custom_data={"commonpot": {"proposal_id": "prop-42"}})
    assert [e.reference for e in found] == ["commonpot-prop-42"]
    assert client.find_expenses(SLUG, custom_data={"commonpot": {"proposal_id": "other"}}) == []


def test_create_expense_is_retried_when_rate_limited(
    client: OpenCollectiveClient, world: FakeOpenCollective, sleeps: list[float]
) -> None:
    world.fail_next(429, retry_after=1)
    client.create_expense(SLUG, **expense_args())
    assert len(world.expenses) == 1 and sleeps == [1.0]


def test_create_expense_refuses_bad_input_before_sending(
    client: OpenCollectiveClient, world: FakeOpenCollective
) -> None:
    with pytest.raises(TypeError):
        client.create_expense(SLUG, **expense_args(amount_minor=42.5))
    with pytest.raises(ValueError):
        client.create_expense(SLUG, **expense_args(currency="gbp"))
    with pytest.raises(ValueError, match="bytes"):
        big = {"blob": "x" * 10_001}
        client.create_expense(SLUG, **expense_args(custom_data=big))
    assert world.requests == []


def test_business_rule_violation_is_a_graphql_error(
    client: OpenCollectiveClient, world: FakeOpenCollective
) -> None:
    bad_payout = PayoutMethod(type="OTHER", data={"content": "x", "iban": "GB00"})
    with pytest.raises(OpenCollectiveGraphQLError, match="only `content` and `currency`"):
        client.create_expense(SLUG, **expense_args(payout_method=bad_payout))
    assert len(world.requests) == 1


# --- the fake's validator ---------------------------------------------------------------------


def test_fake_rejects_what_the_real_api_would(
    client: OpenCollectiveClient, oc_server: FakeServer
) -> None:
    bad = [
        ('query Bad { account(slug: "x") { noSuchField } }', {}),
        (TRANSACTIONS_QUERY, {"slug": SLUG, "offset": 0}),  # $limit: Int! missing
        (TRANSACTIONS_QUERY, {"slug": SLUG, "limit": "100", "offset": 0}),  # wrong type
        (TRANSACTIONS_QUERY, {"slug": SLUG, "limit": 5, "offset": 0, "dateFrom": "yesterday"}),
        ('query Empty { account(slug: "x") { } }', {}),
    ]
    for document, variables in bad:
        with pytest.raises(OpenCollectiveGraphQLError):
            client.execute(document, variables, operation_name="CommonpotTransactions")
    rejected = oc_server.rejected_queries
    assert len(rejected) == len(bad)
    assert "Cannot query field 'noSuchField'" in rejected[0].errors[0]
    assert "$limit" in rejected[1].errors[0] and "Int" in rejected[2].errors[0]
    oc_server.rejected_queries.clear()  # expected here; the fixture fails on any other


def test_plain_http_only_to_localhost() -> None:
    with pytest.raises(ValueError, match="https"):
        OpenCollectiveClient("http://api.opencollective.com/graphql/v2", "tok")
    OpenCollectiveClient("http://localhost:8080/graphql/v2", "tok").close()
