"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Schemas are made only by the Alembic migrations. Each xdist worker gets its own SQLite file and
its own throwaway PostgreSQL database, migrated once; tests keep out of each other's way by
working in pots with unique slugs. Tests that tamper with the ledger ask for ``fresh_db``.

PostgreSQL is found through ``COMMONPOT_TEST_POSTGRES_URL`` (default: the local server, user
postgres). When it cannot be reached the PostgreSQL half is skipped, unless
``COMMONPOT_REQUIRE_POSTGRES=1`` (set by .ci/run), which makes that a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app import migrate
from helpers import dispose_app, make_app
from ledger import pots as ledger_pots
from ledger.db import Database

POSTGRES_ADMIN_URL = os.environ.get(
    "COMMONPOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("COMMONPOT_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: runs against PostgreSQL")


class DatabaseFactory:
    """Makes migrated throwaway databases and removes them afterwards."""

    def __init__(self, tmp: Path, worker: str) -> None:
        self.tmp = tmp
        self.worker = worker
        self._postgres: list[str] = []
        self._postgres_error: str | None = None

    def url(self, backend: str) -> str:
        name = f"cp_{self.worker}_{uuid.uuid4().hex[:10]}"
        if backend == "sqlite":
            return f"sqlite:///{self.tmp / (name + '.sqlite3')}"
        return self._create_postgres(name)

    def migrated(self, backend: str) -> Database:
        db = Database(self.url(backend))
        migrate.upgrade(db)
        return db

    def _create_postgres(self, name: str) -> str:
        if self._postgres_error:
            self._unavailable(self._postgres_error)
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as exc:
            self._postgres_error = str(exc).splitlines()[0]
            self._unavailable(self._postgres_error)
        finally:
            admin.dispose()
        self._postgres.append(name)
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)

    @staticmethod
    def _unavailable(reason: str) -> None:
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {reason}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)

    def cleanup(self) -> None:
        if not self._postgres:
            return
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self._postgres:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def databases(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"), worker_id)
    yield factory
    factory.cleanup()


_shared: dict[str, Database] = {}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db(backend: str, databases: DatabaseFactory) -> Database:
    """The worker's migrated database for this backend, shared between tests."""
    if backend not in _shared:
        _shared[backend] = databases.migrated(backend)
    return _shared[backend]


@pytest.fixture
def fresh_db(backend: str, databases: DatabaseFactory) -> Iterator[Database]:
    """A database of its own, for tests that tamper with it or read every pot."""
    database = databases.migrated(backend)
    yield database
    database.dispose()


@pytest.fixture(scope="session", autouse=True)
def _dispose_shared() -> Iterator[None]:
    yield
    for database in _shared.values():
        database.dispose()
    _shared.clear()


@pytest.fixture
def pot_slug(db: Database) -> str:
    """A new GBP pot with a unique slug."""
    slug = f"pot-{uuid.uuid4().hex[:12]}"
    with db.write() as session:
        ledger_pots.create_pot(session, slug, name="Test pot", currency="GBP")
    return slug


@pytest.fixture
def app(db: Database, tmp_path: Path) -> Iterator[Flask]:
    application = make_app(db, tmp_path)
    yield application
    dispose_app(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()
