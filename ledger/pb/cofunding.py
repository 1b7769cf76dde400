"""Co-funding rounds in the style of Cobudget: members split the round's money equally and
pledge it to proposals; a proposal that reaches its minimum is funded with what was pledged,
and every pledge that did not fund anything goes back to its member.

All amounts are integers in minor units (cents), so nothing is lost to rounding: when the
budget does not split evenly, the indivisible remainder stays in the pot (``unallocated``)
rather than giving some members a cent more than others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CofundingError(ValueError):
    """The round's data breaks a rule (nothing is allocated)."""


@dataclass(frozen=True)
class Proposal:
    """A proposal needing at least ``minimum`` and accepting at most ``maximum``."""

    id: str
    minimum: int
    maximum: int


@dataclass(frozen=True)
class Pledge:
    member: str
    proposal: str
    amount: int


@dataclass(frozen=True)
class CofundingResult:
    """Who funded what and what goes back.

    ``contributions[proposal][member]`` is kept money; ``returned[member]`` is the member's
    share minus what they contributed to funded proposals (unpledged money plus pledges to
    proposals that missed their minimum); ``unfunded[proposal]`` is what had been pledged
    to a proposal that missed its minimum.
    """

    share: int
    unallocated: int
    funded: dict[str, int]
    contributions: dict[str, dict[str, int]]
    returned: dict[str, int]
    unfunded: dict[str, int]

    @property
    def spent(self) -> int:
        return sum(self.funded.values())


def _whole(value: object, what: str, minimum: int) -> int:
    # bool is an int subclass; True is not an amount of money.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise CofundingError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _unique(ids: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for item in ids:
        if not item:
            raise CofundingError(f"{what} id must not be empty")
        if item in seen:
            raise CofundingError(f"duplicate {what} {item!r}")
        seen.add(item)


def _validate_proposals(proposals: Sequence[Proposal]) -> None:
    _unique([p.id for p in proposals], "proposal")
    for proposal in proposals:
        _whole(proposal.minimum, f"proposal {proposal.id!r} minimum", 1)
        _whole(proposal.maximum, f"proposal {proposal.id!r} maximum", proposal.minimum)


def _pledge_table(
    members: Sequence[str], proposals: Sequence[Proposal], pledges: Sequence[Pledge]
) -> dict[str, dict[str, int]]:
    """proposal -> member -> pledged total (repeated pledges add up)."""
    known_members = set(members)
    table: dict[str, dict[str, int]] = {p.id: {} for p in proposals}
    for pledge in pledges:
        if pledge.member not in known_members:
            raise CofundingError(f"pledge from unknown member {pledge.member!r}")
        if pledge.proposal not in table:
            raise CofundingError(f"pledge to unknown proposal {pledge.proposal!r}")
        amount = _whole(pledge.amount, f"pledge by {pledge.member!r}", 1)
        row = table[pledge.proposal]
        row[pledge.member] = row.get(pledge.member, 0) + amount
    return table


def _check_limits(
    table: dict[str, dict[str, int]], proposals: Sequence[Proposal], share: int
) -> None:
    per_member: dict[str, int] = {}
    for row in table.values():
        for member, amount in row.items():
            per_member[member] = per_member.get(member, 0) + amount
    for member, total in per_member.items():
        if total > share:
            raise CofundingError(
                f"member {member!r} pledged {total}, more than their share {share}"
            )
    for proposal in proposals:
        total = sum(table[proposal.id].values())
        if total > proposal.maximum:
            raise CofundingError(
                f"proposal {proposal.id!r} was pledged {total}, more than its maximum "
                f"{proposal.maximum}"
            )


def allocate_cofunding(
    budget: int,
    members: Sequence[str],
    proposals: Sequence[Proposal],
    pledges: Sequence[Pledge],
) -> CofundingResult:
    """Settle one round. Raises :class:`CofundingError` if any pledge breaks a rule.

    Pledges are validated as a whole (a member may not pledge beyond their equal share, a
    proposal may not be pledged beyond its maximum) so a round is either valid or refused,
    never partly applied.
    """
    _whole(budget, "budget", 0)
    if not members:
        raise CofundingError("a round needs at least one member")
    _unique(members, "member")
    _validate_proposals(proposals)
    share, unallocated = divmod(budget, len(members))
    table = _pledge_table(members, proposals, pledges)
    _check_limits(table, proposals, share)

    funded: dict[str, int] = {}
    contributions: dict[str, dict[str, int]] = {}
    unfunded: dict[str, int] = {}
    kept = dict.fromkeys(members, 0)
    for proposal in proposals:
        row, total = table[proposal.id], sum(table[proposal.id].values())
        if total >= proposal.minimum:
            funded[proposal.id], contributions[proposal.id] = total, dict(row)
            for member, amount in row.items():
                kept[member] += amount
        elif total:
            unfunded[proposal.id] = total
    returned = {member: share - kept[member] for member in members}
    return CofundingResult(share, unallocated, funded, contributions, returned, unfunded)
