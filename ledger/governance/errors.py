"""Errors of collective decisions, each with a meaning a member can act on."""

from __future__ import annotations

from ledger.errors import Conflict, Forbidden, NotFound


class ProposalNotFound(NotFound):
    title = "Proposal not found"


class VotingClosed(Conflict):
    """The proposal is not open for votes (a draft, or already decided, or past its deadline)."""

    title = "Voting is closed"


class NotAllowedToVote(Forbidden):
    title = "Not allowed to vote"


class WrongState(Conflict):
    """The proposal's status does not allow this (e.g. withdrawing a paid proposal)."""

    title = "Not possible in the proposal's current state"


class TooManyOpenProposals(Conflict):
    title = "Too many open proposals"
