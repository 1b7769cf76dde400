"""Merkle proofs over HTTP (``/api/v1/pots/{slug}/proofs/...``), on SQLite and PostgreSQL.

Every proof the API gives is checked with RFC 9162 verification against roots computed here
from the entries themselves, never against what the API says. Bad parameters are problems, not
500s.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select

from ledger import merkle, operations, proofs
from ledger import pots as ledger_pots
from ledger.chain import canonical_bytes, stored_document
from ledger.db import Database
from ledger.models import Entry, Pot

API = "/api/v1/pots"
PROBLEM_JSON = "application/problem+json"
ENTRIES = 13  # not a power of two: the tree has a ragged right edge


def b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def fill(db: Database, slug: str, count: int) -> None:
    with db.write() as session:
        for i in range(count):
            operations.record(session, slug, "contribution", 1000 + i, memo=f"gift {i}", actor="t")


def leaves(db: Database, slug: str) -> list[bytes]:
    """The Merkle leaf hash of every entry, recomputed from the stored columns."""
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        entries = session.scalars(select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq))
        return [
            merkle.leaf_hash(canonical_bytes(stored_document(slug, e, e.postings))) for e in entries
        ]


def get_ok(client: FlaskClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


@pytest.fixture
def filled(db: Database, pot_slug: str) -> tuple[str, list[bytes]]:
    fill(db, pot_slug, ENTRIES)
    return pot_slug, leaves(db, pot_slug)


def test_every_inclusion_proof_verifies(
    client: FlaskClient, filled: tuple[str, list[bytes]]
) -> None:
    slug, hashed = filled
    for size in (1, 2, 5, 8, ENTRIES):
        root = merkle.root_from_leaves(hashed[:size])
        for seq in range(1, size + 1):
            body = get_ok(client, f"{API}/{slug}/proofs/inclusion?seq={seq}&tree_size={size}")
            assert (body["seq"], body["leaf_index"], body["tree_size"]) == (seq, seq - 1, size)
            assert b64(body["leaf_hash"]) == hashed[seq - 1]
            assert b64(body["root"]) == root
            proof = [b64(p) for p in body["proof"]]
            merkle.verify_inclusion(hashed[seq - 1], seq - 1, size, proof, root)


def test_inclusion_defaults_to_the_whole_ledger_and_names_the_entry_hash(
    client: FlaskClient, db: Database, filled: tuple[str, list[bytes]]
) -> None:
    slug, hashed = filled
    body = get_ok(client, f"{API}/{slug}/proofs/inclusion?seq=4")
    assert body["tree_size"] == ENTRIES
    assert b64(body["root"]) == merkle.root_from_leaves(hashed)
    entry = get_ok(client, f"/api/v1/pots/{slug}/entries/4")
    assert body["entry_hash"] == entry["hash"]  # hex, like the hash chain


def test_every_consistency_proof_verifies(
    client: FlaskClient, filled: tuple[str, list[bytes]]
) -> None:
    slug, hashed = filled
    for old in range(1, ENTRIES + 1):
        for new in range(old, ENTRIES + 1):
            body = get_ok(client, f"{API}/{slug}/proofs/consistency?from={old}&to={new}")
            old_root, new_root = (merkle.root_from_leaves(hashed[:n]) for n in (old, new))
            assert (body["from"], body["to"]) == (old, new)
            assert (b64(body["old_root"]), b64(body["new_root"])) == (old_root, new_root)
            proof = [b64(p) for p in body["proof"]]
            assert (proof == []) == (old == new)
            merkle.verify_consistency(old, new, old_root, new_root, proof)


def test_consistency_defaults_to_the_whole_ledger(
    client: FlaskClient, filled: tuple[str, list[bytes]]
) -> None:
    slug, hashed = filled
    body = get_ok(client, f"{API}/{slug}/proofs/consistency?from=3")
    assert body["to"] == ENTRIES
    assert b64(body["new_root"]) == merkle.root_from_leaves(hashed)


def test_empty_ledger(client: FlaskClient, pot_slug: str) -> None:
    body = get_ok(client, f"{API}/{pot_slug}/proofs/consistency?from=0&to=0")
    assert body["proof"] == [] and b64(body["new_root"]) == merkle.EMPTY_ROOT
    response = client.get(f"{API}/{pot_slug}/proofs/inclusion?seq=1")
    assert response.status_code == 422 and response.mimetype == PROBLEM_JSON


HUGE = "9" * 30
ENORMOUS = "9" * 5000  # beyond Python's int() digit limit


BAD_REQUESTS = [
    ("inclusion", 422, "seq"),  # missing
    ("inclusion?seq=0", 422, "seq"),
    ("inclusion?seq=-1", 422, "seq"),
    ("inclusion?seq=abc", 422, "seq"),
    ("inclusion?seq=1.5", 422, "seq"),
    ("inclusion?seq=1e3", 422, "seq"),
    ("inclusion?seq=%2B1", 422, "seq"),  # "+1"
    ("inclusion?seq=1_0", 422, "seq"),
    ("inclusion?seq=%20%201", 422, "seq"),
    ("inclusion?seq=%D9%A1", 422, "seq"),  # ARABIC-INDIC DIGIT ONE
    (f"inclusion?seq={HUGE}", 422, "seq"),
    (f"inclusion?seq={ENORMOUS}", 422, "seq"),
    ("inclusion?seq=5&tree_size=4", 422, "at most tree_size"),
    ("inclusion?seq=1&tree_size=0", 422, "tree_size"),
    (f"inclusion?seq=1&tree_size={ENTRIES + 1}", 422, f"has {ENTRIES} entries"),
    (f"inclusion?seq={ENTRIES + 1}", 422, "at most tree_size"),
    (f"inclusion?seq=1&tree_size={HUGE}", 422, "tree_size"),
    ("consistency", 422, "from"),
    ("consistency?from=-1", 422, "from"),
    ("consistency?from=x&to=3", 422, "from"),
    ("consistency?from=2&to=y", 422, "to"),
    ("consistency?from=5&to=4", 422, "never shrinks"),
    ("consistency?from=0&to=4", 422, "RFC 9162"),
    (f"consistency?from=1&to={ENTRIES + 1}", 422, f"has {ENTRIES} entries"),
    (f"consistency?from={HUGE}&to={HUGE}", 422, "from"),
]


def test_bad_requests_are_problems(client: FlaskClient, filled: tuple[str, list[bytes]]) -> None:
    # One test for all cases: each would otherwise pay for its own pot and app.
    slug, _ = filled
    for path, status, says in BAD_REQUESTS:
        response = client.get(f"{API}/{slug}/proofs/{path}")
        body = response.get_data(as_text=True)
        assert response.status_code == status, (path[:60], body)
        assert response.mimetype == PROBLEM_JSON, path[:60]
        problem = response.get_json()
        assert problem["status"] == status
        assert says in problem["detail"], (path[:60], problem["detail"])


@pytest.mark.parametrize("path", ["inclusion?seq=1", "consistency?from=1&to=1"])
def test_unknown_pot_is_not_found(client: FlaskClient, path: str) -> None:
    response = client.get(f"{API}/no-such-pot/proofs/{path}")
    assert response.status_code == 404 and response.mimetype == PROBLEM_JSON


def test_a_proof_costs_a_constant_number_of_queries(
    client: FlaskClient, app: Any, filled: tuple[str, list[bytes]]
) -> None:
    from app.extensions import EXTENSION_KEY

    engine = app.extensions[EXTENSION_KEY].engine
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    slug, _ = filled
    event.listen(engine, "before_cursor_execute", count)
    try:
        get_ok(client, f"{API}/{slug}/proofs/inclusion?seq=3&tree_size={ENTRIES}")
        inclusion = len(statements)
        statements.clear()
        get_ok(client, f"{API}/{slug}/proofs/consistency?from=3&to={ENTRIES}")
        consistency = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # The pot, the nodes (one query), and for inclusion the entry's hash.
    assert inclusion == 3 and consistency == 2


@pytest.mark.parametrize("size", [2, 3, 1000, 10_000, 1_000_000, 2**40 + 12345])
def test_a_proof_reads_logarithmically_many_nodes(size: int) -> None:
    """The planned reads of the largest proofs stay within 2*log2(n) + 2 nodes."""
    wanted: set[tuple[int, int]] = set()

    def plan(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return bytes(32)

    bound = 2 * math.ceil(math.log2(size)) + 2
    for index in (0, size // 2, size - 2, size - 1):
        wanted.clear()
        merkle.inclusion_proof(index, size, plan)
        merkle.root(size, plan)
        assert len(wanted) <= bound
    for old in {1, max(1, size // 3), size - 1}:
        wanted.clear()
        merkle.consistency_proof(old, size, plan)
        merkle.root(old, plan)
        merkle.root(size, plan)
        assert len(wanted) <= bound


def test_a_missing_node_is_reported_as_a_damaged_tree(
    db: Database, filled: tuple[str, list[bytes]]
) -> None:
    slug, _ = filled
    with db.read() as session:
        # A pot object whose id has no stored tree, as if the nodes were gone.
        ghost = Pot(id=2**40, slug=slug, head_seq=ENTRIES)
        with pytest.raises(proofs.DamagedTree):
            proofs.inclusion(session, ghost, 1, ENTRIES)


def test_the_openapi_document_lists_the_endpoints(client: FlaskClient) -> None:
    paths = get_ok(client, "/api/v1/openapi.json")["paths"]
    for path in (
        "/api/v1/pots/{slug}/proofs/inclusion",
        "/api/v1/pots/{slug}/proofs/consistency",
        "/api/v1/pots/{slug}/checkpoint",
        "/api/v1/keys",
    ):
        assert path in paths
