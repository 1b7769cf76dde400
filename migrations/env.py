"""Alembic environment: the same DATABASE_URL as the application, or a connection handed in."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import context
from sqlalchemy import Connection

import ledger.schema  # noqa: F401  (every table on Base.metadata)
from ledger.db import create_db_engine, schema_transaction
from ledger.models import Base

# Revisions import helpers from this folder's package (migrations.append_only).
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return str(url)
    from app.settings import load_settings  # only when run by the alembic command itself

    return load_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_db_engine(_database_url())
    try:
        with schema_transaction(engine) as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Commonpot migrations run online only: set DATABASE_URL and run upgrade")
run_migrations_online()
