"""Fuzzing the JSON API against its own OpenAPI document (schemathesis), on SQLite and PostgreSQL.

Every operation the document lists gets generated requests: valid ones as the document allows
them, ones aimed at a real pot (its slug, its seqs, the cursors it hands out, small integers for
its counts), any text at all as a slug, and invalid ones. Every response must:

* never be a server error (``not_a_server_error``);
* match the document, media type and body schema, errors included (``content_type_conformance``,
  ``response_schema_conformance``); redirects are the one exception: Werkzeug answers a path with
  ``//`` (a slug of "/") with a 308 to the merged path, which no API document describes;
* be an RFC 9457 problem (``application/problem+json`` with ``type``, ``title``, ``status``,
  ``detail``) whenever it is an error (``problem_details``, ours);
* reject invalid input with a 4xx (``negative_data_rejection``).

Why not ``schemathesis.pytest.from_fixture(...)`` + ``@schema.parametrize()``: under pytest 9.2
its lazy runner fails before running anything (``AttributeError: 'Function' object has no
attribute '_nodeid'``: pytest 9.2 dropped ``Node._nodeid``, which schemathesis 4.32.5 still sets).
So the schema is loaded in a fixture from the ``app`` fixture with
``schemathesis.openapi.from_wsgi``, and each operation runs as a pytest subtest: a Hypothesis
``@given`` over ``operation.as_strategy(...)`` that validates with
``case.call_and_validate(checks=...)``. Operations come from the document itself, so a new
endpoint is fuzzed without touching this file.

Operations tagged ``opencollective`` are left out: they call Open Collective (by default the real
https://api.opencollective.com), which a fuzz must never reach; fuzzing them needs the fake
server of ``tests/oc_fake``. As a second guard the app's ``OPENCOLLECTIVE_API_URL`` points at a
closed local port here. Operations tagged ``pots`` and ``proofs`` (``AIMED_TAGS``) must also
answer 200 to one request aimed at the pot this module fills: the fuzz reaches real data.

Budget: ``MAX_EXAMPLES`` per operation; the module runs in well under a minute on both backends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi import checks as openapi_checks

from integrations.opencollective.client import ENV_API_URL
from ledger import operations
from ledger.db import Database

PROBLEM_JSON = "application/problem+json"
OPENAPI_PATH = "/api/v1/openapi.json"
NOT_FUZZED_TAG = "opencollective"
AIMED_TAGS = {"pots", "proofs"}
NOWHERE = "http://127.0.0.1:9/graphql/v2"  # the discard port: nothing listens
MAX_EXAMPLES = 30

FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,  # a request is a database round trip: its timing varies and is not under test
    database=None,  # the @given function is rebuilt for each test: saved examples would not replay
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[
        # @given runs inside the test, on fixtures made once for it; no example changes the ledger.
        HealthCheck.function_scoped_fixture,
        # Whole requests generated from a schema are slow to make by Hypothesis' standards.
        HealthCheck.too_slow,
    ],
)


# -- checks --------------------------------------------------------------------------------------


def documented_response(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """schemathesis' media type and body schema checks, on every answer but a redirect."""
    if 300 <= response.status_code < 400:
        return
    openapi_checks.content_type_conformance(ctx, response, case)
    openapi_checks.response_schema_conformance(ctx, response, case)


def problem_details(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """Every error is RFC 9457 ``application/problem+json`` with its four members."""
    if response.status_code < 400:
        return
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == PROBLEM_JSON, f"an error as {content_type!r}"
    body = response.json()
    assert isinstance(body, dict), body
    for key in ("type", "title", "detail"):
        assert isinstance(body.get(key), str) and body[key], f"a problem without {key!r}: {body}"
    assert type(body.get("status")) is int, body
    assert body["status"] == response.status_code, body


CHECKS: list[Callable[..., Any]] = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.negative_data_rejection,
    documented_response,
    problem_details,
]


# -- data and strategies -------------------------------------------------------------------------


ENTRIES = (
    ("contribution", 1000, None),
    ("fee", 25, None),
    ("allocation", 300, "proposal:1"),
    ("payout", 100, "proposal:1"),
    ("payout", 50, None),
)


@pytest.fixture
def fuzz_pot(db: Database, pot_slug: str) -> str:
    """A pot with five entries of four kinds, so real slugs and seqs reach the ledger."""
    with db.write() as session:
        for kind, amount, commitment in ENTRIES:
            operations.record(
                session, pot_slug, kind, amount, memo="fuzz", actor="t", commitment=commitment
            )
    return pot_slug


@pytest.fixture
def api_schema(app: Flask, fuzz_pot: str) -> schemathesis.BaseSchema:
    """The app's own OpenAPI document, calling the app in-process (WSGI), without the operations
    that would call Open Collective."""
    app.config[ENV_API_URL] = NOWHERE
    schema = schemathesis.openapi.from_wsgi(OPENAPI_PATH, app)
    return schema.exclude(tag=NOT_FUZZED_TAG)


def issued_cursors(app: Flask, slug: str) -> list[str]:
    """The cursors the API itself hands out for the pot, one entry per page."""
    client, cursors = app.test_client(), []
    query: dict[str, Any] = {"limit": 1}
    while True:
        page = client.get(f"/api/v1/pots/{slug}/entries", query_string=query).get_json()
        if page["next_cursor"] is None:
            return cursors
        cursors.append(page["next_cursor"])
        query["cursor"] = page["next_cursor"]


def integer_query_names(
    document: dict[str, Any], operation: schemathesis.APIOperation
) -> list[str]:
    definition = document["paths"][operation.path][operation.method.lower()]
    return [
        p["name"]
        for p in definition.get("parameters", [])
        if p["in"] == "query" and p.get("schema", {}).get("type") == "integer"
    ]


def strategies(
    operation: schemathesis.APIOperation, slug: str, cursors: list[str], small_ints: list[str]
) -> list[st.SearchStrategy[Any]]:
    """What to send to one operation (see the module's docstring)."""
    negative = schemathesis.GenerationMode.NEGATIVE
    found = [operation.as_strategy()]
    path_names = {p.name for p in operation.path_parameters}
    if path_names:
        found.append(operation.as_strategy(negative))
    if "slug" not in path_names:
        return found

    def aimed(**query: Any) -> st.SearchStrategy[Any]:
        """The real pot; `seq` among its entries, their neighbours or any integer at all."""
        if "seq" not in path_names:
            return operation.as_strategy(path_parameters={"slug": slug}, query=query or None)
        seqs = st.integers(min_value=-1, max_value=len(ENTRIES) + 1) | st.integers()
        return seqs.flatmap(
            lambda seq: operation.as_strategy(
                path_parameters={"slug": slug, "seq": seq}, query=query or None
            )
        )

    found.append(aimed())
    # Any text as a slug, not only what the document's `string` yields: "/", "%", NUL, emoji...
    found.append(
        st.text(min_size=1).flatmap(
            lambda text: operation.as_strategy(path_parameters={"slug": text})
        )
    )
    if len(operation.query):
        found.append(operation.as_strategy(negative, path_parameters={"slug": slug}))
    if small_ints:
        # Counts and positions inside (and just outside) the pot's ledger, not only huge ones.
        small = st.integers(min_value=0, max_value=len(ENTRIES) + 1)
        found.append(
            st.fixed_dictionaries({name: small for name in small_ints}).flatmap(
                lambda query: aimed(**query)
            )
        )
    if "cursor" in {p.name for p in operation.query}:
        # Real cursors, so filters and limits meet real pages rather than a 400 for the cursor.
        found.append(st.sampled_from(cursors).flatmap(lambda cursor: aimed(cursor=cursor)))
    return found


def aimed_case(
    operation: schemathesis.APIOperation, slug: str, small_ints: list[str]
) -> schemathesis.Case:
    """One request that must succeed: the real pot, its first entry, 1 for every count."""
    known = {"slug": slug, "seq": 1}
    return operation.Case(
        path_parameters={p.name: known[p.name] for p in operation.path_parameters},
        query={name: 1 for name in small_ints} or None,
    )


def fuzz(found: list[st.SearchStrategy[Any]]) -> None:
    """Send what ``found`` generates and check every answer."""

    @FUZZ_SETTINGS
    @given(case=st.one_of(found))
    def send(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    send()


# -- tests ---------------------------------------------------------------------------------------


def test_fuzz_every_operation(
    app: Flask,
    api_schema: schemathesis.BaseSchema,
    fuzz_pot: str,
    subtests: pytest.Subtests,
) -> None:
    document = app.test_client().get(OPENAPI_PATH).get_json()
    cursors = issued_cursors(app, fuzz_pot)
    assert len(cursors) == len(ENTRIES) - 1
    labels = []
    for result in api_schema.get_all_operations():
        operation = result.ok()  # raises if the document has an operation schemathesis can't read
        labels.append(operation.label)
        with subtests.test(msg=operation.label):
            small_ints = integer_query_names(document, operation)
            if set(operation.tags) & AIMED_TAGS and operation.method.upper() == "GET":
                # The real data answers, and answers as documented; then the fuzz.
                aimed = aimed_case(operation, fuzz_pot, small_ints)
                response = aimed.call_and_validate(checks=CHECKS)
                assert response.status_code == 200, response.text
            fuzz(strategies(operation, fuzz_pot, cursors, small_ints))
    assert {"GET /api/v1/pots", "GET /api/v1/pots/{slug}/entries/{seq}"} <= set(labels)
    assert "GET /api/v1/pots/{slug}/reconciliation" not in labels  # excluded: Open Collective


@pytest.mark.parametrize(
    ("label", "path_parameters", "query", "status"),
    [
        ("GET /api/v1/pots/{slug}", {"slug": "no-such-pot"}, None, 404),
        ("GET /api/v1/pots/{slug}/entries", {"slug": "no-such-pot"}, None, 404),
        ("GET /api/v1/pots/{slug}/entries", {}, {"limit": 0}, 422),
        ("GET /api/v1/pots/{slug}/entries", {}, {"cursor": "!!!"}, 400),
        ("GET /api/v1/pots/{slug}/entries/{seq}", {"seq": 99}, None, 404),
    ],
)
def test_error_answers_match_the_document(
    api_schema: schemathesis.BaseSchema,
    fuzz_pot: str,
    label: str,
    path_parameters: dict[str, Any],
    query: dict[str, Any] | None,
    status: int,
) -> None:
    """Errors are documented as what they are: problem+json, with the problem's schema."""
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label
    names = {p.name for p in operation.path_parameters}
    defaults = {"slug": fuzz_pot, "seq": 1}
    case = operation.Case(
        path_parameters={name: path_parameters.get(name, defaults[name]) for name in names},
        query=query,
    )

    response = case.call_and_validate(
        checks=[
            openapi_checks.content_type_conformance,
            openapi_checks.response_schema_conformance,
            problem_details,
        ]
    )

    assert response.status_code == status
    documented = api_schema.get_content_types(operation, response)
    assert documented == [PROBLEM_JSON]


def test_checkpoint_as_text_is_documented(
    api_schema: schemathesis.BaseSchema, fuzz_pot: str
) -> None:
    """Regression: the document once listed only application/json for the checkpoint's 200."""
    operation = api_schema.find_operation_by_label("GET /api/v1/pots/{slug}/checkpoint")
    assert operation is not None
    case = operation.Case(path_parameters={"slug": fuzz_pot})

    response = case.call_and_validate(
        checks=[openapi_checks.content_type_conformance, openapi_checks.response_schema_conformance]
    )

    assert response.status_code == 200
    assert response.headers["content-type"][0].startswith("text/plain")
