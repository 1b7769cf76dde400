"""Collective decisions: a pot's decision rules and the pure function that applies them.

Framework-free and exact (integers and ``Fraction``s, never floats). The service layer stores
rule versions, counts votes and moves money; this package only says what the rules are and
what they decide. ``docs/decision-rules.md`` explains the rules to members.
"""

from ledger.governance.decisions import (
    Decision,
    InvalidTally,
    InvalidVotingWindow,
    Outcome,
    Tally,
    decide,
)
from ledger.governance.rules import (
    Ballot,
    ConsentRule,
    DecisionRules,
    InvalidRules,
    MajorityRule,
    Rule,
    StewardsRule,
    ThresholdRule,
    format_percent,
)

__all__ = [
    "Ballot",
    "ConsentRule",
    "Decision",
    "DecisionRules",
    "InvalidRules",
    "InvalidTally",
    "InvalidVotingWindow",
    "MajorityRule",
    "Outcome",
    "Rule",
    "StewardsRule",
    "Tally",
    "ThresholdRule",
    "decide",
    "format_percent",
]
