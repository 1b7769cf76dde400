"""How the pages show money, times and kinds of entry (Jinja filters)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from flask import Blueprint, session
from markupsafe import Markup

from ledger.models import Entry
from ledger.money import format_money

LOCALE = "en_GB"
TIME_ZONE_SESSION_KEY = "time_zone"

blp = Blueprint("formatting", __name__)


def reader_time_zone() -> ZoneInfo | None:
    """The time zone the reader chose (preferences page), or None for UTC."""
    name = session.get(TIME_ZONE_SESSION_KEY)
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_timestamp(text: str) -> datetime:
    """Our stored RFC 3339 UTC timestamps (``2026-11-23T10:15:00.000000Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@blp.app_template_filter("money")
def money_filter(amount: int, currency: str) -> str:
    return format_money(amount, currency, locale=LOCALE)


@blp.app_template_filter("when")
def when_filter(stamp: str | datetime) -> Markup:
    """A ``<time>`` element: machine-readable UTC, shown in the reader's zone (UTC by default)."""
    moment = parse_timestamp(stamp) if isinstance(stamp, str) else stamp.astimezone(UTC)
    zone = reader_time_zone()
    shown = moment.astimezone(zone) if zone else moment
    text = format_datetime(shown, "d MMM yyyy, HH:mm", locale=LOCALE)
    label = zone.key if zone else "UTC"
    return Markup('<time datetime="{}">{} {}</time>').format(
        moment.strftime("%Y-%m-%dT%H:%M:%SZ"), text, label
    )


@blp.app_template_filter("kind_label")
def kind_label(kind: str) -> str:
    return kind.replace("_", " ")


@blp.app_template_global("time_zone_name")
def time_zone_name() -> str:
    zone = reader_time_zone()
    return zone.key if zone else "UTC"


@blp.app_template_filter("moved")
def moved(entry: Entry) -> int:
    """The amount an entry moves: the sum of its debits (each entry's postings sum to zero)."""
    return sum(p.amount for p in entry.postings if p.amount > 0)
