"""The ledger keeps each pot's RFC 9162 tree as it grows, and verify checks it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from ledger import batch, journal, merkle, operations, proofs, tree
from ledger import pots as ledger_pots
from ledger.chain import canonical_bytes, stored_document
from ledger.db import Database
from ledger.models import Entry, MerkleNode
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
        for i in range(16):
            operations.record(session, "t", "contribution", 100 + i, memo="m", actor="t")
    execute(
        fresh_db,
        "DROP TRIGGER IF EXISTS ledger_merkle_nodes_append_only ON ledger_merkle_nodes"
        if fresh_db.dialect == "postgresql"
        else "DROP TRIGGER ledger_merkle_nodes_no_update",
    )
    # The one stored node of 16 entries (the levels below it are computed from the leaves).
    execute(fresh_db, "UPDATE ledger_merkle_nodes SET hash = :h WHERE level = 4", h=b"\x00" * 32)
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
        "DROP TRIGGER ledger_merkle_nodes_computed_levels"
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


def test_only_levels_from_four_up_are_stored_and_the_rest_computed(
    db: Database, pot_slug: str
) -> None:
    """Appends, one by one and in batches, store just the nodes they complete from level 4 up;
    every root and proof, read from those and the leaves, is the RFC's."""
    with db.write() as session:
        for i in range(21):
            operations.record(session, pot_slug, "contribution", 100 + i, memo="m", actor="t")
    with db.write() as session:
        batch.append_many(
            session,
            pot_slug,
            [
                journal.EntryRequest(
                    kind="fee", memo=f"f{i}", actor="t", postings=operations.postings_for("fee", i)
                )
                for i in range(1, 20)
            ],
        )
    with db.read() as session:
        pot = ledger_pots.get_pot(session, pot_slug)
        entries = session.scalars(select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq))
        leaves = [bytes(e.leaf_hash or b"") for e in entries]
        memory = merkle.MemoryTree()
        for leaf in leaves:
            memory.append_leaf_hash(leaf)
        stored = {
            (level, idx): bytes(value)
            for level, idx, value in session.execute(
                select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(
                    MerkleNode.pot_id == pot.id
                )
            )
        }
        # 40 leaves: the subtrees of 16 at 0-15 and 16-31, of 32 at 0-31.
        assert stored == {key: memory.get_node(*key) for key in ((4, 0), (4, 1), (5, 0))}
        get_node = tree.node_getter(session, pot.id)
        for size in range(1, 41):
            root = merkle.root_from_leaves(leaves[:size])
            assert tree.root(session, pot.id, size) == root
            assert proofs.tree_root(session, pot, size) == root
            for index in {0, size // 3, size - 1}:
                proof = merkle.inclusion_proof(index, size, get_node)
                merkle.verify_inclusion(leaves[index], index, size, proof, root)
                served = proofs.inclusion(session, pot, index + 1, size)
                merkle.verify_inclusion(leaves[index], index, size, served.proof, root)
        for old in (1, 7, 16, 17, 33):
            served_consistency = proofs.consistency(session, pot, old, 40)
            merkle.verify_consistency(
                old,
                40,
                merkle.root_from_leaves(leaves[:old]),
                served_consistency.new_root,
                served_consistency.proof,
            )
        assert verify_pot(session, pot).ok


def test_a_node_below_level_four_is_refused_and_a_forged_one_ignored(fresh_db: Database) -> None:
    """The database refuses a row below level 4 (those nodes are computed); one slipped in with
    the trigger dropped, as an earlier revision might have stored it, is never read."""
    with fresh_db.write() as session:
        ledger_pots.create_pot(session, "t", name="T", currency="GBP")
        for i in range(8):
            operations.record(session, "t", "contribution", 100 + i, memo="m", actor="t")
    forge = (
        "INSERT INTO ledger_merkle_nodes (pot_id, level, idx, hash) "
        "SELECT id, :level, 0, :h FROM pots WHERE slug = 't'"
    )
    for level in (1, 2, 3):
        with pytest.raises(DBAPIError, match="computed from them"):
            execute(fresh_db, forge, level=level, h=b"\x03" * 32)
    execute(
        fresh_db,
        "DROP TRIGGER ledger_merkle_nodes_computed_levels"
        + (" ON ledger_merkle_nodes" if fresh_db.dialect == "postgresql" else ""),
    )
    for level in (1, 2, 3):
        execute(fresh_db, forge, level=level, h=b"\x03" * 32)
    with fresh_db.read() as session:
        pot = ledger_pots.get_pot(session, "t")
        entries = session.scalars(select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq))
        leaves = [bytes(e.leaf_hash or b"") for e in entries]
        root = merkle.root_from_leaves(leaves)
        assert proofs.tree_root(session, pot, 8) == root
        served = proofs.inclusion(session, pot, 8)
        merkle.verify_inclusion(leaves[7], 7, 8, served.proof, root)
        assert verify_pot(session, pot).ok
