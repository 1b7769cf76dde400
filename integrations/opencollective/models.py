"""Typed, immutable views of what the Open Collective API returns, and the parsing into them.

Money crosses this boundary as `int` minor units only. The schema types `Amount.valueInCents` as a
Float; the transport decodes JSON numbers with a fractional part or exponent as `Decimal` (never
`float`), and `minor_units` accepts a value only if it is exactly integral. Anything else raises
`OpenCollectiveDataError`: a silently rounded cent is worse than a stopped sync.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .errors import OpenCollectiveDataError

# Beyond 2**53 a JSON number may already have been rounded by the sender (JavaScript numbers are
# IEEE doubles), so an "integral" value that large cannot be trusted to be the real amount.
_MAX_SAFE_INTEGER = 2**53


def minor_units(value: object, *, what: str = "valueInCents") -> int:
    """Convert an API money value to integer minor units, exactly, or raise."""
    # bool is an int subclass: `true` is never an amount.
    if isinstance(value, bool):
        raise OpenCollectiveDataError(f"{what} is a boolean, not an amount: {value!r}")
    if isinstance(value, int):
        result = value
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise OpenCollectiveDataError(f"{what} is not a whole number of minor units: {value}")
        result = int(value)
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise OpenCollectiveDataError(f"{what} is not a whole number of minor units: {value}")
        result = int(value)
    else:
        raise OpenCollectiveDataError(f"{what} is not a number: {type(value).__name__}")
    if abs(result) > _MAX_SAFE_INTEGER:
        raise OpenCollectiveDataError(f"{what} is too large to be exact: {result}")
    return result


@dataclass(frozen=True, slots=True)
class OCAmount:
    value_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class OCAccountRef:
    slug: str
    name: str | None


@dataclass(frozen=True, slots=True)
class CollectiveInfo:
    slug: str
    name: str | None
    currency: str
    balance_minor: int


@dataclass(frozen=True, slots=True)
class OCTransaction:
    id: str
    legacy_id: int
    group: str
    type: str  # "CREDIT" | "DEBIT"
    kind: str | None  # TransactionKind: CONTRIBUTION, HOST_FEE, PAYMENT_PROCESSOR_FEE, EXPENSE, ...
    created_at: datetime
    description: str | None
    amount: OCAmount  # signed: DEBITs are negative
    # With `fetchHostFee`/`fetchPaymentProcessorFee` left false (the default) fees recorded as
    # separate HOST_FEE / PAYMENT_PROCESSOR_FEE rows are NOT folded in again, so summing
    # net_amount over all rows does not count a fee twice.
    net_amount: OCAmount
    payment_processor_fee: OCAmount | None
    host_fee: OCAmount | None
    is_refund: bool
    is_refunded: bool
    refund_transaction_id: str | None
    expense_id: str | None
    expense_legacy_id: int | None
    account: OCAccountRef | None
    opposite_account: OCAccountRef | None
    from_account: OCAccountRef | None
    to_account: OCAccountRef | None
    # Absolute position in the (createdAt ASC, id) listing it came from; None for single look-ups.
    offset: int | None = None

    @property
    def next_offset(self) -> int:
        """Where to resume `iter_transactions` after this item has been stored."""
        if self.offset is None:
            raise ValueError("transaction was not read from a listing; it has no offset")
        return self.offset + 1


@dataclass(frozen=True, slots=True)
class OCExpense:
    id: str  # public id ("ex_...")
    legacy_id: int  # the integer id that webhooks carry
    status: str  # ExpenseStatus: PENDING, APPROVED, PAID, ...
    type: str
    description: str
    amount: OCAmount
    currency: str
    reference: str | None
    account_slug: str | None
    payee_slug: str | None
    created_at: datetime | None
    # A dict is unhashable: keep it out of the generated __hash__ (it still takes part in ==).
    custom_data: Mapping[str, Any] | None = field(default=None, hash=False)


# --- parsing ---------------------------------------------------------------------------------


def _require(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise OpenCollectiveDataError(f"{where}.{key} missing or of the wrong type: {value!r}")
    return value


def _optional(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise OpenCollectiveDataError(f"{where}.{key} is of the wrong type: {value!r}")
    return value


def _as_object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise OpenCollectiveDataError(f"{where} is not an object: {type(value).__name__}")
    return value


def parse_datetime(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise OpenCollectiveDataError(f"{where} is not a date-time string: {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise OpenCollectiveDataError(f"{where} is not an ISO 8601 date-time: {value!r}") from None
    if parsed.tzinfo is None:
        # The schema promises UTC date-times; a naive one would be compared wrongly later.
        raise OpenCollectiveDataError(f"{where} has no time zone: {value!r}")
    return parsed


def parse_amount(value: object, where: str) -> OCAmount:
    obj = _as_object(value, where)
    currency = _require(obj, "currency", str, where)
    return OCAmount(minor_units(obj.get("valueInCents"), what=f"{where}.valueInCents"), currency)


def _optional_amount(obj: Mapping[str, Any], key: str, where: str) -> OCAmount | None:
    value = obj.get(key)
    return None if value is None else parse_amount(value, f"{where}.{key}")


def _account_ref(obj: Mapping[str, Any], key: str, where: str) -> OCAccountRef | None:
    value = obj.get(key)
    if value is None:
        return None
    acc = _as_object(value, f"{where}.{key}")
    return OCAccountRef(
        slug=_require(acc, "slug", str, f"{where}.{key}"),
        name=_optional(acc, "name", str, f"{where}.{key}"),
    )


def plain_json(value: Any) -> Any:
    """Turn the transport's exact Decimals back into ordinary JSON types for free-form data."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_json(v) for v in value]
    return value


def parse_collective(value: object) -> CollectiveInfo:
    obj = _as_object(value, "account")
    currency = _require(obj, "currency", str, "account")
    stats = _as_object(obj.get("stats"), "account.stats")
    balance = parse_amount(stats.get("balance"), "account.stats.balance")
    if balance.currency != currency:
        raise OpenCollectiveDataError(
            f"balance is in {balance.currency} but the account is in {currency}"
        )
    return CollectiveInfo(
        slug=_require(obj, "slug", str, "account"),
        name=_optional(obj, "name", str, "account"),
        currency=currency,
        balance_minor=balance.value_minor,
    )


def parse_transaction(value: object, offset: int | None = None) -> OCTransaction:
    where = "transaction" if offset is None else f"transactions[{offset}]"
    obj = _as_object(value, where)
    tx_type = _require(obj, "type", str, where)
    if tx_type not in ("CREDIT", "DEBIT"):
        raise OpenCollectiveDataError(f"{where}.type is neither CREDIT nor DEBIT: {tx_type!r}")
    refund = obj.get("refundTransaction")
    expense = obj.get("expense")
    expense_obj = None if expense is None else _as_object(expense, f"{where}.expense")
    return OCTransaction(
        id=_require(obj, "id", str, where),
        legacy_id=_require(obj, "legacyId", int, where),
        group=_require(obj, "group", str, where),
        type=tx_type,
        kind=_optional(obj, "kind", str, where),
        created_at=parse_datetime(obj.get("createdAt"), f"{where}.createdAt"),
        description=_optional(obj, "description", str, where),
        amount=parse_amount(obj.get("amount"), f"{where}.amount"),
        net_amount=parse_amount(obj.get("netAmount"), f"{where}.netAmount"),
        payment_processor_fee=_optional_amount(obj, "paymentProcessorFee", where),
        host_fee=_optional_amount(obj, "hostFee", where),
        is_refund=bool(_optional(obj, "isRefund", bool, where)),
        is_refunded=bool(_optional(obj, "isRefunded", bool, where)),
        refund_transaction_id=(
            None
            if refund is None
            else _require(_as_object(refund, f"{where}.refundTransaction"), "id", str, where)
        ),
        expense_id=None if expense_obj is None else _require(expense_obj, "id", str, where),
        expense_legacy_id=(
            None if expense_obj is None else _optional(expense_obj, "legacyId", int, where)
        ),
        account=_account_ref(obj, "account", where),
        opposite_account=_account_ref(obj, "oppositeAccount", where),
        from_account=_account_ref(obj, "fromAccount", where),
        to_account=_account_ref(obj, "toAccount", where),
        offset=offset,
    )


def parse_expense(value: object) -> OCExpense:
    where = "expense"
    obj = _as_object(value, where)
    custom = obj.get("customData")
    if custom is not None and not isinstance(custom, Mapping):
        raise OpenCollectiveDataError(f"expense.customData is not an object: {custom!r}")
    account = obj.get("account")
    payee = obj.get("payee")
    created = obj.get("createdAt")
    return OCExpense(
        id=_require(obj, "id", str, where),
        legacy_id=_require(obj, "legacyId", int, where),
        status=_require(obj, "status", str, where),
        type=_require(obj, "type", str, where),
        description=_require(obj, "description", str, where),
        amount=parse_amount(obj.get("amountV2"), "expense.amountV2"),
        currency=_require(obj, "currency", str, where),
        reference=_optional(obj, "reference", str, where),
        account_slug=(
            None if account is None else _require(_as_object(account, where), "slug", str, where)
        ),
        payee_slug=(
            None if payee is None else _require(_as_object(payee, where), "slug", str, where)
        ),
        created_at=None if created is None else parse_datetime(created, "expense.createdAt"),
        custom_data=None if custom is None else plain_json(custom),
    )
