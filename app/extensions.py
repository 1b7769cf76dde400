"""Where the app keeps its shared objects, and how views reach them."""

from __future__ import annotations

from flask import current_app

from ledger.db import Database

EXTENSION_KEY = "commonpot.database"


def database() -> Database:
    db: Database = current_app.extensions[EXTENSION_KEY]
    return db
