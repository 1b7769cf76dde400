"""The migrations are the only source of the schema: they must match the models exactly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import DatabaseFactory
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError

import ledger.schema  # noqa: F401  (every table on Base.metadata)
from app import migrate
from ledger import journal, operations
from ledger import pots as ledger_pots
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
        with db.write() as session:
            ledger_pots.create_pot(session, "before", name="Before 0008", currency="GBP")
            operations.record(
                session, "before", "contribution", 5_000, memo="in", actor="t", external_ref="r1"
            )
            operations.record(
                session, "before", "payout", 1_000, memo="out", actor="t", idempotency_key="k1"
            )
            journal.reverse(session, "before", 2, memo="undo", actor="t")
        migrate.upgrade(db)
        assert migrate.current_revision(db) == "0008"
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
