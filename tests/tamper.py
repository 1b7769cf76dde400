"""Helpers for tests that play the attacker with database access: drop the triggers, edit rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from ledger.db import Database

TABLES = ("ledger_entries", "ledger_postings")


def _triggers(dialect: str, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """(drop statement, create statement) for every append-only trigger, as the migration made."""
    pairs = []
    for table in tables:
        if dialect == "postgresql":
            pairs += [
                (
                    f"DROP TRIGGER {table}_append_only ON {table}",
                    f"CREATE OR REPLACE TRIGGER {table}_append_only "
                    f"BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION commonpot_append_only()",
                ),
            ]
        else:
            for action in ("UPDATE", "DELETE"):
                pairs.append(
                    (
                        f"DROP TRIGGER {table}_no_{action.lower()}",
                        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} "
                        f"BEFORE {action} ON {table} "
                        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only'); END",
                    )
                )
    return pairs


@contextmanager
def triggers_dropped(db: Database, tables: tuple[str, ...] = TABLES) -> Iterator[None]:
    pairs = _triggers(db.dialect, tables)
    try:
        with db.engine.begin() as conn:  # all dropped, or none (transactional DDL)
            for drop, _ in pairs:
                conn.execute(text(drop))
        yield
    finally:
        with db.engine.begin() as conn:
            for _, create in pairs:
                conn.execute(text(create))


def execute(db: Database, sql: str, **params: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)
