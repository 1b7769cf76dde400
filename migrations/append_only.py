"""DDL that makes tables append-only, on SQLite and PostgreSQL (used by the migrations)."""

from __future__ import annotations

from alembic import op

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION commonpot_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
"""


def protect(table: str) -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on ``table``, in the database."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION commonpot_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION commonpot_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: {action} refused'); END"
            )


def unprotect(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    else:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


_NO_LEAVES = "ledger_merkle_nodes_no_leaves"
_NO_LEAVES_MESSAGE = "Merkle leaves live on their entries (ledger_entries.leaf_hash)"


def refuse_leaf_nodes() -> None:
    """Refuse INSERT of level-0 rows into ledger_merkle_nodes (from revision 0009, an entry
    carries its own leaf; a stray level-0 row could only be a forgery)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION commonpot_no_leaf_nodes() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION '{_NO_LEAVES_MESSAGE}' USING ERRCODE = 'restrict_violation'; "
            "END $$;"
        )
        op.execute(
            f"CREATE TRIGGER {_NO_LEAVES} BEFORE INSERT ON ledger_merkle_nodes FOR EACH ROW "
            "WHEN (NEW.level = 0) EXECUTE FUNCTION commonpot_no_leaf_nodes()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER {_NO_LEAVES} BEFORE INSERT ON ledger_merkle_nodes "
            f"WHEN NEW.level = 0 BEGIN SELECT RAISE(ABORT, '{_NO_LEAVES_MESSAGE}'); END"
        )


def allow_leaf_nodes() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {_NO_LEAVES} ON ledger_merkle_nodes")
        op.execute("DROP FUNCTION IF EXISTS commonpot_no_leaf_nodes()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {_NO_LEAVES}")


_COMPUTED_LEVELS = "ledger_merkle_nodes_computed_levels"


def refuse_computed_nodes(lowest_stored: int) -> None:
    """Refuse INSERT of rows below level ``lowest_stored`` into ledger_merkle_nodes (from
    revision 0010, those nodes are computed from the leaves when read: a new row there could
    only be a forgery). Replaces the trigger of :func:`refuse_leaf_nodes`, level 0 included."""
    message = (
        f"ledger_merkle_nodes keeps levels {lowest_stored} and up: the leaves live on their "
        "entries, the levels between are computed from them"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION commonpot_refuse_row() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation'; "
            "END $$;"
        )
        op.execute(
            f"CREATE TRIGGER {_COMPUTED_LEVELS} BEFORE INSERT ON ledger_merkle_nodes FOR EACH "
            f"ROW WHEN (NEW.level < {lowest_stored}) "
            f"EXECUTE FUNCTION commonpot_refuse_row('{message}')"
        )
    else:
        op.execute(
            f"CREATE TRIGGER {_COMPUTED_LEVELS} BEFORE INSERT ON ledger_merkle_nodes "
            f"WHEN NEW.level < {lowest_stored} BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def allow_computed_nodes() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {_COMPUTED_LEVELS} ON ledger_merkle_nodes")
        op.execute("DROP FUNCTION IF EXISTS commonpot_refuse_row()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {_COMPUTED_LEVELS}")
