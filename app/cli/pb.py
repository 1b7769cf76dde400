"""``commonpot pb``: participatory-budgeting elections from pabulib files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from app.cli.common import CommandError
from ledger.pb import RULES, PabulibError, format_money, load_pb


@click.group()
def pb() -> None:
    """Participatory budgeting (pabulib files, outcome rules)."""


@pb.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rule", type=click.Choice(sorted(RULES)), default="mes_add1", show_default=True)
@click.option("--json", "as_json", is_flag=True, help='Print {"winners": [...], "spent": n}.')
@click.option("--explain", is_flag=True, help="Say why each project won or lost.")
def simulate(file: Path, rule: str, as_json: bool, explain: bool) -> None:
    """Run RULE on the election in FILE (pabulib .pb format) and print the winners."""
    try:
        election = load_pb(file)
    except PabulibError as exc:
        raise CommandError(f"{file}: {exc}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{file}: not a UTF-8 text file") from None
    outcome = RULES[rule](election)
    if as_json:
        click.echo(json.dumps({"winners": outcome.winners, "spent": outcome.spent}))
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
    if explain:
        for project_id, why in sorted(outcome.unfunded.items()):
            click.echo(f"  not funded {project_id}: {why.reason}")
