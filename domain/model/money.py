"""Money: an amount with its currency, never a float, and never mixed with another currency.

Amounts of one currency add, subtract and compare as their numbers; amounts of two currencies do none of that
(CurrencyMismatch, a typed error): they meet only through the shop's exchange rate (`convert`, rounded half up
to the cent, `domain.currency`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.currency import CurrencyMismatch, ExchangeRate, check_currency
from domain.limits import check_amount


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    @staticmethod
    def of(amount: Decimal | str | int, currency: str, field_name: str = "price") -> Money:
        value = check_amount(amount, field_name)
        return Money(value, check_currency(currency, f"{field_name}.currency"))

    def _same(self, other: Money, doing: str) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot {doing} Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot {doing} {self.currency} and {other.currency} amounts without an "
                                   "exchange rate")

    def __add__(self, other: Money) -> Money:
        self._same(other, "add")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other, "subtract")
        return Money(self.amount - other.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount >= other.amount

    def times(self, units: int) -> Money:
        """The amount for `units` of it (exact: cents times a whole number)."""
        return Money(self.amount * units, self.currency)

    def convert(self, rate: ExchangeRate) -> Money:
        """This amount in the rate's target currency, rounded half up to the cent (only from the rate's source)."""
        return Money(rate.convert_amount(self.amount, self.currency), rate.to_currency)
