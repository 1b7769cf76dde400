"""Server-rendered pages: the public transparency site.

One blueprint, ``web``, holds the home page, the shared templates and static files, and the HTML
error pages; each area of the site is a blueprint of its own nested in it (``web.pots``,
``web.ledger``, ...), so the error pages apply to all of them. ``init_web`` adds the security
foundation (``app.web.security``) to the app.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, render_template
from werkzeug.exceptions import HTTPException

from app.extensions import database
from app.problems import status_for
from app.web import (
    account,
    feed,
    formatting,
    ledger_browser,
    opencollective,
    overview,
    preferences,
    proposals,
    proposing,
    rounds,
    rules,
    signin,
    stewards,
    treasury,
)
from app.web.flows import init_flows
from app.web.security import init_security
from ledger import pots as ledger_pots
from ledger.errors import LedgerError

blp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)
for _area in (formatting, overview, ledger_browser, feed, preferences, signin):
    blp.register_blueprint(_area.blp)
for _area in (proposals, proposing, rules, account, rounds):  # proposals, rounds, members
    blp.register_blueprint(_area.blp)
# Treasurers' and stewards' pages (the reconciliation page is public, its forms a treasurer's).
for _managing in (treasury.blp, stewards.blp, opencollective.pages):
    blp.register_blueprint(_managing)

log = logging.getLogger(__name__)


def init_web(app: Flask) -> None:
    init_security(app)
    signin.init_signin(app)
    init_flows(app.extensions)
    app.register_blueprint(blp)


@blp.get("/")
def index() -> str:
    with database().read() as session:
        summaries = [ledger_pots.summarise(session, p) for p in ledger_pots.list_pots(session)]
    return render_template("index.html", pots=summaries)


@blp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@blp.errorhandler(LedgerError)
def ledger_error(exc: LedgerError) -> tuple[str, int]:
    status = status_for(exc)
    return render_template("errors/error.html", title=exc.title, detail=exc.detail), status


@blp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> tuple[str, int]:
    return render_template("errors/error.html", title=exc.name, detail=exc.description), (
        exc.code or 500
    )


@blp.errorhandler(Exception)
def unexpected_error(exc: Exception) -> tuple[str, int]:
    log.exception("unhandled error on a page", exc_info=exc)
    detail = "Something went wrong on our side. Please try again in a moment."
    return render_template("errors/error.html", title="Server error", detail=detail), 500
