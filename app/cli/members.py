"""``commonpot pot invite`` and ``commonpot pot members``: membership from the server's shell.

The command line acts as the operator (audit actor ``cli``): the way to invite a pot's first
steward, who can then do the rest through the API.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.common import refusals_as_errors, write_session
from app.extensions import database
from ledger import pots as ledger_pots
from ledger.chain import format_timestamp
from ledger.people import membership as members
from ledger.people.models import ROLE_VALUES, Role, User


@click.command("invite")
@click.argument("slug")
@click.argument("email")
@click.option(
    "--role", type=click.Choice(ROLE_VALUES), default=Role.MEMBER.value, show_default=True
)
@with_appcontext
@refusals_as_errors
def invite(slug: str, email: str, role: str) -> None:
    """Invite EMAIL to the pot SLUG; prints the one-time token to pass on to them."""
    with write_session() as session:
        issued = members.invite(session, slug, email, role, None)
        invitation = issued.invitation
        click.echo(
            f"invited {invitation.email} to {slug} as {invitation.role} "
            f"(invitation {invitation.id}, expires {format_timestamp(invitation.expires_at)})"
        )
        click.echo(f"token (shown once): {issued.token}")
        click.echo("they accept with: POST /api/v1/invitations/accept {token, name, password}")


@click.command("members")
@click.argument("slug")
@with_appcontext
@refusals_as_errors
def list_members(slug: str) -> None:
    """List the members of the pot SLUG, and its pending invitations."""
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        for member in members.list_members(session, pot):
            person = session.get(User, member.user_id)
            email = person.email if person else "?"
            click.echo(
                f"{member.user_id}\t{member.role.value}\t{member.display_name}\t{email}\t"
                f"joined {format_timestamp(member.joined_at)}"
            )
        for invitation in members.list_invitations(session, pot):
            if members.invitation_state(invitation) == "pending":
                click.echo(
                    f"-\t{invitation.role}\t(invited)\t{invitation.email}\t"
                    f"until {format_timestamp(invitation.expires_at)}"
                )
