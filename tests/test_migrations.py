"""The migrations are the only source of the schema: they must match the models exactly."""

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import DatabaseFactory
from legacy import Movement, write_pot
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

import ledger.schema  # noqa: F401  (every table on Base.metadata)
from app import migrate
from ledger import batch, journal, merkle, operations, tree
from ledger import pots as ledger_pots
from ledger.chain import canonical_bytes, stored_document
from ledger.db import Database
from ledger.models import Base, Entry
from ledger.verify import verify_pot
from tamper import execute


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_twice_is_harmless(db: Database) -> None:
    migrate.upgrade(db)
    assert migrate.current_revision(db) is not None


def test_lighter_entry_indexes_keep_data_and_guarantees(
    backend: str, databases: DatabaseFactory
) -> None:
    """0008 rebuilds ledger_entries on SQLite: a populated pot keeps its entries (and the
    postings that refer to them), verifies, and every rule still holds afterwards."""
    db = Database(databases.url(backend))
    try:
        migrate.upgrade(db, "0007")
        write_pot(
            db,
            "before",
            [
                Movement("contribution", 5_000, external_ref="r1"),
                Movement("payout", 1_000, idempotency_key="k1"),
                Movement("reversal", 1_000, reverses=2),
            ],
        )
        migrate.upgrade(db)  # through 0008 (and on)
        with db.read() as session:
            pot = ledger_pots.get_pot(session, "before")
            assert verify_pot(session, pot).ok
        # Still unique where set, still free where unset.
        for refused in (
            dict(external_ref="r1"),
            dict(idempotency_key="k1"),
        ):
            with pytest.raises(IntegrityError), db.engine.begin() as conn:
                conn.execute(insert(Entry), [entry_row(pot.id, 99, **refused)])
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(insert(Entry), [entry_row(pot.id, 99, reverses_seq=2)])
        with db.engine.begin() as conn:
            conn.execute(insert(Entry), [entry_row(pot.id, 99), entry_row(pot.id, 100)])
        # Append-only and foreign keys, as before.
        with pytest.raises(DBAPIError, match="append-only"):
            execute(db, "UPDATE ledger_entries SET memo = 'x'")
        with pytest.raises(DBAPIError, match="append-only"):
            execute(db, "DELETE FROM ledger_entries")
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO ledger_postings (entry_id, position, account, amount, currency)"
                    " VALUES (999999, 0, 'available', 1, 'GBP')"
                )
            )
    finally:
        db.dispose()


def entry_row(pot_id: int, seq: int, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "pot_id": pot_id,
        "seq": seq,
        "recorded_at": "2026-11-23T10:15:00.000000Z",
        "kind": "adjustment",
        "memo": "raw",
        "actor": "t",
        "external_ref": None,
        "idempotency_key": None,
        "reverses_seq": None,
        "data_json": "{}",
        "fingerprint": "0" * 64,
        "prev_hash": "0" * 64,
        "hash": f"{seq:064d}",
    }
    return row | values


def test_leaves_recorded_before_0009_keep_serving(backend: str, databases: DatabaseFactory) -> None:
    """Entries recorded before 0009 keep their leaves as level-0 node rows, later ones carry
    their own: roots, proofs and verify work across the two, and appends continue the tree."""
    db = Database(databases.url(backend))
    try:
        migrate.upgrade(db, "0008")
        leaves = write_pot(db, "mixed", [Movement("contribution", 1_000 + i) for i in range(5)])
        migrate.upgrade(db)
        with db.write() as session:
            operations.record(session, "mixed", "contribution", 77, memo="after", actor="t")
            batch.append_many(
                session,
                "mixed",
                [
                    journal.EntryRequest(
                        kind="fee",
                        memo=f"fee {i}",
                        actor="t",
                        postings=operations.postings_for("fee", 10 + i),
                    )
                    for i in range(6)
                ],
            )
        with db.read() as session:
            pot = ledger_pots.get_pot(session, "mixed")
            assert verify_pot(session, pot).ok
            entries = session.scalars(
                select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq)
            ).all()
            assert [e.leaf_hash is None for e in entries] == [True] * 5 + [False] * 7
            leaves += [bytes(e.leaf_hash or b"") for e in entries[5:]]
            assert leaves[5:] == [
                merkle.leaf_hash(canonical_bytes(stored_document(pot.slug, e, e.postings)))
                for e in entries[5:]
            ]
            get_node = tree.node_getter(session, pot.id)
            for size in range(1, 13):
                assert tree.root(session, pot.id, size) == merkle.root_from_leaves(leaves[:size])
            root = merkle.root_from_leaves(leaves)
            for index in (0, 4, 5, 11):
                proof = merkle.inclusion_proof(index, 12, get_node)
                merkle.verify_inclusion(leaves[index], index, 12, proof, root)
            old = merkle.root_from_leaves(leaves[:5])
            merkle.verify_consistency(5, 12, old, root, merkle.consistency_proof(5, 12, get_node))
        # New entries add no level-0 rows.
        with db.engine.connect() as conn:
            level_0 = conn.execute(
                text("SELECT count(*) FROM ledger_merkle_nodes WHERE pot_id = :p AND level = 0"),
                {"p": pot.id},
            ).scalar_one()
        assert level_0 == 5
    finally:
        db.dispose()


def test_pots_older_than_their_tree_get_one(backend: str, databases: DatabaseFactory) -> None:
    """0002 builds the tree of entries recorded before trees existed; it serves as any other."""
    db = Database(databases.url(backend))
    try:
        migrate.upgrade(db, "0001")
        leaves = write_pot(
            db, "early", [Movement("contribution", 500 + i) for i in range(7)], tree_rows=False
        )
        migrate.upgrade(db)
        with db.write() as session:
            operations.record(session, "early", "contribution", 9, memo="later", actor="t")
        with db.read() as session:
            pot = ledger_pots.get_pot(session, "early")
            assert verify_pot(session, pot).ok
            assert tree.root(session, pot.id, 7) == merkle.root_from_leaves(leaves)
    finally:
        db.dispose()


def test_an_old_foreign_key_violation_does_not_block_upgrades(
    backend: str, databases: DatabaseFactory
) -> None:
    """Migrations check on SQLite that they broke no foreign key; one broken long before (say,
    by hand with foreign keys off) is not theirs, and must not stop every deploy."""
    if backend != "sqlite":
        pytest.skip("foreign keys are only ever off on SQLite")
    db = Database(databases.url(backend))
    try:
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            raw: Any = conn.connection.driver_connection
            raw.execute("PRAGMA foreign_keys = OFF")
            raw.execute(
                "INSERT INTO ledger_balances (pot_id, account, amount, non_negative) "
                "VALUES (999, 'available', 0, 1)"
            )
            raw.execute("PRAGMA foreign_keys = ON")
        migrate.upgrade(db)  # nothing to do, and nothing new broken
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO ledger_balances (pot_id, account, amount, non_negative) "
                    "VALUES (998, 'available', 0, 1)"
                )
            )
    finally:
        db.dispose()


def _nodes(db: Database, pot_id: int) -> dict[tuple[int, int], bytes]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT level, idx, hash FROM ledger_merkle_nodes WHERE pot_id = :p"),
            {"p": pot_id},
        )
        return {(level, idx): bytes(value) for level, idx, value in rows}


def test_low_levels_are_computed_from_0010_and_stored_again_on_downgrade(
    backend: str, databases: DatabaseFactory
) -> None:
    """From 0010 appends store no node below level 4; the rows an older pot holds there stay,
    unread. Downgrading stores the nodes 0009 expects, and 0008 finds its tree whole."""
    db = Database(databases.url(backend))
    try:
        migrate.upgrade(db, "0008")
        leaves = write_pot(db, "old", [Movement("contribution", 1_000 + i) for i in range(11)])
        migrate.upgrade(db)
        with db.write() as session:
            for i in range(30):
                operations.record(session, "old", "fee", 1 + i, memo=f"fee {i}", actor="t")
        with db.read() as session:
            pot = ledger_pots.get_pot(session, "old")
            pot_id = pot.id
            assert verify_pot(session, pot).ok
            entries = session.scalars(
                select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq)
            ).all()
            leaves += [bytes(e.leaf_hash or b"") for e in entries[11:]]
            for size in range(1, 42):
                assert tree.root(session, pot_id, size) == merkle.root_from_leaves(leaves[:size])
        memory = merkle.MemoryTree()
        for leaf in leaves:
            memory.append_leaf_hash(leaf)
        every = {
            (level, index): memory.get_node(level, index)
            for level in range(memory.size.bit_length())
            for index in range(memory.size >> level)
        }
        old = {key: value for key, value in every.items() if key[1] < 11 >> key[0]}
        # The old pot's rows (all levels of its 11 leaves), and from 0010 levels 4 and up.
        assert _nodes(db, pot_id) == old | {k: v for k, v in every.items() if k[0] >= 4}

        migrate.downgrade(db, "0009")
        assert _nodes(db, pot_id) == old | {k: v for k, v in every.items() if k[0] >= 1}
        with pytest.raises(DBAPIError, match="leaves live on their entries"):
            execute(
                db,
                "INSERT INTO ledger_merkle_nodes (pot_id, level, idx, hash) VALUES (:p, 0, 99, :h)",
                p=pot_id,
                h=bytes(32),
            )
        execute(  # 0009 allowed rows above level 0
            db,
            "INSERT INTO ledger_merkle_nodes (pot_id, level, idx, hash) VALUES (:p, 1, 99, :h)",
            p=pot_id,
            h=bytes(32),
        )
        migrate.downgrade(db, "0008")
        assert _nodes(db, pot_id) == every | {(1, 99): bytes(32)}
        migrate.upgrade(db)
        with db.read() as session:
            assert verify_pot(session, ledger_pots.get_pot(session, "old")).ok
    finally:
        db.dispose()
