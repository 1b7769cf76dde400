"""``commonpot pb``: participatory-budgeting elections from pabulib files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from app.cli.common import CommandError
from ledger.errors import UnknownCurrency
from ledger.pb import RULES, MoneyFormat, PabulibError, explain, format_money, load_pb
from ledger.pb.explain import pabulib_currency

# ISO 4217's code for "no currency", for files that name neither a currency nor a country.
NO_CURRENCY = "XXX"


@click.group()
def pb() -> None:
    """Participatory budgeting (pabulib files, outcome rules)."""


@pb.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rule", type=click.Choice(sorted(RULES)), default="mes_add1", show_default=True)
@click.option("--json", "as_json", is_flag=True, help='Print {"winners": [...], "spent": n}.')
@click.option(
    "--explain",
    "with_explanation",
    is_flag=True,
    help='Say why each project won or lost (with --json: under "explanation").',
)
@click.option(
    "--currency",
    help="ISO 4217 code for the explanation's amounts (default: the file's, or its country's).",
)
def simulate(
    file: Path, rule: str, as_json: bool, with_explanation: bool, currency: str | None
) -> None:
    """Run RULE on the election in FILE (pabulib .pb format) and print the winners."""
    try:
        election = load_pb(file)
    except PabulibError as exc:
        raise CommandError(f"{file}: {exc}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{file}: not a UTF-8 text file") from None
    try:
        money = MoneyFormat.whole_units(currency or pabulib_currency(election) or NO_CURRENCY)
    except UnknownCurrency as exc:
        raise CommandError(exc.detail) from None
    outcome = RULES[rule](election)
    if as_json:
        answer: dict[str, object] = {"winners": outcome.winners, "spent": outcome.spent}
        if with_explanation:
            answer["explanation"] = explain(election, outcome, money).as_dict()
        click.echo(json.dumps(answer))
        return
    click.echo(
        f"{rule}: {len(outcome.winners)} of {len(election.projects)} projects funded, "
        f"{format_money(outcome.spent)} of {format_money(election.budget)} spent "
        f"({election.num_voters} voters)"
    )
    approvals = election.approvals()
    for project_id in outcome.winners:
        project = election.projects[project_id]
        click.echo(
            f"  {project_id}\t{format_money(project.cost)}\t{approvals[project_id]} approvals"
            f"\t{project.name}"
        )
    if with_explanation:
        click.echo()
        for paragraph in explain(election, outcome, money).lines():
            click.echo(paragraph)
