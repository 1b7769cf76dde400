"""A fake Open Collective GraphQL v2 API for tests: a real HTTP server on 127.0.0.1 that checks
every request against Open Collective's real schema before answering from scripted state.

    pytest_plugins = ["tests.oc_fake.plugin"]     # fixtures: oc_fake, oc_server

    def test_something(oc_fake, oc_server):
        oc_fake.add_collective("my-pot", currency="GBP")
        oc_fake.generate_transactions("my-pot", 350)
        client = OpenCollectiveClient(oc_server.url, oc_fake.token)
"""

from .data import account, amount, make_transactions
from .schema import check_request, load_schema
from .server import FakeServer, RejectedQuery
from .state import ALL_SCOPES, FakeOpenCollective, Fault, RecordedRequest

__all__ = [
    "ALL_SCOPES",
    "FakeOpenCollective",
    "FakeServer",
    "Fault",
    "RecordedRequest",
    "RejectedQuery",
    "account",
    "amount",
    "check_request",
    "load_schema",
    "make_transactions",
]
