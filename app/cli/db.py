"""``commonpot db``: migrate the configured database."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app import migrate
from app.extensions import database


@click.group(cls=AppGroup)
def db() -> None:
    """Database schema."""


@db.command()
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Migrate the configured database (DATABASE_URL) to the latest schema."""
    migrate.upgrade(database(), revision)
    click.echo(f"database at revision {migrate.current_revision(database())}")


@db.command()
def current() -> None:
    """Print the database's schema revision."""
    click.echo(migrate.current_revision(database()) or "empty (run: commonpot db upgrade)")
