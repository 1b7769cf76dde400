"""Participatory budgeting: pabulib elections, outcome rules, and co-funding rounds.

Rounds (calendar, ballots, counting) are in :mod:`ledger.pb.rounds`; explanations of a
result in :mod:`ledger.pb.explain`.

Framework-free and exact (integers and ``Fraction``s, never floats). The rules reproduce the
outcomes of the reference implementation, pabutools, with lexicographic tie-breaking on
project ids; see :mod:`ledger.pb.rules` for their definitions.
"""

from ledger.pb.cofunding import (
    CofundingError,
    CofundingResult,
    Pledge,
    Proposal,
    allocate_cofunding,
)
from ledger.pb.explain import (
    Explanation,
    Funding,
    MoneyFormat,
    PaymentGroup,
    ProjectExplanation,
    VoterAccount,
    explain,
    pabulib_currency,
    project_totals,
    voter_accounts,
    voter_payments,
)
from ledger.pb.model import Election, Money, Project
from ledger.pb.outcome import FundedExplanation, Outcome, UnfundedExplanation
from ledger.pb.pabulib import PabulibError, dump_pb, format_money, load_pb, parse_pb
from ledger.pb.rules import RULES, greedy, mes, mes_add1, mes_add1_greedy, mes_cardinality

__all__ = [
    "RULES",
    "CofundingError",
    "CofundingResult",
    "Election",
    "Explanation",
    "FundedExplanation",
    "Funding",
    "Money",
    "MoneyFormat",
    "Outcome",
    "PabulibError",
    "PaymentGroup",
    "Pledge",
    "Project",
    "ProjectExplanation",
    "Proposal",
    "UnfundedExplanation",
    "VoterAccount",
    "allocate_cofunding",
    "dump_pb",
    "explain",
    "format_money",
    "greedy",
    "load_pb",
    "mes",
    "mes_add1",
    "mes_add1_greedy",
    "mes_cardinality",
    "pabulib_currency",
    "parse_pb",
    "project_totals",
    "voter_accounts",
    "voter_payments",
]
