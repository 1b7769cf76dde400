"""Errors of rounds, each with a meaning a member can act on."""

from __future__ import annotations

from ledger.errors import Conflict, Forbidden, InvalidInput, NotFound


class RoundNotFound(NotFound):
    title = "Round not found"


class ProjectNotFound(NotFound):
    title = "Project not found"


class WrongPhase(Conflict):
    """Not possible in the round's current phase (e.g. a project submitted during voting)."""

    title = "Not possible in the round's current phase"


class VotingClosed(WrongPhase):
    """Ballots and pledges are taken only while voting is open."""

    title = "Voting is closed"


class NotAllowedToVote(Forbidden):
    title = "Not allowed to vote"


class WrongKind(Conflict):
    """An approval ballot in a co-funding round, or pledges in an approval round."""

    title = "Not possible in this kind of round"


class InvalidPledge(InvalidInput):
    """Pledges the co-funding round's rules refuse; nothing is recorded."""

    title = "Invalid pledge"
