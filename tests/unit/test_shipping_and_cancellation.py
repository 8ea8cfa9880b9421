"""Shipping what is set aside (ship complete, preorders) and cancelling part of a backorder."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

import pytest

from domain import events as ev
from domain.errors import (
    DomainError,
    ErrorCode,
)
from domain.model import (
    BackorderPolicy,
    BackorderStatus,
    Channel,
    SkuInventory,
    StockLevel,
)
from domain.services import CustomerDetails, LineRequest, ProductInput
from tests.unit.support import (
    NOW,
    SKU,
    events_of,
    inventory,
    note,
    place,
    product,
    received,
)

# -- ship complete ----------------------------------------------------------------------------------


def test_held_units_stay_reserved_for_their_backorder_while_others_wait_and_stock_arrives():
    inv = inventory(0)
    _, _, first = place(inv, 3)
    _, _, second = place(inv, 3, minutes=1)
    inv.receive("MAIN", 4, NOW, received(4))
    inv.settle(NOW, received(4))
    assert (first.held_quantity, second.held_quantity) == (3, 1)

    inv.cancel(second, 1, NOW, by="customer", reason="")  # a waiting unit, not the held one
    inv.receive("STORE", 5, NOW, "delivery")
    inv.settle(NOW, received(5))

    assert first.reserved == {"MAIN": 3}
    assert second.held_quantity == 2
    assert inv.allocated == 5



async def test_a_ship_complete_order_does_not_ship_while_units_wait_and_keeps_what_is_set_aside(desk, store):
    await desk.upsert_product(ProductInput(sku=SKU, name="Mug", price=Decimal("10.00")))
    await desk.receive_stock(SKU, 2)
    placed = await desk.place_order(CustomerDetails("ann@example.com"), Channel.ONLINE, [LineRequest(SKU, 5)],
                                    ship_complete=True)
    await desk.receive_stock(SKU, 1)
    [line] = store.state.orders[placed.id].lines
    before = copy.deepcopy(store.state)
    assert before.backorders[line.backorder_id].status is BackorderStatus.PARTIALLY_ALLOCATED

    with pytest.raises(DomainError) as raised:
        await desk.ship_allocated(placed.id)

    assert raised.value.code is ErrorCode.SHIP_COMPLETE_PENDING
    assert store.state == before
    line = store.state.orders[placed.id].lines[0]
    backorder = store.state.backorders[line.backorder_id]
    assert (line.allocated_quantity, line.shipped_quantity, line.reserved) == (2, 0, {"MAIN": 2})
    assert (backorder.held_quantity, backorder.waiting_quantity, backorder.reserved) == (1, 2, {"MAIN": 1})
    level = store.state.stock[(SKU, "MAIN")]
    assert (level.on_hand, level.allocated) == (3, 3)

    await desk.receive_stock(SKU, 2)
    shipment = await desk.ship_allocated(placed.id)

    assert shipment.units == 5
    level = store.state.stock[(SKU, "MAIN")]
    assert (level.on_hand, level.allocated) == (0, 0)
    assert store.state.backorders[line.backorder_id].status is BackorderStatus.SHIPPED


async def test_an_order_that_may_ship_in_parts_ships_what_is_set_aside_now(desk, store):
    await desk.upsert_product(ProductInput(sku=SKU, name="Mug", price=Decimal("10.00")))
    await desk.receive_stock(SKU, 2)
    placed = await desk.place_order(CustomerDetails("ann@example.com"), Channel.ONLINE, [LineRequest(SKU, 5)])
    await desk.receive_stock(SKU, 1)

    shipment = await desk.ship_allocated(placed.id)

    assert shipment.units == 3
    [line] = store.state.orders[placed.id].lines
    backorder = store.state.backorders[line.backorder_id]
    assert (line.shipped_quantity, backorder.shipped_quantity, backorder.waiting_quantity) == (2, 1, 2)
    assert (store.state.stock[(SKU, "MAIN")].on_hand, store.state.stock[(SKU, "MAIN")].allocated) == (0, 0)


async def test_a_preorder_is_not_shipped_before_its_release_date(desk, store):
    await desk.upsert_product(ProductInput(sku=SKU, name="Mug", price=Decimal("10.00"),
                                           backorder_policy=BackorderPolicy.PREORDER, release_date=date(2026, 5, 1)))
    await desk.receive_stock(SKU, 5)
    placed = await desk.place_order(CustomerDetails("ann@example.com"), Channel.ONLINE, [LineRequest(SKU, 2)])
    before = copy.deepcopy(store.state)

    with pytest.raises(DomainError) as raised:
        await desk.ship_allocated(placed.id)

    assert raised.value.code is ErrorCode.NOT_RELEASED
    assert store.state == before


# -- partial cancellation ---------------------------------------------------------------------------


def test_cancelling_waiting_units_releases_nothing():
    inv = inventory(0)
    _, _, backorder = place(inv, 5)
    inv.receive("MAIN", 3, NOW, received(3))
    inv.settle(NOW, received(3))

    released = inv.cancel(backorder, 2, NOW, by="customer", reason="")

    assert released == 0
    assert (backorder.quantity, backorder.allocated_quantity, backorder.cancelled_quantity) == (3, 3, 2)
    assert backorder.status is BackorderStatus.ALLOCATED
    assert inv.stock["MAIN"].allocated == 3


def test_cancelling_past_the_waiting_units_releases_exactly_the_held_units_taken():
    inv = inventory(0)
    _, _, backorder = place(inv, 5)
    inv.receive("MAIN", 3, NOW, received(3))
    inv.settle(NOW, received(3))
    inv.events.clear()

    released = inv.cancel(backorder, 4, NOW, by="customer", reason="")  # 2 waiting + 2 held

    assert released == 2
    assert (backorder.quantity, backorder.allocated_quantity, backorder.reserved) == (1, 1, {"MAIN": 1})
    assert backorder.status is BackorderStatus.ALLOCATED
    assert inv.stock["MAIN"].allocated == 1
    assert inv.available_to_promise == 2
    [cancelled] = events_of(inv, ev.BackorderCancelled)
    assert (cancelled.quantity, cancelled.released_quantity, cancelled.remaining_quantity) == (4, 2, 1)


def test_released_units_go_to_the_next_in_the_queue():
    inv = inventory(0)
    _, _, first = place(inv, 3)
    _, _, second = place(inv, 2, minutes=1)
    inv.receive("MAIN", 3, NOW, received(3))
    inv.settle(NOW, received(3))
    assert (first.allocated_quantity, second.allocated_quantity) == (3, 0)

    inv.cancel(first, None, NOW, by="customer", reason="")
    inv.settle(NOW, note("a backorder ahead was cancelled"))

    assert first.status is BackorderStatus.CANCELLED
    assert (second.allocated_quantity, second.status) == (2, BackorderStatus.ALLOCATED)
    assert inv.available_to_promise == 1
    assert second.queue_position is None and first.queue_position is None


def test_cancelling_held_units_spread_over_locations_releases_them_where_they_were_held():
    inv = SkuInventory(product(), [StockLevel(SKU, "MAIN", 0), StockLevel(SKU, "STORE", 0)], [])
    _, _, backorder = place(inv, 5)
    inv.receive("MAIN", 3, NOW, received(3))
    inv.settle(NOW, received(3))
    inv.receive("STORE", 1, NOW, "delivery")
    inv.settle(NOW, received(1))
    assert backorder.reserved == {"MAIN": 3, "STORE": 1}

    released = inv.cancel(backorder, 3, NOW, by="customer", reason="")  # 1 waiting + 2 held

    assert released == 2
    assert backorder.reserved == {"MAIN": 1, "STORE": 1}  # largest holding first
    assert (inv.stock["MAIN"].allocated, inv.stock["STORE"].allocated) == (1, 1)


def test_cancelling_all_of_a_partly_shipped_backorder_leaves_it_shipped():
    inv = inventory(0)
    _, _, backorder = place(inv, 5)
    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))
    inv.ship_backorder(backorder, NOW, "SHIP-1")

    released = inv.cancel(backorder, None, NOW, by="customer", reason="")

    assert released == 0
    assert (backorder.quantity, backorder.shipped_quantity, backorder.cancelled_quantity) == (2, 2, 3)
    assert backorder.status is BackorderStatus.SHIPPED
