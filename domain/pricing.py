"""What a substitute costs next to what the customer ordered: the one place a price is compared with a price
in another currency, and only through the shop's exchange rate for that direction (never as bare numbers).

The rule (also in the schema's descriptions of `SubstituteOption.priceDifference` and `acceptSubstitute`):
- same currency: the difference is the substitute's unit price minus the original's;
- another currency: the substitute's price is converted into the original's currency at the shop's rate from
  the substitute's currency to the original's (rounded half up to the cent, `domain.currency`), and the
  difference is taken in the original's currency; whoever shows it shows the rate and its date;
- no such rate: there is no difference to show, and accepting the substitute is refused (NO_EXCHANGE_RATE),
  so an order never gets a line in a second currency. An accepted substitute's line is priced in the order's
  currency at the converted price, and keeps the substitute's own price and the rate it was converted at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.currency import ExchangeRate
from domain.errors import ErrorCode, SubstituteError
from domain.model import Money

RateBook = Mapping[tuple[str, str], ExchangeRate]  # (from currency, to currency) -> the shop's rate


@dataclass(frozen=True)
class PriceComparison:
    original: Money  # the ordered product's unit price: the order's currency
    substitute: Money  # the substitute's own unit price
    converted: Money  # the substitute's unit price in the original's currency
    rate: ExchangeRate | None  # the rate it was converted at; None when both are in one currency

    @property
    def difference(self) -> Money:
        """Substitute minus original, per unit, in the original's currency."""
        return self.converted - self.original

    @property
    def costs_no_more(self) -> bool:
        return self.difference.amount <= 0


def compare_prices(original: Money, substitute: Money, rates: RateBook) -> PriceComparison | None:
    """The substitute's price next to the original's, or None when they are in different currencies and the
    shop has no rate from the substitute's currency to the original's."""
    if substitute.currency == original.currency:
        return PriceComparison(original, substitute, substitute, None)
    rate = rates.get((substitute.currency, original.currency))
    if rate is None:
        return None
    converted = Money(rate.convert_amount(substitute.amount, substitute.currency), original.currency)
    return PriceComparison(original, substitute, converted, rate)


def substitute_price(original: Money, substitute: Money, rates: RateBook,
                     field: str = "substitute_sku") -> PriceComparison:
    """What an accepted substitute's line is priced at (`converted`): refused when it cannot be said in the
    order's currency."""
    comparison = compare_prices(original, substitute, rates)
    if comparison is None:
        raise SubstituteError(
            f"the substitute is priced in {substitute.currency} and the order in {original.currency}; the shop has "
            f"no {substitute.currency}→{original.currency} exchange rate, so its price cannot be said in "
            f"{original.currency}", field=field, code=ErrorCode.NO_EXCHANGE_RATE)
    return comparison
