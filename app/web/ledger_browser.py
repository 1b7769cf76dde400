"""The public ledger: every entry, filtered and paged, each with its postings and hashes, and the
whole ledger as CSV or JSON Lines."""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask import Blueprint, Response, render_template, request

from app.extensions import database
from app.web.forms import LedgerFilterForm
from ledger import entries as ledger_entries
from ledger import pots as ledger_pots
from ledger.chain import parse_json_object
from ledger.db import Database
from ledger.models import GENESIS_HASH

blp = Blueprint("ledger", __name__)

PAGE_SIZE = 50


@blp.get("/pots/<slug>/ledger")
def browse(slug: str) -> tuple[str, int]:
    """Entries in sequence order, ``PAGE_SIZE`` at a time; ``after`` is the cursor."""
    # Only the fields the form knows: anything else in the URL is ignored, not an error.
    form = LedgerFilterForm(formdata=request.args)
    valid = form.validate()
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        summary = ledger_pots.summarise(session, pot)
        page = None
        if valid:
            flt = ledger_entries.EntryFilter(
                kind=form.kind.data or None, since=form.since.data, until=form.until.data
            )
            page = ledger_entries.list_entries(
                session, pot, after=form.after.data or 0, limit=PAGE_SIZE, flt=flt
            )
    return render_template(
        "pots/ledger.html",
        pot=summary,
        form=form,
        page=page,
        filters=form.query_args() if valid else {},
        filtered=bool(valid and form.query_args()),
        first_page=not form.after.data,
    ), (200 if valid else 400)


@blp.get("/pots/<slug>/ledger/<int:seq>")
def entry(slug: str, seq: int) -> str:
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        found = ledger_entries.get_entry(session, pot, seq)
        postings = list(found.postings)
        summary = ledger_pots.summarise(session, pot)
    data = parse_json_object(found.data_json)
    return render_template(
        "pots/entry.html",
        pot=summary,
        entry=found,
        postings=postings,
        data=json.dumps(data, indent=2, ensure_ascii=False) if data else None,
        genesis=found.prev_hash == GENESIS_HASH,
    )


@blp.get("/pots/<slug>/ledger.csv")
def download_csv(slug: str) -> Response:
    return _download(slug, "csv", "text/csv")


@blp.get("/pots/<slug>/ledger.jsonl")
def download_jsonl(slug: str) -> Response:
    return _download(slug, "jsonl", "application/jsonl")


def _download(slug: str, fmt: str, mimetype: str) -> Response:
    """Streams the ledger's export (the same as ``commonpot ledger export``) in batches."""
    db = database()
    with db.read() as session:
        ledger_pots.get_pot(session, slug)  # a missing pot is a 404 page, not an empty file
    response = Response(_stream(db, slug, fmt), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-ledger.{fmt}"'
    return response


def _stream(db: Database, slug: str, fmt: str) -> Iterator[str]:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        export = ledger_entries.export_csv if fmt == "csv" else ledger_entries.export_jsonl
        yield from export(session, pot)
