"""Lighter indexes on ledger entries: the same guarantees, less work per append.

- The unique constraints on ``(pot_id, external_ref)``, ``(pot_id, idempotency_key)`` and
  ``(pot_id, reverses_seq)`` become partial unique indexes over the rows that have a value. Most
  entries have none, and both databases index NULLs in a plain unique index (never comparing them
  equal), so the partial index enforces exactly the same rule without an index entry per row.
- The unique constraint on ``hash`` goes. Each hash covers the entry's pot and sequence number,
  which ``(pot_id, seq)`` already keeps unique, so two equal hashes would take a SHA-256
  collision; nothing looks entries up by hash, and ``ledger verify`` recomputes every hash anyway.
  Its random keys made it the dearest index to maintain.

On SQLite a constraint written in CREATE TABLE cannot be dropped, so the table is rebuilt (batch
mode, with foreign keys off for the migration: see ``ledger.db.schema_transaction``) and its
append-only triggers are made again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.append_only import protect, unprotect

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLE = "ledger_entries"
OPTIONAL = ("external_ref", "idempotency_key", "reverses_seq")


def _name(column: str) -> str:
    return f"uq_{TABLE}_pot_id_{column}"


def upgrade() -> None:
    unprotect(TABLE)
    with op.batch_alter_table(TABLE, recreate="auto") as batch:
        for column in OPTIONAL:
            batch.drop_constraint(_name(column), type_="unique")
        batch.drop_constraint(f"uq_{TABLE}_hash", type_="unique")
    for column in OPTIONAL:
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            _name(column),
            TABLE,
            ["pot_id", column],
            unique=True,
            sqlite_where=where,
            postgresql_where=where,
        )
    protect(TABLE)


def downgrade() -> None:
    unprotect(TABLE)
    for column in OPTIONAL:
        op.drop_index(_name(column), table_name=TABLE)
    with op.batch_alter_table(TABLE, recreate="auto") as batch:
        for column in OPTIONAL:
            batch.create_unique_constraint(_name(column), ["pot_id", column])
        batch.create_unique_constraint(f"uq_{TABLE}_hash", ["hash"])
    protect(TABLE)
