"""Server-rendered SVG charts (pygal): no script, no request to anyone but us.

The SVG is served on its own URL and shown with ``<img>``, where a browser never runs scripts
and the page's Content-Security-Policy stays free of inline styles; pygal's own scripts are
switched off anyway (``js=[]``). Every chart sits next to a table with the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from babel.dates import format_date

from app.web.flows import MonthlyFlow
from app.web.pygal_import import Style, pygal
from ledger.money import format_money, minor_digits

CHART_MONTHS = 24

_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2328",
    foreground_strong="#1f2328",
    foreground_subtle="#59636e",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    colors=("#1a7f37", "#b35900"),
    opacity="1",
    opacity_hover="1",
)


def recent(flows: Sequence[MonthlyFlow], months: int = CHART_MONTHS) -> list[MonthlyFlow]:
    return list(flows[-months:])


def month_label(month: str, locale: str = "en_GB") -> str:
    year, number = (int(part) for part in month.split("-"))
    return str(format_date(date(year, number, 1), "MMM yyyy", locale=locale))


def flow_chart_svg(flows: Sequence[MonthlyFlow], currency: str) -> bytes:
    """A bar chart of money in and out per month, as a standalone SVG document."""
    scale = 10 ** minor_digits(currency)
    chart = pygal.Bar(
        style=_STYLE,
        js=[],  # no <script>: the chart is a picture, its figures are in the page's table
        width=880,
        height=360,
        explicit_size=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=2,
        x_label_rotation=-40 if len(flows) > 8 else 0,
        # Drawing needs floats; the figures people read come from the integers (format_money).
        value_formatter=lambda value: format_money(round(value * scale), currency),
        print_values=False,
        show_minor_x_labels=True,
        no_data_text="No money has moved yet",
        margin=12,
    )
    chart.add_xml_filter(_without_scripts)
    chart.x_labels = [month_label(flow.month) for flow in flows]
    chart.add("Money in", [flow.money_in / scale for flow in flows])
    chart.add("Money out", [flow.money_out / scale for flow in flows])
    svg: bytes = chart.render()
    return svg


def _without_scripts(root: Any) -> Any:
    """Drop the configuration ``<script>`` pygal writes even with ``js=[]``."""
    for parent in list(root.iter()):  # lxml or xml.etree, whichever pygal uses
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return root
