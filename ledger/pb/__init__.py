"""Participatory budgeting: pabulib elections, outcome rules, and co-funding rounds.

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
from ledger.pb.model import Election, Money, Project
from ledger.pb.outcome import FundedExplanation, Outcome, UnfundedExplanation
from ledger.pb.pabulib import PabulibError, dump_pb, format_money, load_pb, parse_pb
from ledger.pb.rules import RULES, greedy, mes, mes_add1, mes_add1_greedy, mes_cardinality

__all__ = [
    "RULES",
    "CofundingError",
    "CofundingResult",
    "Election",
    "FundedExplanation",
    "Money",
    "Outcome",
    "PabulibError",
    "Pledge",
    "Project",
    "Proposal",
    "UnfundedExplanation",
    "allocate_cofunding",
    "dump_pb",
    "format_money",
    "greedy",
    "load_pb",
    "mes",
    "mes_add1",
    "mes_add1_greedy",
    "mes_cardinality",
    "parse_pb",
]
