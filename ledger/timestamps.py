"""Moments in time as the database keeps them: fixed-width RFC 3339 UTC strings.

The ledger hashes its timestamps as ``2026-11-23T10:15:00.000000Z`` strings; the governance
tables store theirs the same way, through :class:`Timestamp`, so that SQLite and PostgreSQL
keep exactly the same value, strings compare in time order, and Python code only ever sees
timezone-aware ``datetime`` objects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ledger.chain import format_timestamp

WIDTH = 27


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Timestamp(TypeDecorator[datetime]):
    """An aware ``datetime`` stored as a fixed-width UTC string (see the module docstring)."""

    impl = String(WIDTH)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        return format_timestamp(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else parse_timestamp(value)
