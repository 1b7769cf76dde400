"""A pot's decision rules: the rule that decides proposals, and the settings around it.

``DecisionRules`` is a frozen value, validated when it is built, whichever way it is built
(directly or from JSON), so no invalid rules can exist in memory. Its plain-dict form
(:meth:`DecisionRules.to_dict`) is what the API shows, what the audit log records and what
:meth:`DecisionRules.from_dict` reads back, unchanged; ``docs/decision-rules.md`` shows an
example and names every field.

Percentages are exact: an integer (``50``) or a string holding a decimal (``"66.5"``) or a
fraction (``"200/3"`` for two thirds). Floats are refused, because ``66.67`` is not two thirds
and a vote must never be decided by a rounding error.

``version`` numbers the rules of one pot (1, 2, 3, ...). Choosing the next number and storing
each version is the service layer's job (:meth:`DecisionRules.with_version`); a proposal is
decided under the version that was in force when it opened.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any, ClassVar

from ledger.errors import InvalidInput
from ledger.money import MAX_AMOUNT

__all__ = [
    "MAX_COUNT",
    "MAX_VOTING_WINDOW_HOURS",
    "Ballot",
    "ConsentRule",
    "DecisionRules",
    "InvalidRules",
    "MajorityRule",
    "Rule",
    "StewardsRule",
    "ThresholdRule",
    "format_percent",
]

#: Upper bound for every head count in the rules; far above any community, and it keeps
#: numbers exact in any JSON reader.
MAX_COUNT = 1_000_000
#: A year: a vote open for longer is almost certainly a typo.
MAX_VOTING_WINDOW_HOURS = 365 * 24

_PERCENT_DECIMAL = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,6})?$")
_PERCENT_FRACTION = re.compile(r"^[0-9]{1,9}/[0-9]{1,9}$")


class InvalidRules(InvalidInput):
    """Rules that cannot be used; ``field`` names the setting (e.g. ``rule.quorum_percent``)."""

    title = "Invalid decision rules"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class Ballot(StrEnum):
    #: Everyone sees who voted how.
    OPEN = "open"
    #: Only the counts are public; who voted how is visible to no one, stewards included.
    SECRET = "secret"


@dataclass(frozen=True)
class StewardsRule:
    """Approved as soon as ``approvals_needed`` stewards approve; expires otherwise."""

    kind: ClassVar[str] = "stewards"
    approvals_needed: int

    def __post_init__(self) -> None:
        _check_count("rule.approvals_needed", self.approvals_needed, minimum=1)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "approvals_needed": self.approvals_needed}


@dataclass(frozen=True)
class ThresholdRule:
    """Approved as soon as ``approvals_needed`` members approve, while fewer than
    ``objections_to_reject`` object; rejected as soon as that many object."""

    kind: ClassVar[str] = "threshold"
    approvals_needed: int
    objections_to_reject: int

    def __post_init__(self) -> None:
        _check_count("rule.approvals_needed", self.approvals_needed, minimum=1)
        _check_count("rule.objections_to_reject", self.objections_to_reject, minimum=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "approvals_needed": self.approvals_needed,
            "objections_to_reject": self.objections_to_reject,
        }


@dataclass(frozen=True)
class ConsentRule:
    """At the deadline: approved if nobody blocked and at least ``min_participants`` took part.

    ``min_participants`` may be 0 ("lazy consensus": silence is consent).
    """

    kind: ClassVar[str] = "consent"
    min_participants: int

    def __post_init__(self) -> None:
        _check_count("rule.min_participants", self.min_participants, minimum=0)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "min_participants": self.min_participants}


@dataclass(frozen=True)
class MajorityRule:
    """At the deadline: at least ``quorum_percent`` % of eligible members voted (abstentions
    count), and strictly more than ``approval_above_percent`` % of the approve/object votes
    approve (abstentions do not count)."""

    kind: ClassVar[str] = "majority"
    quorum_percent: Fraction
    approval_above_percent: Fraction

    def __post_init__(self) -> None:
        quorum = _check_percent("rule.quorum_percent", self.quorum_percent, below_100=False)
        # 100 would make approval impossible ("more than 100% approve"), so it is refused.
        above = _check_percent(
            "rule.approval_above_percent", self.approval_above_percent, below_100=True
        )
        object.__setattr__(self, "quorum_percent", quorum)
        object.__setattr__(self, "approval_above_percent", above)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "quorum_percent": _percent_to_json(self.quorum_percent),
            "approval_above_percent": _percent_to_json(self.approval_above_percent),
        }


Rule = StewardsRule | ThresholdRule | ConsentRule | MajorityRule
_RULE_KINDS = ("stewards", "threshold", "consent", "majority")


@dataclass(frozen=True)
class DecisionRules:
    """One version of a pot's decision rules. See the module docstring for the JSON form."""

    rule: Rule
    voting_window: timedelta
    max_open_proposals_per_member: int
    ballot: Ballot = Ballot.OPEN
    late_joiners_may_vote: bool = False
    #: In minor units of the pot's currency; ``None`` means no limit beyond the pot's money.
    max_amount: int | None = None
    version: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.rule, StewardsRule | ThresholdRule | ConsentRule | MajorityRule):
            raise InvalidRules("rule", f"must be one of the rule kinds {', '.join(_RULE_KINDS)}")
        _check_window(self.voting_window)
        _check_count("max_open_proposals_per_member", self.max_open_proposals_per_member, minimum=1)
        if self.ballot not in ("open", "secret"):
            raise InvalidRules("ballot", f"must be 'open' or 'secret', got {_shown(self.ballot)}")
        object.__setattr__(self, "ballot", Ballot(self.ballot))
        if not isinstance(self.late_joiners_may_vote, bool):
            raise InvalidRules(
                "late_joiners_may_vote",
                f"must be true or false, got {_shown(self.late_joiners_may_vote)}",
            )
        if self.max_amount is not None:
            _check_count("max_amount", self.max_amount, minimum=1, maximum=MAX_AMOUNT)
        _check_count("version", self.version, minimum=1, maximum=MAX_AMOUNT)

    @property
    def kind(self) -> str:
        return self.rule.kind

    @property
    def voting_window_hours(self) -> int:
        return self.voting_window // timedelta(hours=1)

    def with_version(self, version: int) -> DecisionRules:
        """The same rules numbered ``version`` (e.g. the pot's latest version + 1)."""
        return replace(self, version=version)

    def deadline_for(self, opened_at: datetime) -> datetime:
        """When a proposal opened at ``opened_at`` under these rules stops taking votes."""
        return opened_at + self.voting_window

    def allows_amount(self, amount: int) -> bool:
        """Whether a proposal may ask for ``amount`` minor units (the limit itself is allowed)."""
        return self.max_amount is None or amount <= self.max_amount

    def may_open_another(self, open_proposals: int) -> bool:
        """Whether a member who already has ``open_proposals`` open may open one more."""
        return open_proposals < self.max_open_proposals_per_member

    def may_vote(self, joined_at: datetime, opened_at: datetime) -> bool:
        """Whether a member who joined at ``joined_at`` may vote on a proposal opened at
        ``opened_at``. Joining at the very instant it opened is not "after"."""
        return self.late_joiners_may_vote or joined_at <= opened_at

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` turns it back into an equal value."""
        return {
            "version": self.version,
            "rule": self.rule.to_dict(),
            "voting_window_hours": self.voting_window_hours,
            "max_amount": self.max_amount,
            "max_open_proposals_per_member": self.max_open_proposals_per_member,
            "ballot": self.ballot.value,
            "late_joiners_may_vote": self.late_joiners_may_vote,
        }

    @classmethod
    def from_dict(cls, data: object) -> DecisionRules:
        """Parse rules from decoded JSON; raise :class:`InvalidRules` naming the bad field.

        Required: ``rule``, ``voting_window_hours``, ``max_open_proposals_per_member``.
        Optional: ``ballot`` ("open"), ``late_joiners_may_vote`` (false), ``max_amount``
        (null: no limit), ``version`` (1). Unknown keys are refused so that a misspelt
        setting is not silently ignored.
        """
        fields = _Fields(data, "")
        rule = _rule_from_dict(fields.required("rule"))
        hours = _check_count(
            "voting_window_hours",
            fields.required("voting_window_hours"),
            minimum=1,
            maximum=MAX_VOTING_WINDOW_HOURS,
        )
        rules = cls(
            rule=rule,
            voting_window=timedelta(hours=hours),
            max_open_proposals_per_member=fields.required("max_open_proposals_per_member"),
            ballot=fields.optional("ballot", Ballot.OPEN),
            late_joiners_may_vote=fields.optional("late_joiners_may_vote", False),
            max_amount=fields.optional("max_amount", None),
            version=fields.optional("version", 1),
        )
        fields.refuse_unknown()
        return rules


def format_percent(value: Fraction) -> str:
    """For people: ``50``, ``66.5``, or ``66 2/3`` (a percentage with no exact decimal)."""
    text = _exact_decimal(value)
    if text is not None:
        return text
    whole, rest = divmod(value.numerator, value.denominator)
    rest_text = f"{rest}/{value.denominator}"
    return f"{whole} {rest_text}" if whole else rest_text


def _rule_from_dict(data: object) -> Rule:
    fields = _Fields(data, "rule")
    kind = fields.required("kind")
    rule: Rule
    if kind == "stewards":
        rule = StewardsRule(approvals_needed=fields.required("approvals_needed"))
    elif kind == "threshold":
        rule = ThresholdRule(
            approvals_needed=fields.required("approvals_needed"),
            objections_to_reject=fields.required("objections_to_reject"),
        )
    elif kind == "consent":
        rule = ConsentRule(min_participants=fields.required("min_participants"))
    elif kind == "majority":
        rule = MajorityRule(
            quorum_percent=_percent_from_json(
                "rule.quorum_percent", fields.required("quorum_percent")
            ),
            approval_above_percent=_percent_from_json(
                "rule.approval_above_percent", fields.required("approval_above_percent")
            ),
        )
    else:
        raise InvalidRules(
            "rule.kind", f"must be one of {', '.join(_RULE_KINDS)}, got {_shown(kind)}"
        )
    fields.refuse_unknown()
    return rule


class _Fields:
    """Reads keys of one JSON object, remembering which were read to refuse the rest."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise InvalidRules(path or "rules", "must be a JSON object")
        self._data = data
        self._path = path
        self._read: set[str] = set()

    def _name(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def required(self, key: str) -> Any:
        if key not in self._data:
            raise InvalidRules(self._name(key), "is required")
        self._read.add(key)
        return self._data[key]

    def optional(self, key: str, default: Any) -> Any:
        self._read.add(key)
        value = self._data.get(key)
        return default if value is None else value

    def refuse_unknown(self) -> None:
        unknown = sorted(str(key) for key in self._data if key not in self._read)
        if unknown:
            known = ", ".join(sorted(self._read))
            raise InvalidRules(self._name(unknown[0]), f"is not a known setting (known: {known})")


def _check_count(field: str, value: object, *, minimum: int, maximum: int = MAX_COUNT) -> int:
    # bool is an int in Python but "true approvals" is a mistake; 5.0 is refused too, since a
    # float in these settings means the sender's JSON is not what they think it is.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRules(field, f"must be a whole number, got {_shown(value)}")
    if not minimum <= value <= maximum:
        raise InvalidRules(field, f"must be between {minimum} and {maximum}, got {_shown(value)}")
    return value


def _check_window(window: object) -> None:
    if not isinstance(window, timedelta):
        raise InvalidRules("voting_window_hours", f"must be a duration, got {_shown(window)}")
    # Whole hours only, so that the JSON form (hours) says exactly what is in force.
    if window % timedelta(hours=1):
        raise InvalidRules("voting_window_hours", "must be a whole number of hours")
    _check_count(
        "voting_window_hours",
        window // timedelta(hours=1),
        minimum=1,
        maximum=MAX_VOTING_WINDOW_HOURS,
    )


def _check_percent(field: str, value: object, *, below_100: bool) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise InvalidRules(
            field, f"must be an exact percentage (int or Fraction), got {_shown(value)}"
        )
    percent = Fraction(value)
    too_high = percent >= 100 if below_100 else percent > 100
    if percent < 0 or too_high:
        bounds = "at least 0 and less than 100" if below_100 else "between 0 and 100"
        raise InvalidRules(field, f"must be {bounds}, got {_shown(percent)}")
    return percent


def _percent_from_json(field: str, value: object) -> Fraction:
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    if isinstance(value, str):
        if _PERCENT_DECIMAL.match(value):
            return Fraction(value)
        if _PERCENT_FRACTION.match(value):
            numerator, denominator = (int(part) for part in value.split("/"))
            if denominator == 0:
                raise InvalidRules(field, f"{_shown(value)} divides by zero")
            return Fraction(numerator, denominator)
    raise InvalidRules(
        field,
        f'must be a whole number or an exact string such as "66.5" or "200/3" '
        f"(floats are not accepted), got {_shown(value)}",
    )


def _percent_to_json(value: Fraction) -> int | str:
    if value.denominator == 1:
        return value.numerator
    return _exact_decimal(value) or f"{value.numerator}/{value.denominator}"


def _exact_decimal(value: Fraction) -> str | None:
    """``value`` written as a finite decimal, or None if it has none (e.g. 200/3)."""
    for places in range(7):
        scaled = value * 10**places
        if scaled.denominator == 1:
            digits = str(abs(scaled.numerator)).rjust(places + 1, "0")
            whole, frac = digits[: len(digits) - places], digits[len(digits) - places :]
            sign = "-" if value < 0 else ""
            return f"{sign}{whole}.{frac}" if places else f"{sign}{whole}"
    return None


def _shown(value: object) -> str:
    """The offending value for an error message: short, and safe for absurd input (Python
    refuses to turn an int of more than 4,300 digits into text)."""
    if isinstance(value, Fraction | int) and not -(10**15) <= value <= 10**15:
        return "a number that is far too large"
    try:
        text = format_percent(value) if isinstance(value, Fraction) else repr(value)
    except ValueError:
        return "a value that is far too large"
    return text if len(text) <= 40 else text[:37] + "..."
