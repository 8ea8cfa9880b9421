"""The SKU aggregate's stock and who may wait: what can be promised now, and the product's backorder policy
and caps (allow, deny, preorder, a limit on units waiting)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import (
    BackorderLimitExceeded,
    BackorderNotAllowed,
    ErrorCode,
)
from domain.eta import EtaSource
from domain.model import (
    BackorderPolicy,
    BackorderStatus,
    OrderLine,
    SkuInventory,
    StockLevel,
)
from tests.unit.support import (
    NOW,
    SKU,
    TODAY,
    inventory,
    order,
    place,
    product,
    received,
    refused,
)

# -- available to promise ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on_hand", "allocated", "safety_stock", "expected"),
    [
        (10, 0, 0, 10),
        (10, 3, 0, 7),
        (10, 3, 2, 5),
        (10, 8, 2, 0),
        (5, 4, 3, 0),  # would be -2: never negative
        (0, 0, 4, 0),
    ],
)
def test_available_to_promise_is_on_hand_less_allocated_less_safety_stock(on_hand, allocated, safety_stock, expected):
    assert StockLevel(SKU, "MAIN", on_hand, allocated, safety_stock).available_to_promise == expected


def test_available_to_promise_of_a_sku_sums_each_location_without_letting_one_go_below_zero():
    inv = SkuInventory(product(), [StockLevel(SKU, "MAIN", 10, 2, 0), StockLevel(SKU, "STORE", 1, 1, 5)], [])

    assert inv.available_to_promise == 8  # not 8 - 5: the store's shortfall of safety stock is not borrowed
    assert inv.on_hand == 11
    assert inv.allocated == 3


def test_an_order_only_takes_stock_above_the_safety_stock_and_backorders_the_rest():
    inv = inventory(10, safety_stock=4)

    _, line, backorder = place(inv, 8)

    assert line.allocated_quantity == 6
    assert line.reserved == {"MAIN": 6}
    assert backorder is not None and backorder.quantity == 2
    assert inv.stock["MAIN"].allocated == 6
    assert inv.available_to_promise == 0


def test_an_order_takes_stock_from_its_preferred_location_first():
    inv = SkuInventory(product(), [StockLevel(SKU, "MAIN", 5), StockLevel(SKU, "STORE", 3)], [])
    placed = order()
    line = OrderLine("line-store", placed.id, SKU, 4, inv.product.price)

    inv.place_line(placed, line, NOW, "STORE")

    assert line.reserved == {"STORE": 3, "MAIN": 1}


def test_without_a_preferred_location_an_order_takes_stock_where_most_is_available():
    inv = SkuInventory(product(), [StockLevel(SKU, "MAIN", 2), StockLevel(SKU, "STORE", 3)], [])
    _, line, _ = place(inv, 2)

    assert line.reserved == {"STORE": 2}


@pytest.mark.parametrize("location", ["store", " STORE "])
def test_the_preferred_location_is_read_like_every_other_location_code(location):
    inv = SkuInventory(product(), [StockLevel(SKU, "MAIN", 5), StockLevel(SKU, "STORE", 3)], [])
    placed = order()
    line = OrderLine("line-store", placed.id, SKU, 2, inv.product.price)

    inv.place_line(placed, line, NOW, location)

    assert line.reserved == {"STORE": 2}


# -- backorder policy and caps ----------------------------------------------------------------------


def test_allow_policy_allocates_what_is_on_hand_and_backorders_the_shortfall():
    inv = inventory(2)

    _, line, backorder = place(inv, 5)

    assert line.allocated_quantity == 2
    assert backorder is not None
    assert (backorder.quantity, backorder.original_quantity, backorder.order_quantity) == (3, 3, 5)
    assert backorder.status is BackorderStatus.WAITING
    assert line.backorder_id == backorder.id
    assert list(inv.queue) == [backorder.id]
    assert backorder.queue_position == 1


def test_an_order_fully_in_stock_creates_no_backorder():
    inv = inventory(5)

    _, line, backorder = place(inv, 5)

    assert backorder is None
    assert line.allocated_quantity == 5
    assert line.backorder_id is None
    assert inv.queue == {}
    assert inv.available_to_promise == 0


def test_deny_policy_refuses_a_shortfall_and_changes_nothing():
    inv = inventory(2, product_=product(policy=BackorderPolicy.DENY))
    placed = order()
    line = OrderLine("line-deny", placed.id, SKU, 3, inv.product.price)

    error = refused(inv, lambda: inv.place_line(placed, line, NOW), BackorderNotAllowed,
                    ErrorCode.BACKORDER_NOT_ALLOWED)

    assert error.field == "lines.quantity"
    assert "3 ordered, 2 available" in error.message
    assert (line.allocated_quantity, line.reserved, line.backorder_id) == (0, {}, None)


def test_deny_policy_still_sells_what_is_in_stock():
    inv = inventory(3, product_=product(policy=BackorderPolicy.DENY))

    _, line, backorder = place(inv, 3)

    assert backorder is None
    assert line.allocated_quantity == 3


def test_preorder_before_release_backorders_every_unit_and_promises_the_release_date():
    release = TODAY + timedelta(days=30)
    inv = inventory(0, product_=product(policy=BackorderPolicy.PREORDER, release_date=release))

    _, line, backorder = place(inv, 2)

    assert line.allocated_quantity == 0
    assert backorder is not None and backorder.quantity == 2
    assert backorder.eta is not None
    assert (backorder.eta.date, backorder.eta.source) == (release, EtaSource.RELEASE_DATE)
    assert backorder.promised_date == release


def test_preorder_placement_does_not_take_stock_on_hand_for_the_order_line():
    inv = inventory(10, product_=product(policy=BackorderPolicy.PREORDER, release_date=TODAY + timedelta(days=30)))

    _, line, backorder = place(inv, 2, settle=False)

    assert (line.allocated_quantity, line.reserved) == (0, {})
    assert backorder is not None and backorder.quantity == 2
    assert inv.stock["MAIN"].allocated == 0


def test_preorder_after_its_release_date_sells_from_stock_like_allow():
    inv = inventory(10, product_=product(policy=BackorderPolicy.PREORDER, release_date=TODAY - timedelta(days=1)))

    _, line, backorder = place(inv, 4)

    assert backorder is None
    assert line.allocated_quantity == 4


def test_backorder_limit_admits_waiting_units_up_to_the_cap():
    inv = inventory(0, product_=product(limit=5))
    place(inv, 3)

    _, _, backorder = place(inv, 2, minutes=1)

    assert backorder is not None and backorder.quantity == 2
    assert inv.waiting_units() == 5


def test_backorder_limit_refuses_a_shortfall_beyond_the_cap_and_changes_nothing():
    inv = inventory(0, product_=product(limit=5))
    place(inv, 3)
    placed = order()
    line = OrderLine("line-cap", placed.id, SKU, 3, inv.product.price)

    error = refused(inv, lambda: inv.place_line(placed, line, NOW), BackorderLimitExceeded,
                    ErrorCode.BACKORDER_LIMIT_EXCEEDED)

    assert "at most 5 units" in error.message and "3 already do" in error.message
    assert inv.waiting_units() == 3


def test_backorder_limit_counts_only_the_shortfall_not_what_stock_covers():
    inv = inventory(4, product_=product(limit=1))

    _, line, backorder = place(inv, 5)  # 4 from stock, 1 waits: exactly the cap

    assert line.allocated_quantity == 4
    assert backorder is not None and backorder.quantity == 1


def test_backorder_limit_of_zero_refuses_any_backorder_but_sells_stock():
    inv = inventory(1, product_=product(limit=0))
    placed = order()
    line = OrderLine("line-zero", placed.id, SKU, 2, inv.product.price)

    refused(inv, lambda: inv.place_line(placed, line, NOW), BackorderLimitExceeded,
            ErrorCode.BACKORDER_LIMIT_EXCEEDED)
    _, ok_line, backorder = place(inv, 1)
    assert (ok_line.allocated_quantity, backorder) == (1, None)


def test_units_already_allocated_from_the_queue_no_longer_count_against_the_cap():
    inv = inventory(0, product_=product(limit=3))
    place(inv, 3)
    inv.receive("MAIN", 3, NOW, received(3))
    inv.settle(NOW, received(3))
    assert inv.waiting_units() == 0

    _, _, backorder = place(inv, 3, minutes=1)

    assert backorder is not None and backorder.quantity == 3
