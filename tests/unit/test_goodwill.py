"""Goodwill's rules, pure: a credit in the order's currency, more than zero and at most what the backordered units
cost; a discount code as a customer types it; a note the agent must write; one of credit or code at least."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.currency import CurrencyMismatch
from domain.errors import DomainError, ErrorCode, InvalidInput
from domain.goodwill import (
    MAX_DISCOUNT_CODE_LENGTH,
    check_credit,
    check_discount_code,
    check_note,
    require_something,
)
from domain.limits import MAX_TEXT_LENGTH
from domain.model import Money

MOST = Decimal("59.00")  # 2 lamps at 29.50


def test_a_credit_in_the_orders_currency_is_money_to_the_cent():
    assert check_credit("12.5", "eur", order_currency="EUR", most=MOST) == Money(Decimal("12.50"), "EUR")
    assert check_credit(MOST, "EUR", order_currency="EUR", most=MOST).amount == MOST


def test_a_credit_in_another_currency_is_a_currency_mismatch():
    with pytest.raises(CurrencyMismatch) as refused:
        check_credit("5", "USD", order_currency="EUR", most=MOST)
    assert (refused.value.code, refused.value.field) == (ErrorCode.CURRENCY_MISMATCH, "credit.currency")


@pytest.mark.parametrize(("amount", "currency", "field"), [
    ("0", "EUR", "credit.amount"), ("-1", "EUR", "credit.amount"), ("0.001", "EUR", "credit.amount"),
    ("59.01", "EUR", "credit.amount"), ("1e30", "EUR", "credit.amount"), ("NaN", "EUR", "credit.amount"),
    ("Infinity", "EUR", "credit.amount"), ("ten", "EUR", "credit.amount"), ("5", "EURO", "credit.currency"),
    ("5", "", "credit.currency"),
])
def test_zero_negative_absurd_or_malformed_credits_are_refused(amount, currency, field):
    with pytest.raises(InvalidInput) as refused:
        check_credit(amount, currency, order_currency="EUR", most=MOST)
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_INPUT, field)


@given(st.decimals(allow_nan=True, allow_infinity=True), st.sampled_from(["EUR", "USD", "eur", "X", ""]))
def test_a_credit_is_either_refused_with_a_typed_error_or_within_bounds(amount, currency):
    try:
        credit = check_credit(amount, currency, order_currency="EUR", most=MOST)
    except DomainError as error:
        assert error.field in ("credit.amount", "credit.currency")
        return
    assert credit.currency == "EUR" and Decimal("0.01") <= credit.amount <= MOST
    assert credit.amount == credit.amount.quantize(Decimal("0.01"))


def test_discount_codes():
    assert check_discount_code("  SORRY-10 ") == "SORRY-10"
    assert check_discount_code(None) is None and check_discount_code("  ") is None
    for bad in ("two words", "X" * (MAX_DISCOUNT_CODE_LENGTH + 1), "CODE\x00", "-LEADING", "ÜBER"):
        with pytest.raises(InvalidInput) as refused:
            check_discount_code(bad)
        assert refused.value.field == "discount_code"


def test_the_note_is_required_and_bounded():
    assert check_note("  sorry for the wait\n") == "sorry for the wait"
    for bad in ("", "   ", "x" * (MAX_TEXT_LENGTH + 1), "bell\x07"):
        with pytest.raises(InvalidInput) as refused:
            check_note(bad)
        assert refused.value.field == "note"


def test_something_must_be_given():
    with pytest.raises(InvalidInput) as refused:
        require_something(None, None)
    assert refused.value.field == "credit"
    require_something("5", None)
    require_something(None, "CODE")
