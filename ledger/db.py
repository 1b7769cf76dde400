"""Engines and units of work for SQLite and PostgreSQL.

Appends to a pot must serialise across processes and hosts. On PostgreSQL the append takes a row
lock on the pot (``SELECT ... FOR UPDATE``). SQLite has no row locks, so a *write* unit of work
starts with ``BEGIN IMMEDIATE``: it takes the database's write lock up front, and a competing
writer waits (busy timeout) instead of failing half-way. Reads start a plain deferred transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "commonpot_write"


class DatabaseURLError(ValueError):
    """The configured database URL cannot be used."""


def normalise_url(raw: str) -> URL:
    """Parse a database URL, choosing psycopg 3 for PostgreSQL."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise DatabaseURLError(f"DATABASE_URL {raw!r} is not a database URL: {exc}") from None
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseURLError(
            f"DATABASE_URL uses {url.get_backend_name()!r}; "
            "Commonpot supports sqlite and postgresql"
        )
    return url


def create_db_engine(raw_url: str, **kwargs: Any) -> Engine:
    url = normalise_url(raw_url)
    try:
        if url.get_backend_name() == "sqlite":
            engine = create_engine(url, **kwargs)
            _configure_sqlite(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True, **kwargs)
    except NoSuchModuleError as exc:
        raise DatabaseURLError(f"DATABASE_URL driver is not installed: {exc}") from None
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction, for changing the schema (the migrations).

    On SQLite, foreign keys are off for its length: SQLite changes a table's constraints by
    rebuilding it, and dropping the old copy of a table that others refer to would fail (the
    pragma only takes effect outside a transaction). Before committing, PRAGMA foreign_key_check
    must find no violation that was not there before; afterwards they are on again, as every
    other connection has them. The transaction takes the write lock at once (BEGIN IMMEDIATE),
    waiting for running writers rather than failing half-way.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as plain:
        connection = plain.execution_options(**{_WRITE_OPTION: True}) if sqlite else plain
        raw: Any = connection.connection.driver_connection
        if sqlite:
            raw.execute("PRAGMA foreign_keys = OFF")  # autocommit mode: outside a transaction
        try:
            with connection.begin():
                before = _foreign_key_violations(connection) if sqlite else set()
                yield connection
                if sqlite:
                    broken = _foreign_key_violations(connection) - before
                    if broken:
                        raise RuntimeError(
                            f"the migration broke foreign keys: {sorted(broken)[:5]}"
                        )
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys = ON")


def _foreign_key_violations(connection: Connection) -> set[tuple[Any, ...]]:
    """SQLite's foreign key violations: (table, rowid, parent table, constraint index)."""
    return {tuple(row) for row in connection.exec_driver_sql("PRAGMA foreign_key_check")}


def refresh_statistics(engine: Engine, tables: Sequence[str]) -> None:
    """Let PostgreSQL's planner see ``tables`` as they are now (ANALYZE), in a transaction of
    its own. Autovacuum does this too, but only a while after a table has grown: a first sync
    filling a pot with thousands of entries a second would meanwhile be planned as if the pot
    were nearly empty (a scan of all its entries for each page's look-up of references, instead
    of the unique index). SQLite keeps no such statistics unless asked; nothing to do there."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        connection.exec_driver_sql(f"ANALYZE {', '.join(tables)}")


class Database:
    """One configured database: an engine and the two kinds of unit of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.engine = create_db_engine(url, **engine_kwargs)
        writer = self.engine.execution_options(**{_WRITE_OPTION: True})
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(writer, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (closing the session rolls it back)."""
        with self._reads() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work that commits on success and rolls back on any exception."""
        with self._writes() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
