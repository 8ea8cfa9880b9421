"""Currencies and the shop's exchange rates: the one rule for a currency code, for a rate, and for turning an
amount of one currency into another (the rounding stated once, here).

Prices in different currencies are never compared as numbers (`domain.model.Money` refuses it); a price is
compared with one in another currency only after conversion at a rate the shop set, and whoever shows the
converted figure shows the rate and its date with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from domain.errors import DomainError, ErrorCode, InvalidInput
from domain.limits import shown

CENT = Decimal("0.01")
# Amounts are kept in cents. A converted amount is rounded to the cent half away from zero (ROUND_HALF_UP, as
# shops price: 0.005 -> 0.01), once, after multiplying by the rate: never round, convert and round again.
ROUNDING = ROUND_HALF_UP
RATE_PLACES = 8  # a rate is stored as NUMERIC(18, 8)
MAX_RATE = Decimal("9999999999.99999999")
_CURRENCY = re.compile(r"[A-Z]{3}")


class CurrencyMismatch(DomainError):
    """Two amounts in different currencies were compared or added: a programming error as much as bad input,
    typed so that it can never pass as a number."""

    code = ErrorCode.CURRENCY_MISMATCH


def check_currency(value: str | None, field: str = "currency") -> str:
    """An ISO 4217 code: three letters (any case in, upper case out)."""
    code = value.strip().upper() if isinstance(value, str) else ""
    if not _CURRENCY.fullmatch(code):
        raise InvalidInput(f"{shown(value)} is not an ISO 4217 currency code", field=field)
    return code


def round_to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUNDING)


def check_rate(value: Decimal | str | int, field: str = "rate") -> Decimal:
    """A rate: units of the target currency for one unit of the source, more than zero, at most 8 decimals."""
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{shown(value)} is not an exchange rate", field=field) from exc
    if not rate.is_finite():  # NaN or Infinity: no number at all, not one "not more than zero"
        raise InvalidInput(f"{shown(value)} is not an exchange rate", field=field)
    if rate <= 0:
        raise InvalidInput("an exchange rate must be more than zero", field=field)
    if rate > MAX_RATE:
        raise InvalidInput(f"an exchange rate must be at most {MAX_RATE}", field=field)
    exponent = rate.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > RATE_PLACES:
        raise InvalidInput(f"an exchange rate has at most {RATE_PLACES} decimal places", field=field)
    return rate.quantize(Decimal(1).scaleb(-RATE_PLACES))


@dataclass(frozen=True)
class ExchangeRate:
    """One unit of `from_currency` is worth `rate` units of `to_currency`, as the shop set it on `as_of`.

    A rate works in its own direction only: converting back uses the shop's rate for that direction (a
    computed inverse would be a figure nobody set, with digits nobody chose)."""

    from_currency: str
    to_currency: str
    rate: Decimal
    as_of: date

    @staticmethod
    def of(from_currency: str, to_currency: str, rate: Decimal | str | int, as_of: date) -> ExchangeRate:
        source = check_currency(from_currency, "from_currency")
        target = check_currency(to_currency, "to_currency")
        if source == target:
            raise InvalidInput("an exchange rate is between two different currencies", field="to_currency")
        return ExchangeRate(source, target, check_rate(rate), as_of)

    @property
    def pair(self) -> tuple[str, str]:
        return self.from_currency, self.to_currency

    def convert_amount(self, amount: Decimal, currency: str) -> Decimal:
        """`amount` of `currency` (which must be this rate's source) in the target currency, to the cent."""
        if currency != self.from_currency:
            raise CurrencyMismatch(f"a {self.from_currency}→{self.to_currency} rate cannot convert {currency}")
        return round_to_cents(amount * self.rate)
