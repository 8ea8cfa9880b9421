"""Money is exact and never mixes currencies: amounts in two currencies are not added, subtracted or compared
(Money raises CURRENCY_MISMATCH), a price is compared across currencies only through the shop's exchange rate
(rounded half up to the cent, once), and accepting a substitute never leaves an order with lines in two
currencies. Before: a EUR 10 item with a USD 12 substitute showed "12.00 more" and the order got a USD line."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.clock import FixedClock
from domain.currency import CurrencyMismatch, ExchangeRate, check_rate
from domain.errors import DomainError, ErrorCode, InvalidInput
from domain.model import Channel, Money
from domain.preferences import BackorderPreferences, SubstituteConsent
from domain.pricing import compare_prices
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from tests.unit.fakes import InMemoryStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CURRENCIES = ["EUR", "USD", "GBP", "JPY"]
currencies = st.sampled_from(CURRENCIES)
amounts = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2, allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("500"), places=8, allow_nan=False,
                    allow_infinity=False).filter(lambda r: r > 0)


@settings(max_examples=200, deadline=None)
@given(a=amounts, b=amounts, first=currencies, second=currencies)
def test_amounts_in_two_currencies_are_never_added_subtracted_or_compared(a, b, first, second):
    x, y = Money(a, first), Money(b, second)
    operations = [lambda: x + y, lambda: x - y, lambda: x < y, lambda: x <= y, lambda: x > y, lambda: x >= y]
    for operation in operations:
        if first == second:
            operation()  # within one currency, arithmetic and order are the numbers'
        else:
            with pytest.raises(CurrencyMismatch) as refused:
                operation()
            assert refused.value.code is ErrorCode.CURRENCY_MISMATCH
    if first == second:
        assert (x + y).amount == a + b and (x - y).amount == a - b and (x < y) == (a < b)


def test_conversion_rounds_half_up_to_the_cent_once():
    rate = ExchangeRate.of("usd", "EUR", "0.925", date(2026, 3, 1))
    assert Money(Decimal("12.00"), "USD").convert(rate) == Money(Decimal("11.10"), "EUR")
    assert Money(Decimal("0.01"), "USD").convert(ExchangeRate.of("USD", "EUR", "0.5", date(2026, 3, 1))) == Money(
        Decimal("0.01"), "EUR")  # 0.005 rounds up, not to even
    with pytest.raises(CurrencyMismatch):
        Money(Decimal("1.00"), "GBP").convert(rate)  # a USD->EUR rate converts USD only


@pytest.mark.parametrize("bad", ["0", "-1", "NaN", "Infinity", "abc", "1.123456789", "1e20"])
def test_a_rate_is_positive_finite_and_at_most_eight_decimals(bad):
    with pytest.raises(InvalidInput):
        check_rate(bad)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_what_is_no_number_is_not_said_to_be_below_zero(bad):
    with pytest.raises(InvalidInput) as refused:
        check_rate(bad)
    assert refused.value.message.endswith("is not an exchange rate"), refused.value.message


def test_a_rate_is_between_two_currencies():
    with pytest.raises(InvalidInput) as same:
        ExchangeRate.of("EUR", "eur", "1", date(2026, 3, 1))
    assert same.value.field == "to_currency"
    with pytest.raises(InvalidInput) as bad:
        ExchangeRate.of("EURO", "USD", "1", date(2026, 3, 1))
    assert bad.value.field == "from_currency"


@settings(max_examples=200, deadline=None)
@given(original=amounts, substitute=amounts, ours=currencies, theirs=currencies, rate=st.none() | rates)
def test_a_price_difference_is_in_the_originals_currency_or_there_is_none(original, substitute, ours, theirs, rate):
    book = {(theirs, ours): ExchangeRate(theirs, ours, rate, date(2026, 3, 1))} if rate and theirs != ours else {}
    comparison = compare_prices(Money(original, ours), Money(substitute, theirs), book)
    if theirs != ours and not book:
        assert comparison is None  # no rate: never a number that compares a USD price with a EUR one
        return
    assert comparison is not None
    assert comparison.difference.currency == ours == comparison.converted.currency
    if theirs == ours:
        assert comparison.rate is None and comparison.difference.amount == substitute - original
    else:
        assert comparison.rate is not None
        assert comparison.converted.amount == (substitute * rate).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


# -- the substitute's offer and acceptance, through the use cases -------------------------------------
async def _shop(ours: str, theirs: str, rate: Decimal | None, *, alt_stock: int = 5,
                store: InMemoryStore | None = None) -> tuple[BackorderDesk, InMemoryStore, str]:
    store = store or InMemoryStore()
    desk = BackorderDesk(store, FixedClock(NOW))
    await desk.upsert_product(ProductInput(sku="ALT", name="Alternative", price=Decimal("12.00"), currency=theirs))
    await desk.upsert_product(ProductInput(sku="LAMP", name="Lamp", price=Decimal("10.00"), currency=ours,
                                           substitutes=["ALT"]))
    if alt_stock:
        await desk.receive_stock("ALT", alt_stock)
    if rate is not None and ours != theirs:
        await desk.upsert_exchange_rate(theirs, ours, rate)
    order = await desk.place_order(CustomerDetails("ann@example.com"), Channel.ONLINE, [LineRequest("LAMP", 2)])
    backorder_id = order.lines[0].backorder_id
    assert backorder_id is not None
    return desk, store, backorder_id


@settings(max_examples=60, deadline=None)
@given(ours=currencies, theirs=currencies, rate=st.none() | rates)
async def test_accepting_a_substitute_never_mixes_currencies_in_one_order(ours, theirs, rate):
    desk, store, backorder_id = await _shop(ours, theirs, rate)
    before = repr(store.state)
    try:
        backorder, line = await desk.accept_substitute(backorder_id, "ALT")
    except DomainError as refused:
        assert theirs != ours and rate is None, refused
        assert refused.code is ErrorCode.NO_EXCHANGE_RATE and refused.field == "substitute_sku"
        assert repr(store.state) == before  # refused: nothing changed
        return
    order = next(iter(store.state.orders.values()))
    assert {li.unit_price.currency for li in order.lines} == {ours}
    if theirs == ours:
        assert line.unit_price == Money(Decimal("12.00"), ours) and line.list_price is None
    else:
        assert rate is not None
        assert line.list_price == Money(Decimal("12.00"), theirs)
        assert line.exchange_rate is not None and line.exchange_rate.rate == check_rate(rate)
        assert line.unit_price == Money((Decimal("12.00") * rate).quantize(Decimal("0.01"), "ROUND_HALF_UP"), ours)


async def test_an_exchange_rate_cannot_be_dated_in_the_future_and_bad_rates_change_nothing():
    store = InMemoryStore()
    desk = BackorderDesk(store, FixedClock(NOW))
    for args, field in [(("USD", "EUR", "0.9", date(2026, 3, 3)), "date"), (("USD", "EUR", "0"), "rate"),
                        (("US", "EUR", "1"), "from_currency"), (("USD", "USD", "1"), "to_currency")]:
        with pytest.raises(DomainError) as refused:
            await desk.upsert_exchange_rate(*args)
        assert refused.value.field == field
    assert store.state.exchange_rates == {}
    made = await desk.upsert_exchange_rate("usd", "eur", "0.925")
    assert (made.pair, made.rate, made.as_of) == (("USD", "EUR"), Decimal("0.92500000"), NOW.date())


async def _consenting_shop(ours: str, theirs: str, rate: Decimal | None, consent: SubstituteConsent,
                           path: str) -> tuple[InMemoryStore, str]:
    """The three ways a substitute is taken for a customer who consented in advance: at placement with the
    account's default, when they consent with one in stock, and by the worker's pass once one arrives."""
    if path != "placement":
        desk, store, backorder_id = await _shop(ours, theirs, rate, alt_stock=0 if path == "worker" else 5)
        await desk.set_backorder_preferences(backorder_id, substitutes=consent)
        if path == "worker":
            await desk.receive_stock("ALT", 5)
            await desk.apply_substitute_consents(["ALT"])
        return store, backorder_id
    store = InMemoryStore()
    store.state.backorder_defaults["ann@example.com"] = BackorderPreferences(substitutes=consent)
    desk, store, backorder_id = await _shop(ours, theirs, rate, store=store)
    return store, backorder_id


@settings(max_examples=90, deadline=None)
@given(ours=currencies, theirs=currencies, rate=st.none() | rates,
       consent=st.sampled_from([SubstituteConsent.ANY_LISTED, SubstituteConsent.SAME_PRICE_OR_LOWER]),
       path=st.sampled_from(["placement", "consent", "worker"]))
async def test_a_substitute_taken_by_consent_is_priced_by_the_rule_acceptance_uses(ours, theirs, rate, consent, path):
    # the same rule as acceptSubstitute (domain.pricing): converted at the shop's rate into the order's currency,
    # taken when the consent covers the converted price; no rate: never taken, and still offered
    store, backorder_id = await _consenting_shop(ours, theirs, rate, consent, path)
    order = next(iter(store.state.orders.values()))
    assert {line.unit_price.currency for line in order.lines} == {ours}
    taken = [line for line in order.lines if line.substitute_for == backorder_id]
    convertible = theirs == ours or rate is not None
    price = Decimal("12.00") if theirs == ours else (Decimal("12.00") * rate).quantize(Decimal("0.01"),
                                                                                        "ROUND_HALF_UP") \
        if rate is not None else None
    expected = convertible and (consent is SubstituteConsent.ANY_LISTED or (price or 0) <= Decimal("10.00"))
    if not expected:
        assert taken == []  # dearer in the order's currency, or a price it cannot say in it
        backorder = store.state.backorders[backorder_id]
        assert backorder.is_active and "ALT" not in backorder.declined_substitutes  # left to offer and ask
        return
    assert [line.unit_price for line in taken] == [Money(price, ours)]
    assert (taken[0].exchange_rate is None) == (theirs == ours)
    if theirs != ours:
        assert taken[0].list_price == Money(Decimal("12.00"), theirs)
