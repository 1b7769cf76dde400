"""Commonpot: a shared resource pot that a community decides on together.

``create_app`` is the one composition root: configuration, database, API, pages and CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.extensions import EXTENSION_KEY
from app.settings import load_settings
from ledger.db import Database


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    overrides = dict(config or {})
    settings = load_settings(
        database_url=overrides.get("DATABASE_URL"), secret_key=overrides.get("SECRET_KEY")
    )
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        DATABASE_URL=settings.database_url,
        SECRET_KEY=settings.secret_key,
        LOG_LEVEL=settings.log_level,
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update(overrides)
    _configure_logging(app.config["LOG_LEVEL"])

    app.extensions[EXTENSION_KEY] = Database(app.config["DATABASE_URL"])

    from app import problems
    from app.api import init_api
    from app.cli import register_commands
    from app.web import init_web
    from app.web.opencollective import blp as oc_web_blp

    problems.register(app)
    init_api(app)
    init_web(app)
    app.register_blueprint(oc_web_blp)
    register_commands(app)
    return app


def _configure_logging(level: str) -> None:
    """Our own loggers at the configured level; libraries only when they warn."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in ("app", "ledger", "integrations", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(level)
