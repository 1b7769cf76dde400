"""Money: integer minor units plus an ISO 4217 currency. Never floats.

Amounts arrive from people as decimal strings ("250.00"; "250" for JPY) and are converted exactly,
using the currency's own number of digits as Babel knows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from babel.numbers import format_currency, get_currency_precision, list_currencies

from ledger.errors import InvalidAmount, UnknownCurrency

# Every amount must survive a round trip through an IEEE double (RFC 8785 serialises numbers as
# JavaScript does) so that any verifier, in any language, reads exactly what we hashed.
MAX_AMOUNT = 2**53 - 1

_DECIMAL = re.compile(r"^(?P<whole>[0-9]+)(?:\.(?P<frac>[0-9]+))?$")


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def validate_currency(code: str) -> str:
    """Return the ISO 4217 code if it is one Babel knows, else raise ``UnknownCurrency``."""
    if not isinstance(code, str) or code not in _known_currencies():
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency code (e.g. GBP, EUR, JPY)")
    return code


def minor_digits(currency: str) -> int:
    """How many digits after the decimal point the currency uses (GBP 2, JPY 0, BHD 3)."""
    return int(get_currency_precision(validate_currency(currency)))


def parse_amount(text: str, currency: str) -> int:
    """Convert a positive decimal string to integer minor units of ``currency``, exactly.

    Refuses signs, exponents, thousands separators, too many decimals, zero and amounts too large
    to be represented exactly in JSON.
    """
    digits = minor_digits(currency)
    match = _DECIMAL.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidAmount(
            f"{text!r} is not a positive decimal amount (write it like "
            f"{'250' if digits == 0 else '250.' + '0' * digits})"
        )
    frac = match.group("frac") or ""
    if len(frac) > digits:
        raise InvalidAmount(f"{text!r} has {len(frac)} decimal places but {currency} has {digits}")
    minor = int(Decimal(text.strip()).scaleb(digits))
    return validate_minor_amount(minor)


def validate_minor_amount(minor: int) -> int:
    """Check an amount already in minor units: a positive integer within the exact range."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise InvalidAmount(f"amount must be an integer number of minor units, got {minor!r}")
    if minor <= 0:
        raise InvalidAmount(f"amount must be greater than zero, got {minor}")
    if minor > MAX_AMOUNT:
        raise InvalidAmount(f"amount {minor} is larger than the largest allowed ({MAX_AMOUNT})")
    return minor


def to_decimal_string(minor: int, currency: str) -> str:
    """The exact decimal representation of ``minor`` units ("1234" GBP -> "12.34")."""
    digits = minor_digits(currency)
    if digits == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


def format_money(minor: int, currency: str, locale: str = "en_GB") -> str:
    """Human formatting in the reader's locale ("£1,234.50")."""
    value = Decimal(to_decimal_string(minor, currency))
    return str(format_currency(value, currency, locale=locale))


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def as_json(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}
