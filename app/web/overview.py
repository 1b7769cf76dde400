"""A pot's public overview: its balances, money in and out over time, its latest checkpoint."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from app.extensions import database
from app.web import charts, queries
from app.web.flows import monthly_flows
from ledger import accounts
from ledger import pots as ledger_pots

blp = Blueprint("pots", __name__)

RECENT_ENTRIES = 5


@blp.get("/pots/<slug>")
def overview(slug: str) -> str:
    """Reads maintained balances, the monthly totals cache and the newest entries: the cost
    does not grow with the length of the ledger."""
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        summary = ledger_pots.summarise(session, pot)
        flows = charts.recent(monthly_flows(session, pot))
        recent = queries.latest_entries(session, pot, limit=RECENT_ENTRIES)
    commitments = sorted(
        (account.removeprefix(accounts.COMMITTED_PREFIX), amount)
        for account, amount in summary.balances.items()
        if accounts.is_committed(account) and amount
    )
    return render_template(
        "pots/overview.html",
        pot=summary,
        created_at=pot.created_at,
        flows=flows,
        month_label=charts.month_label,
        commitments=commitments,
        recent=recent,
    )


@blp.get("/pots/<slug>/charts/flow.svg")
def flow_chart(slug: str) -> Response:
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        flows = charts.recent(monthly_flows(session, pot))
        currency = pot.currency
    response = Response(charts.flow_chart_svg(flows, currency), mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response
