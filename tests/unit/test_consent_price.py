"""Substitute consent "same price or lower" is measured against what the customer pays for the item (their order
line's unit price), whatever the catalogue says today: a shop that raised the product's price after the order
must not have a dearer substitute taken for the customer, nor one that lowered it stop a cheaper one."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.clock import FixedClock
from domain.model import BackorderStatus, Channel
from domain.preferences import SubstituteConsent
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from tests.unit.fakes import InMemoryStore
from tests.unit.support import NOW

LAMP, ALT = "LAMP-1", "LAMP-ALT"
prices = st.integers(100, 5000).map(lambda cents: Decimal(cents) / 100)


async def _consent_after_a_price_change(paid: Decimal, price_now: Decimal, alt_price: Decimal):
    store = InMemoryStore()
    desk = BackorderDesk(store, FixedClock(NOW))
    await desk.upsert_product(ProductInput(sku=ALT, name="Brass lamp", price=alt_price))
    await desk.receive_stock(ALT, 10)
    await desk.upsert_product(ProductInput(sku=LAMP, name="Lamp", price=paid, substitutes=[ALT]))
    placed = await desk.place_order(CustomerDetails("ann@example.com"), Channel.ONLINE, [LineRequest(LAMP, 2)])
    [line] = placed.lines
    assert line.backorder_id is not None
    await desk.upsert_product(ProductInput(sku=LAMP, name="Lamp", price=price_now, substitutes=[ALT]))
    backorder = await desk.set_backorder_preferences(line.backorder_id,
                                                     substitutes=SubstituteConsent.SAME_PRICE_OR_LOWER)
    return backorder, store.state.orders[placed.id]


async def test_a_price_raised_after_the_order_does_not_let_a_dearer_substitute_in():
    backorder, order = await _consent_after_a_price_change(Decimal("10.00"), Decimal("20.00"), Decimal("15.00"))

    assert backorder.status is BackorderStatus.WAITING
    assert [line.sku for line in order.lines] == [LAMP]


async def test_a_price_lowered_after_the_order_still_takes_one_that_costs_no_more_than_was_paid():
    backorder, order = await _consent_after_a_price_change(Decimal("10.00"), Decimal("5.00"), Decimal("8.00"))

    assert backorder.status is BackorderStatus.SUBSTITUTED
    assert [(line.sku, line.unit_price.amount) for line in order.lines] == [(LAMP, Decimal("10.00")),
                                                                          (ALT, Decimal("8.00"))]


@settings(max_examples=60, deadline=None)
@given(paid=prices, price_now=prices, alt_price=prices)
async def test_same_price_or_lower_takes_exactly_what_costs_no_more_than_the_customer_pays(paid, price_now, alt_price):
    backorder, order = await _consent_after_a_price_change(paid, price_now, alt_price)

    assert (backorder.status is BackorderStatus.SUBSTITUTED) == (alt_price <= paid)
    assert all(line.unit_price.amount <= paid for line in order.lines)
