"""The database itself refuses to rewrite history, whoever asks."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger import operations
from ledger.db import Database
from tamper import execute


@pytest.fixture
def seeded(db: Database, pot_slug: str) -> str:
    with db.write() as session:
        operations.record(session, pot_slug, "contribution", 1_000, memo="m", actor="t")
    return pot_slug


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entries SET memo = 'rewritten' "
        "WHERE pot_id = (SELECT id FROM pots WHERE slug = :slug)",
        "DELETE FROM ledger_entries WHERE pot_id = (SELECT id FROM pots WHERE slug = :slug)",
        "UPDATE ledger_postings SET amount = amount * 2 WHERE entry_id IN (SELECT e.id FROM "
        "ledger_entries e JOIN pots p ON p.id = e.pot_id WHERE p.slug = :slug)",
        "DELETE FROM ledger_postings WHERE entry_id IN (SELECT e.id FROM "
        "ledger_entries e JOIN pots p ON p.id = e.pot_id WHERE p.slug = :slug)",
    ],
)
def test_raw_update_and_delete_are_refused(db: Database, seeded: str, sql: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        execute(db, sql, slug=seeded)
    with db.engine.connect() as conn:
        memo = conn.execute(
            text(
                "SELECT memo FROM ledger_entries e JOIN pots p ON p.id = e.pot_id "
                "WHERE p.slug = :slug"
            ),
            {"slug": seeded},
        ).scalar_one()
    assert memo == "m"


@pytest.mark.parametrize("table", ["ledger_entries", "ledger_postings"])
def test_truncate_is_refused_on_postgresql(db: Database, seeded: str, table: str) -> None:
    if db.dialect != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    with pytest.raises(DBAPIError, match="append-only"):
        execute(db, f"TRUNCATE {table} CASCADE")


def test_deleting_a_pot_with_entries_is_refused(db: Database, seeded: str) -> None:
    with pytest.raises(DBAPIError):
        execute(db, "DELETE FROM pots WHERE slug = :slug", slug=seeded)
