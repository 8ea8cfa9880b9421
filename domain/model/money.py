"""Money: an amount with its currency, never a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import InvalidInput
from domain.limits import check_amount, shown


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    @staticmethod
    def of(amount: Decimal | str | int, currency: str, field_name: str = "price") -> Money:
        value = check_amount(amount, field_name)
        currency = (currency or "").upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise InvalidInput(f"{shown(currency)} is not an ISO 4217 currency code", field=f"{field_name}.currency")
        return Money(value, currency)

    def __sub__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise InvalidInput("cannot subtract amounts in different currencies")
        return Money(self.amount - other.amount, self.currency)
