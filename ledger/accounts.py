"""The chart of accounts every pot has.

Postings are signed integers: positive is a debit, negative a credit, and every entry's postings
sum to zero. The pot's own money sits in ``available`` and ``committed:*`` (debit balances); the
money the pot *holds at its host* is their sum. The other accounts face the outside world and keep
running totals of where money came from and went to.

See docs/ledger-format.md for the full description.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.errors import InvalidInput

AVAILABLE = "available"  # held and free to allocate (debit balance, never below zero)
COMMITTED_PREFIX = "committed:"  # held and promised to something, e.g. committed:proposal:42
INCOME = "income"  # contributions received (credit balance: its negation is "received")
PAID_OUT = "paid_out"  # money paid out to payees (debit balance)
FEES = "fees"  # host and payment-processor fees (debit balance)
ADJUSTMENTS = "adjustments"  # corrections against the outside world (either sign)

_COMMITMENT_REF = re.compile(r"^[a-z][a-z0-9_-]*:[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class AccountInfo:
    code: str
    description: str
    non_negative: bool


CHART: dict[str, AccountInfo] = {
    info.code: info
    for info in (
        AccountInfo(AVAILABLE, "Held at the host and free to allocate", True),
        AccountInfo(INCOME, "Contributions received (credit balance)", False),
        AccountInfo(PAID_OUT, "Paid out to payees", False),
        AccountInfo(FEES, "Host and payment-processor fees", False),
        AccountInfo(ADJUSTMENTS, "Corrections against the outside world", False),
    )
}


def committed(ref: str) -> str:
    """The commitment account for ``ref`` (``"proposal:42"`` -> ``"committed:proposal:42"``)."""
    if not _COMMITMENT_REF.match(ref):
        raise InvalidInput(
            f"commitment reference {ref!r} must look like 'proposal:42' (kind:identifier)"
        )
    return COMMITTED_PREFIX + ref


def is_committed(account: str) -> bool:
    return account.startswith(COMMITTED_PREFIX)


def is_known(account: str) -> bool:
    if is_committed(account):
        return bool(_COMMITMENT_REF.match(account.removeprefix(COMMITTED_PREFIX)))
    return account in CHART


def is_non_negative(account: str) -> bool:
    """Accounts holding the pot's own money must never go below zero."""
    return is_committed(account) or CHART[account].non_negative


def is_held(account: str) -> bool:
    """Accounts whose sum is the money held at the host."""
    return account == AVAILABLE or is_committed(account)
