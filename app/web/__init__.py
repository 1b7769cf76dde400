"""Server-rendered pages (public transparency site)."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.extensions import database
from ledger import pots as ledger_pots
from ledger.money import format_money

blp = Blueprint("web", __name__, template_folder="templates")


@blp.app_template_filter("money")
def money_filter(amount: int, currency: str) -> str:
    return format_money(amount, currency)


@blp.get("/")
def index() -> str:
    with database().read() as session:
        summaries = [ledger_pots.summarise(session, p) for p in ledger_pots.list_pots(session)]
    return render_template("index.html", pots=summaries)


@blp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
