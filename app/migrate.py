"""Running the Alembic migrations programmatically (CLI, tests, Procfile release)."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config

from app.settings import PROJECT_ROOT
from ledger.db import Database, schema_transaction


def alembic_config() -> Config:
    return Config(str(PROJECT_ROOT / "alembic.ini"))


def upgrade(db: Database, revision: str = "head") -> None:
    _run(db, command.upgrade, revision)


def downgrade(db: Database, revision: str) -> None:
    """Take the schema back to ``revision`` (each migration's downgrade keeps the data)."""
    _run(db, command.downgrade, revision)


def _run(db: Database, step: Callable[[Config, str], None], revision: str) -> None:
    config = alembic_config()
    with schema_transaction(db.engine) as connection:
        config.attributes["connection"] = connection
        step(config, revision)


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
