"""Helpers shared by tests (importable, unlike conftest)."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from app import create_app
from ledger.db import Database


def make_app(database: Database, tmp_path: Path) -> Flask:
    os.environ.setdefault("COMMONPOT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database.engine.url.render_as_string(False),
            "SECRET_KEY": "test-secret-key",
        }
    )
    return app


def dispose_app(app: Flask) -> None:
    """Close the app's connection pool (its own engine), so no connection outlives the test."""
    from app.extensions import EXTENSION_KEY

    app.extensions[EXTENSION_KEY].dispose()


def invoke_cli(database: Database, tmp_path: Path, *args: str) -> tuple[int, str]:
    """Run a ``commonpot`` command against ``database`` through Flask's CLI runner."""
    app = make_app(database, tmp_path)
    try:
        result = app.test_cli_runner().invoke(args=list(args))
    finally:
        dispose_app(app)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output  # click 8.2+: stdout and stderr interleaved
