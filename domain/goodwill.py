"""Goodwill: what an agent gives a waiting customer for the wait, a credit in the order's currency and/or a
discount code, with the agent's note. Pure rules; the use case (domain.use_cases.goodwill) records it.

A credit is in the currency the customer paid in (another currency is CURRENCY_MISMATCH: the desk never converts
a gesture); it is more than zero and at most what the backordered units cost on the order line (more than the
customer paid for what they wait for is a typing slip, not goodwill). The note is the agent's (staff only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.currency import CurrencyMismatch, check_currency
from domain.errors import InvalidInput
from domain.limits import MAX_TEXT_LENGTH, check_amount, check_text, shown
from domain.model.money import Money

MAX_DISCOUNT_CODE_LENGTH = 64
# a code a customer types at checkout: letters, digits and - _ . (no spaces, no control characters)
_DISCOUNT_CODE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._\-]*[A-Za-z0-9])?")


@dataclass(frozen=True, kw_only=True)
class Goodwill:
    id: str
    backorder_id: str
    at: datetime
    agent: str
    credit: Money | None
    discount_code: str | None
    note: str


def check_discount_code(value: str | None, field: str = "discount_code") -> str | None:
    """None or blank: no code; else a code as the customer types it (kept as given, trimmed)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("a discount code must be text", field=field)
    code = value.strip()
    if not code:
        return None
    if len(code) > MAX_DISCOUNT_CODE_LENGTH:
        raise InvalidInput(f"a discount code must be at most {MAX_DISCOUNT_CODE_LENGTH} characters", field=field)
    if not _DISCOUNT_CODE.fullmatch(code):
        raise InvalidInput(f"{shown(code)} is not a discount code: letters, digits, '-', '_' and '.' only",
                           field=field)
    return code


def check_credit(amount: Decimal | str | int, currency: str, *, order_currency: str, most: Decimal,
                 field: str = "credit") -> Money:
    """A credit in the order's currency, more than zero and at most `most` (what the backordered units cost)."""
    code = check_currency(currency, f"{field}.currency")
    value = check_amount(amount, f"{field}.amount")
    if value <= 0:
        raise InvalidInput("a credit must be more than zero", field=f"{field}.amount")
    if code != order_currency:
        raise CurrencyMismatch(f"the order was paid in {order_currency}: a credit in {code} cannot be given",
                               field=f"{field}.currency")
    if value > most:
        raise InvalidInput(f"a credit must be at most {most} {order_currency}, what the backordered units cost",
                           field=f"{field}.amount")
    return Money(value, code)


def check_note(value: str | None, field: str = "note") -> str:
    return check_text(value, field, max_length=MAX_TEXT_LENGTH, required=True, multiline=True, what="a note")


def require_something(credit: object | None, discount_code: str | None) -> None:
    if credit is None and discount_code is None:
        raise InvalidInput("give a credit or a discount code", field="credit")
