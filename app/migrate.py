"""Running the Alembic migrations programmatically (CLI, tests, Procfile release)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.settings import PROJECT_ROOT
from ledger.db import Database, schema_transaction


def alembic_config() -> Config:
    return Config(str(PROJECT_ROOT / "alembic.ini"))


def upgrade(db: Database, revision: str = "head") -> None:
    config = alembic_config()
    with schema_transaction(db.engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
