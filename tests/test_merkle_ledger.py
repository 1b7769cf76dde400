"""The ledger keeps each pot's RFC 9162 tree as it grows, and verify checks it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from ledger import merkle, operations, tree
from ledger import pots as ledger_pots
from ledger.chain import canonical_bytes, stored_document
from ledger.db import Database
from ledger.models import Entry
from ledger.verify import verify_pot
from tamper import execute


@settings(max_examples=30)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=40))
def test_frontier_matches_the_rfc_root(sizes: list[int]) -> None:
    leaves = [merkle.leaf_hash(bytes([i % 256, i // 256])) for i in range(sum(sizes))]
    frontier = merkle.Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root() == merkle.root_from_leaves(leaves)


def test_stored_tree_matches_the_entries(db: Database, pot_slug: str) -> None:
    with db.write() as session:
        for i in range(13):
            operations.record(session, pot_slug, "contribution", 100 + i, memo="m", actor="t")
    with db.read() as session:
        pot = ledger_pots.get_pot(session, pot_slug)
        entries = session.query(Entry).filter_by(pot_id=pot.id).order_by(Entry.seq).all()
        leaves = [
            merkle.leaf_hash(canonical_bytes(stored_document(pot.slug, e, e.postings)))
            for e in entries
        ]
        for size in range(1, 14):
            assert tree.root(session, pot.id, size) == merkle.root_from_leaves(leaves[:size])
        proof = merkle.inclusion_proof(4, 13, tree.node_getter(session, pot.id))
        merkle.verify_inclusion(leaves[4], 4, 13, proof, merkle.root_from_leaves(leaves))


def test_verify_notices_a_forged_tree_node(fresh_db: Database) -> None:
    with fresh_db.write() as session:
        ledger_pots.create_pot(session, "t", name="T", currency="GBP")
        for i in range(4):
            operations.record(session, "t", "contribution", 100 + i, memo="m", actor="t")
    execute(
        fresh_db,
        "DROP TRIGGER IF EXISTS ledger_merkle_nodes_append_only ON ledger_merkle_nodes"
        if fresh_db.dialect == "postgresql"
        else "DROP TRIGGER ledger_merkle_nodes_no_update",
    )
    execute(fresh_db, "UPDATE ledger_merkle_nodes SET hash = :h WHERE level = 2", h=b"\x00" * 32)
    with fresh_db.read() as session:
        report = verify_pot(session, ledger_pots.get_pot(session, "t"))
    assert not report.ok and "Merkle" in report.problems[0]


def test_verify_notices_a_forged_leaf_hash(fresh_db: Database) -> None:
    with fresh_db.write() as session:
        ledger_pots.create_pot(session, "t", name="T", currency="GBP")
        for i in range(3):
            operations.record(session, "t", "contribution", 100 + i, memo="m", actor="t")
    execute(
        fresh_db,
        "DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries"
        if fresh_db.dialect == "postgresql"
        else "DROP TRIGGER ledger_entries_no_update",
    )
    execute(fresh_db, "UPDATE ledger_entries SET leaf_hash = :h WHERE seq = 2", h=b"\x01" * 32)
    with fresh_db.read() as session:
        report = verify_pot(session, ledger_pots.get_pot(session, "t"))
    assert not report.ok and report.first_bad_seq == 2
    assert "leaf hash" in report.problems[0]


def test_a_forged_leaf_row_is_refused_ignored_and_reported(fresh_db: Database) -> None:
    """Leaves live on their entries: the database refuses a level-0 tree row outright; one
    slipped in with that trigger dropped changes no proof, and verify names it."""
    with fresh_db.write() as session:
        ledger_pots.create_pot(session, "t", name="T", currency="GBP")
        for i in range(3):
            operations.record(session, "t", "contribution", 100 + i, memo="m", actor="t")
    forge = (
        "INSERT INTO ledger_merkle_nodes (pot_id, level, idx, hash) "
        "SELECT id, 0, 0, :h FROM pots WHERE slug = 't'"
    )
    with pytest.raises(DBAPIError, match="leaves live on their entries"):
        execute(fresh_db, forge, h=b"\x02" * 32)
    execute(
        fresh_db,
        "DROP TRIGGER ledger_merkle_nodes_no_leaves"
        + (" ON ledger_merkle_nodes" if fresh_db.dialect == "postgresql" else ""),
    )
    execute(fresh_db, forge, h=b"\x02" * 32)
    with fresh_db.read() as session:
        pot = ledger_pots.get_pot(session, "t")
        entries = session.scalars(select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq))
        leaves = [bytes(e.leaf_hash or b"") for e in entries]
        proof = merkle.inclusion_proof(1, 3, tree.node_getter(session, pot.id))
        merkle.verify_inclusion(leaves[1], 1, 3, proof, merkle.root_from_leaves(leaves))
        report = verify_pot(session, pot)
    assert not report.ok and report.first_bad_seq == 1
    assert "level-0 tree row" in report.problems[0]
