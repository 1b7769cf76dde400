"""Configuration from the environment and ``.env`` (python-dotenv).

``DATABASE_URL`` defaults to a SQLite file under ``instance/``. ``SECRET_KEY`` is generated into
``instance/secret_key`` on first run when unset, never a fixed default.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from ledger.db import DatabaseURLError, normalise_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigurationError(RuntimeError):
    """The service cannot start with this configuration; the message says what to change."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    log_level: str
    instance_path: Path


def instance_path() -> Path:
    return Path(os.environ.get("COMMONPOT_INSTANCE_PATH", PROJECT_ROOT / "instance")).resolve()


def load_settings(*, database_url: str | None = None, secret_key: str | None = None) -> Settings:
    """Settings from the environment; explicit arguments win (tests, ``create_app(config)``)."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    folder = instance_path()
    database_url = (
        database_url
        or os.environ.get("DATABASE_URL")
        or f"sqlite:///{folder / 'commonpot.sqlite3'}"
    )
    try:
        url = normalise_url(database_url)
    except DatabaseURLError as exc:
        raise ConfigurationError(str(exc)) from None
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    log_level = os.environ.get("LOG_LEVEL", "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigurationError(f"LOG_LEVEL {log_level!r} must be one of {', '.join(LOG_LEVELS)}")
    return Settings(
        database_url=database_url,
        secret_key=secret_key
        or os.environ.get("SECRET_KEY")
        or _instance_secret(folder, "secret_key"),
        log_level=log_level,
        instance_path=folder,
    )


def _instance_secret(folder: Path, name: str) -> str:
    """A random secret kept in the instance folder, created once with owner-only permissions."""
    path = folder / name
    if path.exists():
        return path.read_text().strip()
    folder.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    logging.getLogger(__name__).info("generated a new %s in %s", name, folder)
    return value
