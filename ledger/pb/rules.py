"""Participatory-budgeting outcome rules for approval elections, in exact arithmetic.

Tie-breaking, everywhere: among equally good projects the one whose id is smallest **as a
string** wins ("10" < "9"). This is the lexicographic tie-breaking of the reference
implementation (pabutools), whose outcomes these rules reproduce exactly.

* ``greedy`` - by approval count, descending; a project is funded if it still fits in what is
  left, otherwise skipped (later, cheaper projects may still fit).
* ``mes`` - Method of Equal Shares with cost utilities (a supporter's utility for a project is
  its cost), each voter starting with budget / voters; no completion.
* ``mes_cardinality`` - the same with cardinality utilities (utility 1 per approved project).
* ``mes_add1`` - ``mes`` re-run with each voter's starting money raised by one currency unit
  at a time (budget / voters + k) until the outcome is *exhaustive* (no project that someone
  approves still fits in what is left of the real budget); if a run overspends the real
  budget, the previous run's outcome is returned instead.
* ``mes_add1_greedy`` - ``mes_add1`` completed by ``greedy`` with what is left.

Projects nobody approves never take part in MES and do not count for exhaustiveness, but the
greedy rules can fund them (last, as they have zero approvals) if money remains.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from ledger.pb._mes import Prepared, Run, Utility, prepare, run_mes, voters_in
from ledger.pb.model import Election, Money
from ledger.pb.outcome import FundedExplanation, Outcome, UnfundedExplanation, show


def greedy(election: Election) -> Outcome:
    """Utilitarian greedy by approval count (ties: smallest id)."""
    added, skipped = _greedy_pass(election, [], 0)
    approvals = election.approvals()
    unfunded = {
        project_id: _greedy_miss(election, project_id, approvals[project_id], remaining)
        for project_id, remaining in skipped.items()
    }
    spent = sum(election.projects[p].cost for p in added)
    return Outcome("greedy", added, spent, election.budget, unfunded=unfunded)


def mes(election: Election) -> Outcome:
    """Method of Equal Shares with cost utilities, without completion."""
    return _single_mes("mes", election, "cost")


def mes_cardinality(election: Election) -> Outcome:
    """Method of Equal Shares with cardinality utilities, without completion."""
    return _single_mes("mes_cardinality", election, "cardinality")


def mes_add1(election: Election, step: Money = 1) -> Outcome:
    """MES (cost utilities) with the per-voter share raised by ``step`` until exhaustive.

    ``step`` is one currency unit in the election's money: 1 when amounts are whole units (as
    in pabulib files), 100 when they are pence or cents.
    """
    prep = prepare(election)
    run, runs = _add1_run(election, prep, step)
    return _mes_outcome("mes_add1", election, prep, run, runs, step)


def mes_add1_greedy(election: Election, step: Money = 1) -> Outcome:
    """``mes_add1`` completed greedily by approval count with the money left over."""
    prep = prepare(election)
    run, runs = _add1_run(election, prep, step)
    base = _mes_outcome("mes_add1_greedy", election, prep, run, runs, step)
    added, skipped = _greedy_pass(election, base.winners, base.spent)
    unfunded = {
        project_id: _with_greedy_note(base.unfunded[project_id], remaining)
        for project_id, remaining in skipped.items()
    }
    return Outcome(
        rule=base.rule,
        winners=base.winners + added,
        spent=base.spent + sum(election.projects[p].cost for p in added),
        budget=election.budget,
        funded=base.funded,
        unfunded=unfunded,
        greedy_additions=added,
        share=base.share,
        mes_runs=base.mes_runs,
        share_raises=base.share_raises,
        share_step=base.share_step,
    )


RULES: dict[str, Callable[[Election], Outcome]] = {
    "greedy": greedy,
    "mes": mes,
    "mes_cardinality": mes_cardinality,
    "mes_add1": mes_add1,
    "mes_add1_greedy": mes_add1_greedy,
}


def _initial_share(election: Election) -> Fraction:
    return Fraction(election.budget) / election.num_voters if election.num_voters else Fraction(0)


def _single_mes(rule: str, election: Election, utility: Utility) -> Outcome:
    prep = prepare(election)
    run = run_mes(prep, _initial_share(election), utility, explain=True)
    return _mes_outcome(rule, election, prep, run, 1)


def _add1_run(election: Election, prep: Prepared, step: Money) -> tuple[Run | None, int]:
    """The run mes_add1 settles on (None: the empty outcome) and how many runs it took.

    Each run starts from scratch with share budget / voters + k; only the share changes, so
    the prepared election is reused. A run can overspend the real budget once the share
    exceeds budget / voters, which is when the previous run's outcome is kept. The search
    runs skip the explanation bookkeeping; the chosen share is re-run once with it (MES is
    deterministic, so the outcome is the same).
    """
    if step <= 0:
        raise ValueError("the share must be raised by a positive step")
    base = _initial_share(election)
    chosen: Fraction | None = None
    raises = 0
    while True:
        run = run_mes(prep, base + raises * step, "cost", budget=election.budget)
        if run.spent > election.budget:
            break
        chosen = base + raises * step
        if not run.cut_short and _is_exhaustive(prep, run, election.budget):
            break
        raises += 1
    if chosen is None:
        return None, raises + 1
    return run_mes(prep, chosen, "cost", explain=True), raises + 1


def _is_exhaustive(prep: Prepared, run: Run, budget: Money) -> bool:
    """No unfunded project with at least one supporter fits in what is left."""
    left = budget - run.spent
    funded = {selection.project for selection in run.selections}
    return not any(
        prep.support[p] and p not in funded and prep.costs[p] <= left for p in range(len(prep.ids))
    )


def _mes_outcome(
    rule: str, election: Election, prep: Prepared, run: Run | None, runs: int, step: Money = 1
) -> Outcome:
    if run is None:  # mes_add1 whose very first run overspent: nothing is funded
        run = Run(_initial_share(election))
    raises = (run.share - _initial_share(election)) / step
    funded: dict[str, FundedExplanation] = {}
    for round_number, selection in enumerate(run.selections, start=1):
        payments: dict[int, Fraction] = {}
        for voters, amount in selection.amounts():
            payments.update(dict.fromkeys(voters_in(voters), amount))
        project_id = prep.ids[selection.project]
        funded[project_id] = FundedExplanation(
            project_id, round_number, selection.rho, selection.price, dict(sorted(payments.items()))
        )
    unfunded = {
        project_id: _mes_miss(prep, run, index)
        for index, project_id in enumerate(prep.ids)
        if project_id not in funded
    }
    return Outcome(
        rule=rule,
        winners=list(funded),
        spent=run.spent,
        budget=election.budget,
        funded=funded,
        unfunded=unfunded,
        share=run.share,
        mes_runs=runs,
        share_raises=int(raises),
        share_step=step,
    )


def _mes_miss(prep: Prepared, run: Run, project: int) -> UnfundedExplanation:
    project_id, cost, supporters = prep.ids[project], prep.costs[project], prep.support[project]
    lapse = run.lapses.get(project)
    if lapse is None:
        return UnfundedExplanation(project_id, cost, 0, "no voter approves it")
    if lapse.after is None:
        reason = (
            f"its {supporters} supporters held {show(lapse.money)} in total, "
            f"less than its cost {cost}, from the start"
        )
        return UnfundedExplanation(project_id, cost, supporters, reason, lapse.money, 0)
    drained_by, rho = prep.ids[lapse.after], run.last_rho[project]
    reason = (
        f"never the cheapest per unit of utility (last rho {show(rho)}); after "
        f"{drained_by!r} was funded in round {lapse.round} its supporters held only "
        f"{show(lapse.money)}, less than its cost {cost}"
    )
    return UnfundedExplanation(
        project_id, cost, supporters, reason, lapse.money, lapse.round, drained_by, rho
    )


def _greedy_pass(
    election: Election, taken: list[str], spent: int
) -> tuple[list[str], dict[str, Money]]:
    """Add projects by approvals (desc, then id) while they fit; report what was skipped."""
    approvals = election.approvals()
    chosen = set(taken)
    order = sorted(
        (p for p in election.projects if p not in chosen), key=lambda p: (-approvals[p], p)
    )
    remaining: Money = election.budget - spent
    added: list[str] = []
    skipped: dict[str, Money] = {}
    for project_id in order:
        cost = election.projects[project_id].cost
        if cost <= remaining:
            added.append(project_id)
            remaining -= cost
        else:
            skipped[project_id] = remaining
    return added, skipped


def _greedy_miss(
    election: Election, project_id: str, supporters: int, remaining: Money
) -> UnfundedExplanation:
    cost = election.projects[project_id].cost
    reason = f"did not fit: {show(remaining)} was left when its turn came, it costs {cost}"
    return UnfundedExplanation(project_id, cost, supporters, reason, remaining=remaining)


def _with_greedy_note(mes_reason: UnfundedExplanation, remaining: Money) -> UnfundedExplanation:
    note = f"; the greedy completion could not fit it either ({show(remaining)} left)"
    return UnfundedExplanation(
        mes_reason.project_id,
        mes_reason.cost,
        mes_reason.supporters,
        mes_reason.reason + note,
        mes_reason.supporters_money,
        mes_reason.lapsed_in_round,
        mes_reason.drained_by,
        mes_reason.last_rho,
        remaining,
    )
