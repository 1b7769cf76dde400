"""Amounts from people become exact integer minor units, or a clear refusal."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidAmount, UnknownCurrency
from ledger.money import (
    MAX_AMOUNT,
    format_money,
    minor_digits,
    parse_amount,
    to_decimal_string,
    validate_currency,
)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("250.00", "GBP", 25000),
        ("250", "GBP", 25000),
        ("0.01", "GBP", 1),
        ("250.5", "GBP", 25050),
        ("250", "JPY", 250),
        ("1.234", "BHD", 1234),
        (" 12.30 ", "EUR", 1230),
    ],
)
def test_parses_exactly(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("250.001", "GBP", "3 decimal places but GBP has 2"),
        ("250.5", "JPY", "1 decimal places but JPY has 0"),
        ("-5.00", "GBP", "not a positive decimal"),
        ("0", "GBP", "greater than zero"),
        ("0.00", "GBP", "greater than zero"),
        ("1e3", "GBP", "not a positive decimal"),
        ("1,000.00", "GBP", "not a positive decimal"),
        ("", "GBP", "not a positive decimal"),
        ("NaN", "GBP", "not a positive decimal"),
        ("99999999999999999999", "GBP", "larger than the largest"),
    ],
)
def test_refuses_bad_amounts(text: str, currency: str, message: str) -> None:
    with pytest.raises(InvalidAmount, match=message):
        parse_amount(text, currency)


@pytest.mark.parametrize("code", ["XYZ", "gbp", "", "POUND"])
def test_refuses_unknown_currencies(code: str) -> None:
    with pytest.raises(UnknownCurrency):
        validate_currency(code)
    with pytest.raises(UnknownCurrency):
        parse_amount("1", code)


def test_currency_digits_come_from_babel() -> None:
    assert (minor_digits("GBP"), minor_digits("JPY"), minor_digits("BHD")) == (2, 0, 3)


@given(st.integers(min_value=1, max_value=MAX_AMOUNT), st.sampled_from(["GBP", "JPY", "BHD"]))
def test_decimal_string_round_trips(minor: int, currency: str) -> None:
    assert parse_amount(to_decimal_string(minor, currency), currency) == minor


def test_formats_for_people() -> None:
    assert format_money(123450, "GBP") == "£1,234.50"
    assert to_decimal_string(-5, "GBP") == "-0.05"
