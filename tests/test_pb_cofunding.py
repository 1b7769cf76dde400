"""Co-funding rounds: equal shares, validated pledges, funding at the minimum, exact returns."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.pb import CofundingError, CofundingResult, Pledge, Proposal, allocate_cofunding

MEMBERS = ["ana", "bo", "cy"]
PROPOSALS = [Proposal("garden", 5_000, 8_000), Proposal("oven", 6_000, 6_000)]


def test_round_funds_proposals_reaching_their_minimum() -> None:
    # 10_000 cents over three members: 3_333 each, one cent stays in the pot.
    result = allocate_cofunding(
        10_000,
        MEMBERS,
        PROPOSALS,
        [
            Pledge("ana", "garden", 3_000),
            Pledge("bo", "garden", 2_000),
            Pledge("bo", "garden", 500),  # repeated pledges add up
            Pledge("cy", "oven", 3_333),  # oven misses its 6_000 minimum
        ],
    )
    assert (result.share, result.unallocated) == (3_333, 1)
    assert result.funded == {"garden": 5_500}
    assert result.contributions == {"garden": {"ana": 3_000, "bo": 2_500}}
    assert result.unfunded == {"oven": 3_333}
    assert result.returned == {"ana": 333, "bo": 833, "cy": 3_333}
    assert result.spent == 5_500


ERRORS = {
    "over_share": (
        [Pledge("ana", "garden", 3_000), Pledge("ana", "oven", 334)],
        "more than their share",
    ),
    "over_maximum": ([Pledge("ana", "oven", 3_333), Pledge("bo", "oven", 3_000)], "maximum"),
    "unknown_member": ([Pledge("zed", "garden", 1)], "unknown member 'zed'"),
    "unknown_proposal": ([Pledge("ana", "pool", 1)], "unknown proposal 'pool'"),
    "zero_pledge": ([Pledge("ana", "garden", 0)], "pledge by 'ana' must be an integer >= 1"),
    "float_pledge": ([Pledge("ana", "garden", 1.5)], "must be an integer"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize(("pledges", "message"), ERRORS.values(), ids=ERRORS.keys())
def test_invalid_pledges_are_refused(pledges: list[Pledge], message: str) -> None:
    with pytest.raises(CofundingError, match=message):
        allocate_cofunding(10_000, MEMBERS, PROPOSALS, pledges)


def test_invalid_rounds_are_refused() -> None:
    with pytest.raises(CofundingError, match="at least one member"):
        allocate_cofunding(100, [], PROPOSALS, [])
    with pytest.raises(CofundingError, match="duplicate member 'ana'"):
        allocate_cofunding(100, ["ana", "ana"], PROPOSALS, [])
    with pytest.raises(CofundingError, match="maximum must be an integer >= 10"):
        allocate_cofunding(100, MEMBERS, [Proposal("p", 10, 5)], [])
    with pytest.raises(CofundingError, match="budget"):
        allocate_cofunding(-1, MEMBERS, PROPOSALS, [])
    assert issubclass(CofundingError, ValueError)


@st.composite
def rounds(draw: st.DrawFn) -> tuple[int, list[str], list[Proposal], list[Pledge]]:
    """A round with arbitrary (possibly invalid) pledges."""
    members = [f"m{i}" for i in range(draw(st.integers(1, 6)))]
    proposals = []
    for i in range(draw(st.integers(0, 5))):
        minimum = draw(st.integers(1, 5_000))
        proposals.append(Proposal(f"p{i}", minimum, draw(st.integers(minimum, 10_000))))
    pledges = draw(
        st.lists(
            st.builds(
                Pledge,
                st.sampled_from(members),
                st.sampled_from([p.id for p in proposals] or ["none"]),
                st.integers(1, 4_000),
            ),
            max_size=12,
        )
    )
    return draw(st.integers(0, 20_000)), members, proposals, pledges


def check_invariants(
    budget: int, members: list[str], proposals: list[Proposal], result: CofundingResult
) -> None:
    limits = {p.id: p for p in proposals}
    for proposal_id, amount in result.funded.items():
        assert limits[proposal_id].minimum <= amount <= limits[proposal_id].maximum
        assert sum(result.contributions[proposal_id].values()) == amount
    for proposal_id, pledged in result.unfunded.items():
        assert 0 < pledged < limits[proposal_id].minimum
    assert result.spent <= budget
    assert result.share * len(members) + result.unallocated == budget
    assert 0 <= result.unallocated < len(members)
    for member in members:
        kept = sum(row.get(member, 0) for row in result.contributions.values())
        assert kept <= result.share
        assert kept + result.returned[member] == result.share
    # Conservation: every cent is spent, returned, or left in the pot.
    assert result.spent + sum(result.returned.values()) + result.unallocated == budget


@settings(database=None, max_examples=300, deadline=None)
@given(rounds())
def test_any_accepted_round_keeps_the_invariants(
    case: tuple[int, list[str], list[Proposal], list[Pledge]],
) -> None:
    budget, members, proposals, pledges = case
    try:
        result = allocate_cofunding(budget, members, proposals, pledges)
    except CofundingError:
        return  # refused as a whole; nothing to check
    check_invariants(budget, members, proposals, result)


@settings(database=None, max_examples=200, deadline=None)
@given(st.integers(1, 6), st.integers(0, 50_000), st.data())
def test_pledges_within_limits_are_always_accepted(
    size: int, budget: int, data: st.DataObject
) -> None:
    members = [f"m{i}" for i in range(size)]
    proposals = [Proposal("a", 1_000, 5_000), Proposal("b", 3_000, 9_000)]
    share, room = budget // size, {"a": 5_000, "b": 9_000}
    pledges = []
    for member in members:
        left = share
        for proposal_id in data.draw(st.permutations(["a", "b"])):
            amount = data.draw(st.integers(0, min(left, room[proposal_id])))
            if amount:
                pledges.append(Pledge(member, proposal_id, amount))
                left, room[proposal_id] = left - amount, room[proposal_id] - amount
    result = allocate_cofunding(budget, members, proposals, pledges)
    check_invariants(budget, members, proposals, result)
