"""pytest fixtures for the fake Open Collective. Enable with
`pytest_plugins = ["tests.oc_fake.plugin"]` in a test module (or the root conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeServer
from .state import FakeOpenCollective


@pytest.fixture
def oc_fake() -> FakeOpenCollective:
    """Empty world with one valid token holding every scope; arrange it in the test."""
    return FakeOpenCollective()


@pytest.fixture
def oc_server(oc_fake: FakeOpenCollective) -> Iterator[FakeServer]:
    """The fake running on 127.0.0.1:<random port>; `oc_server.url` is the GraphQL endpoint.

    Teardown fails the test if any request was invalid against the real schema (a test that
    sends one on purpose must clear `rejected_queries`) or if the fake itself crashed.
    """
    with FakeServer(oc_fake) as server:
        yield server
    assert not server.internal_errors, "fake server crashed:\n" + "\n".join(server.internal_errors)
    assert not server.rejected_queries, (
        "queries the real Open Collective API would reject: " + repr(server.rejected_queries)
    )
