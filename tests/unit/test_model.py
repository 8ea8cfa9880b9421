"""The SKU aggregate and its backorders: what can be promised, who may wait, how a backorder moves through its
states, and that every refusal is a typed error that leaves the aggregate exactly as it was."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain import events as ev
from domain.clock import FixedClock
from domain.errors import (
    BackorderLimitExceeded,
    BackorderNotAllowed,
    DomainError,
    ErrorCode,
    InsufficientStock,
    InvalidInput,
    InvalidQuantity,
    InvalidState,
    OverReceipt,
)
from domain.eta import EtaSource
from domain.model import (
    MAX_QUANTITY,
    BackorderPolicy,
    BackorderStatus,
    Channel,
    Money,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    SkuInventory,
    StockLevel,
    check_email,
    check_quantity,
    check_sku,
)
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from notifications.wording import staff_cause
from tests.unit.fakes import InMemoryStore
from tests.unit.support import NOW, SKU, TODAY, events_of, inventory, note, order, place, product, received


def snapshot(inv: SkuInventory) -> object:
    return copy.deepcopy((inv.stock, inv.queue, inv.events, inv.touched, inv.created, inv.product))


def refused(inv: SkuInventory, action: Callable[[], object], error: type[DomainError], code: ErrorCode) -> DomainError:
    """`action` raises `error` with `code` and the aggregate is left exactly as it was."""
    before = snapshot(inv)
    with pytest.raises(error) as raised:
        action()
    assert raised.value.code is code
    assert snapshot(inv) == before
    return raised.value


def statuses(backorder) -> list[tuple[str | None, str | None]]:
    return [(h.old_value, h.new_value) for h in backorder.history if h.kind == "STATUS"]


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


# -- the state machine of a backorder ---------------------------------------------------------------


def test_backorder_moves_waiting_partially_allocated_allocated_shipped_with_a_cause_for_each_step():
    inv = inventory(0)
    placed, _, backorder = place(inv, 5)
    assert backorder is not None
    assert backorder.status is BackorderStatus.WAITING

    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))
    assert backorder.status is BackorderStatus.PARTIALLY_ALLOCATED
    assert (backorder.allocated_quantity, backorder.waiting_quantity, backorder.reserved) == (2, 3, {"MAIN": 2})

    inv.receive("MAIN", 4, NOW, received(4))
    inv.settle(NOW, received(4))
    assert backorder.status is BackorderStatus.ALLOCATED
    assert (backorder.allocated_quantity, backorder.waiting_quantity) == (5, 0)
    assert inv.available_to_promise == 1  # the sixth unit is not taken by a backorder that asked for 5

    shipped = inv.ship_backorder(backorder, NOW, "SHIP-1")
    assert shipped == 5
    assert backorder.status is BackorderStatus.SHIPPED
    assert backorder.id not in inv.queue
    assert (inv.stock["MAIN"].on_hand, inv.stock["MAIN"].allocated) == (1, 0)

    assert statuses(backorder) == [
        (None, "WAITING"),
        ("WAITING", "PARTIALLY_ALLOCATED"),
        ("PARTIALLY_ALLOCATED", "ALLOCATED"),
        ("ALLOCATED", "SHIPPED"),
    ]
    causes = [staff_cause(h.cause) for h in backorder.history if h.kind == "STATUS"]
    assert causes == [
        f"order {placed.number} placed: 5 of 5 backordered",
        "2 received at MAIN",
        "4 received at MAIN",
        "shipment SHIP-1",
    ]
    changes = [(e.old_status, e.new_status, staff_cause(e.cause)) for e in events_of(inv, ev.BackorderStatusChanged)]
    assert changes == [
        ("WAITING", "PARTIALLY_ALLOCATED", "2 received at MAIN"),
        ("PARTIALLY_ALLOCATED", "ALLOCATED", "4 received at MAIN"),
        ("ALLOCATED", "SHIPPED", "shipment SHIP-1"),
    ]


def test_allocation_event_says_how_many_units_and_why():
    inv = inventory(0)
    _, _, backorder = place(inv, 5)
    inv.events.clear()

    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))

    [allocated] = events_of(inv, ev.BackorderAllocated)
    assert (allocated.backorder_id, allocated.quantity, allocated.allocated_quantity,
            allocated.backordered_quantity) == (backorder.id, 2, 2, 5)
    assert allocated.reason == "queue position 1 of 1; first come, first served; ordered 2026-03-02 09:00:00 UTC"
    assert allocated.cause == received(2)
    assert backorder.allocation_reason == allocated.reason


def test_cancelling_a_waiting_backorder_makes_it_cancelled_and_leaves_the_queue():
    inv = inventory(0)
    _, _, backorder = place(inv, 4)
    inv.events.clear()

    released = inv.cancel(backorder, None, NOW, by="customer", reason="found it elsewhere")

    assert released == 0
    assert backorder.status is BackorderStatus.CANCELLED
    assert (backorder.quantity, backorder.cancelled_quantity, backorder.original_quantity) == (0, 4, 4)
    assert not backorder.is_active
    assert inv.queue == {}
    [cancelled] = events_of(inv, ev.BackorderCancelled)
    assert (cancelled.quantity, cancelled.released_quantity, cancelled.remaining_quantity) == (4, 0, 0)
    assert (cancelled.cancelled_by, cancelled.reason) == ("customer", "found it elsewhere")
    assert statuses(backorder)[-1] == ("WAITING", "CANCELLED")
    assert staff_cause(backorder.history[-1].cause) == "4 cancelled by customer: found it elsewhere"


def test_taking_a_substitute_for_every_waiting_unit_makes_the_backorder_substituted():
    inv = inventory(0)
    _, _, backorder = place(inv, 3)
    inv.events.clear()

    moved = inv.substitute_out(backorder, NOW, "CUP-01", "line-cup")

    assert moved == 3
    assert backorder.status is BackorderStatus.SUBSTITUTED
    assert (backorder.quantity, backorder.substituted_quantity) == (0, 3)
    assert inv.queue == {}
    [substituted] = events_of(inv, ev.BackorderSubstituted)
    assert (substituted.substitute_sku, substituted.quantity, substituted.new_order_line_id) == ("CUP-01", 3,
                                                                                                 "line-cup")
    assert staff_cause(backorder.history[-1].cause) == "3 replaced by substitute CUP-01"
    assert statuses(backorder)[-1] == ("WAITING", "SUBSTITUTED")


def test_a_substitute_for_the_waiting_part_keeps_the_allocated_part_of_the_backorder():
    inv = inventory(0)
    _, _, backorder = place(inv, 5)
    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))

    moved = inv.substitute_out(backorder, NOW, "CUP-01", "line-cup")

    assert moved == 3
    assert backorder.status is BackorderStatus.ALLOCATED
    assert (backorder.quantity, backorder.allocated_quantity, backorder.substituted_quantity) == (2, 2, 3)
    assert backorder.reserved == {"MAIN": 2}
    assert inv.stock["MAIN"].allocated == 2


def test_a_fully_allocated_backorder_cannot_take_a_substitute():
    inv = inventory(0)
    _, _, backorder = place(inv, 2)
    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))

    refused(inv, lambda: inv.substitute_out(backorder, NOW, "CUP-01", "line-cup"), InvalidState,
            ErrorCode.INVALID_STATE)


@pytest.mark.parametrize("ending", ["cancelled", "shipped", "substituted"])
def test_a_finished_backorder_refuses_further_changes(ending):
    inv = inventory(0)
    _, _, backorder = place(inv, 2)
    if ending == "cancelled":
        inv.cancel(backorder, None, NOW, by="customer", reason="")
    elif ending == "substituted":
        inv.substitute_out(backorder, NOW, "CUP-01", "line-cup")
    else:
        inv.receive("MAIN", 2, NOW, received(2))
        inv.settle(NOW, received(2))
        inv.ship_backorder(backorder, NOW, "SHIP-1")
    assert backorder.status.value == ending.upper()

    for change in (
        lambda: inv.cancel(backorder, None, NOW, by="customer", reason=""),
        lambda: inv.cancel(backorder, 1, NOW, by="customer", reason=""),
        lambda: inv.substitute_out(backorder, NOW, "CUP-01", "line-cup-2"),
        lambda: inv.reprioritize(backorder, 5, "VIP", "agent@desk", NOW),
    ):
        refused(inv, change, InvalidState, ErrorCode.INVALID_STATE)


def test_shipping_a_backorder_with_nothing_held_ships_nothing_and_records_nothing():
    inv = inventory(0)
    _, _, backorder = place(inv, 2)
    before = snapshot(inv)

    assert inv.ship_backorder(backorder, NOW, "SHIP-1") == 0
    assert snapshot(inv) == before


def test_shipping_a_partly_allocated_backorder_ships_the_held_units_and_keeps_waiting_for_the_rest():
    inv = inventory(0)
    _, _, backorder = place(inv, 5)
    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))

    assert inv.ship_backorder(backorder, NOW, "SHIP-1") == 2

    assert (backorder.shipped_quantity, backorder.allocated_quantity, backorder.waiting_quantity) == (2, 2, 3)
    assert backorder.reserved == {}
    assert backorder.is_active and backorder.id in inv.queue
    inv.receive("MAIN", 3, NOW, received(3))
    inv.settle(NOW, received(3))
    assert backorder.status is BackorderStatus.ALLOCATED
    assert inv.ship_backorder(backorder, NOW, "SHIP-2") == 3
    assert backorder.status is BackorderStatus.SHIPPED


# -- history ----------------------------------------------------------------------------------------


def test_history_records_creation_quantity_priority_and_eta_changes_with_their_causes():
    inv = inventory(0)
    placed, _, backorder = place(inv, 5)
    assert backorder is not None and backorder.eta is not None
    first_eta = backorder.eta.date

    inv.cancel(backorder, 1, NOW, by="agent@desk", reason="customer phoned")
    inv.reprioritize(backorder, 10, "  VIP complaint ", "agent@desk", NOW)
    inv.receive("MAIN", 4, NOW, received(4))
    inv.settle(NOW, received(4))

    kinds = [(h.kind, h.old_value, h.new_value, staff_cause(h.cause)) for h in backorder.history]
    assert kinds == [
        ("STATUS", None, "WAITING", f"order {placed.number} placed: 5 of 5 backordered"),
        ("QUANTITY", "5", "4", "1 cancelled by agent@desk: customer phoned"),
        ("PRIORITY", "0", "10", "agent@desk: VIP complaint"),
        ("STATUS", "WAITING", "ALLOCATED", "4 received at MAIN"),
        ("ETA", first_eta.isoformat(), TODAY.isoformat(), "4 received at MAIN"),
    ]
    assert all(h.at == NOW for h in backorder.history)
    assert backorder.new_history == backorder.history


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


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def desk(store: InMemoryStore) -> BackorderDesk:
    return BackorderDesk(store, FixedClock(NOW))


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


# -- invalid input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, -1, True, 1.5, "2", MAX_QUANTITY + 1])
def test_check_quantity_refuses_anything_but_a_whole_positive_number(quantity):
    with pytest.raises(InvalidQuantity) as raised:
        check_quantity(quantity, "lines.quantity")
    assert raised.value.code is ErrorCode.INVALID_QUANTITY
    assert raised.value.field == "lines.quantity"


def test_check_quantity_accepts_zero_only_when_asked_and_the_maximum():
    assert check_quantity(0, allow_zero=True) == 0
    assert check_quantity(MAX_QUANTITY) == MAX_QUANTITY


@pytest.mark.parametrize("quantity", [0, -2, True, 2.0, 6])
def test_cancel_refuses_a_bad_quantity_and_changes_nothing(quantity):
    inv = inventory(0)
    _, _, backorder = place(inv, 5)
    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))

    error = refused(inv, lambda: inv.cancel(backorder, quantity, NOW, by="customer", reason=""), InvalidQuantity,
                    ErrorCode.INVALID_QUANTITY)

    assert error.field == "quantity"


@pytest.mark.parametrize("quantity", [0, -5, True, "3"])
def test_receive_refuses_a_bad_quantity_and_changes_nothing(quantity):
    inv = inventory(4)
    refused(inv, lambda: inv.receive("MAIN", quantity, NOW, "delivery"), InvalidQuantity, ErrorCode.INVALID_QUANTITY)


@pytest.mark.parametrize("location", ["", "  ", "main dock", "-MAIN", "X" * 33])
def test_receive_refuses_a_bad_location_and_changes_nothing(location):
    inv = inventory(4)
    error = refused(inv, lambda: inv.receive(location, 3, NOW, "delivery"), InvalidInput, ErrorCode.INVALID_INPUT)
    assert error.field == "location"


def test_receive_normalises_the_location_code():
    inv = inventory(0)
    inv.receive(" store-2 ", 3, NOW, "delivery")
    assert inv.stock["STORE-2"].on_hand == 3


@pytest.mark.parametrize(
    ("delta", "reason", "error", "code"),
    [
        (0, "count", InvalidQuantity, ErrorCode.INVALID_QUANTITY),
        (True, "count", InvalidQuantity, ErrorCode.INVALID_QUANTITY),
        (MAX_QUANTITY + 1, "count", InvalidQuantity, ErrorCode.INVALID_QUANTITY),
        (2, "   ", InvalidInput, ErrorCode.INVALID_INPUT),
        (-3, "damaged", InsufficientStock, ErrorCode.INSUFFICIENT_STOCK),  # 6 on hand, 4 allocated
    ],
)
def test_adjust_refuses_bad_corrections_and_changes_nothing(delta, reason, error, code):
    inv = inventory(6)
    place(inv, 4)
    refused(inv, lambda: inv.adjust("MAIN", delta, NOW, reason), error, code)


def test_adjust_may_bring_on_hand_down_to_what_is_allocated():
    inv = inventory(6)
    place(inv, 4)
    inv.adjust("MAIN", -2, NOW, "damaged")
    assert (inv.stock["MAIN"].on_hand, inv.stock["MAIN"].allocated, inv.available_to_promise) == (4, 4, 0)
    [adjusted] = events_of(inv, ev.StockAdjusted)
    assert (adjusted.delta, adjusted.on_hand, adjusted.reason) == (-2, 4, "damaged")


@pytest.mark.parametrize("safety_stock", [-1, True, "2"])
def test_safety_stock_refuses_a_bad_value_and_changes_nothing(safety_stock):
    inv = inventory(6)
    refused(inv, lambda: inv.set_safety_stock("MAIN", safety_stock), InvalidQuantity, ErrorCode.INVALID_QUANTITY)


@pytest.mark.parametrize(("priority", "reason"), [(1001, "vip"), (-1001, "vip"), (True, "vip"), ("5", "vip"),
                                                  (5, ""), (5, "   ")])
def test_reprioritize_refuses_bad_input_and_changes_nothing(priority, reason):
    inv = inventory(0)
    _, _, backorder = place(inv, 2)
    error = refused(inv, lambda: inv.reprioritize(backorder, priority, reason, "agent@desk", NOW), InvalidInput,
                    ErrorCode.INVALID_INPUT)
    assert error.field in {"priority", "reason"}


def test_reserving_more_than_is_available_for_a_substitute_is_refused_and_changes_nothing():
    inv = inventory(2)
    line = OrderLine("line-sub", "order-x", SKU, 3, inv.product.price)
    error = refused(inv, lambda: inv.reserve_for_substitute(line, TODAY), DomainError,
                    ErrorCode.SUBSTITUTE_UNAVAILABLE)
    assert "only 2 available, 3 needed" in error.message
    assert line.allocated_quantity == 0


def test_an_unreleased_preorder_is_no_substitute_even_with_stock():
    inv = inventory(10, product_=product(policy=BackorderPolicy.PREORDER, release_date=TODAY + timedelta(days=7)))
    line = OrderLine("line-sub", "order-x", SKU, 3, inv.product.price)
    error = refused(inv, lambda: inv.reserve_for_substitute(line, TODAY), DomainError,
                    ErrorCode.SUBSTITUTE_UNAVAILABLE)
    assert "not released until" in error.message and line.allocated_quantity == 0
    inv.reserve_for_substitute(line, TODAY + timedelta(days=7))  # from release day it may stand in
    assert line.allocated_quantity == 3


@pytest.mark.parametrize("quantity", [0, -3])
def test_placing_a_line_for_zero_or_fewer_units_is_refused_and_changes_nothing(quantity):
    inv = inventory(10)
    placed = order()
    line = OrderLine("line-bad", placed.id, SKU, quantity, inv.product.price)

    refused(inv, lambda: inv.place_line(placed, line, NOW), InvalidQuantity, ErrorCode.INVALID_QUANTITY)


def test_a_purchase_order_refuses_receiving_more_than_is_outstanding():
    po = PurchaseOrder("po-1", "PO-1", "acme", TODAY, [PurchaseOrderLine(SKU, 5, received_quantity=3)])
    with pytest.raises(OverReceipt) as raised:
        po.receive({SKU: 3})
    assert raised.value.code is ErrorCode.OVER_RECEIPT
    assert (po.lines[0].received_quantity, po.status) == (3, PurchaseOrderStatus.OPEN)


def test_a_purchase_order_receives_in_parts_and_then_is_received():
    po = PurchaseOrder("po-1", "PO-1", "acme", TODAY, [PurchaseOrderLine(SKU, 5), PurchaseOrderLine("CUP-01", 2)])

    assert po.receive({SKU: 2, "CUP-01": 0}) == {SKU: 2}
    assert po.status is PurchaseOrderStatus.PARTIALLY_RECEIVED
    assert po.receive_all() == {SKU: 3, "CUP-01": 2}
    assert po.status is PurchaseOrderStatus.RECEIVED
    with pytest.raises(InvalidState):
        po.receive({SKU: 1})


@pytest.mark.parametrize("quantities", [{SKU: 0}, {}])
def test_a_purchase_order_receipt_of_nothing_is_refused(quantities):
    po = PurchaseOrder("po-1", "PO-1", "acme", TODAY, [PurchaseOrderLine(SKU, 5)])
    with pytest.raises(InvalidQuantity):
        po.receive(quantities)
    assert (po.lines[0].received_quantity, po.status) == (0, PurchaseOrderStatus.OPEN)


@pytest.mark.parametrize("second", [("CUP-01", 99), ("NOT-ON-PO", 1), ("CUP-01", -1)])
def test_a_refused_purchase_order_receipt_changes_no_line(second):
    po = PurchaseOrder("po-1", "PO-1", "acme", TODAY, [PurchaseOrderLine(SKU, 5), PurchaseOrderLine("CUP-01", 2)])
    before = copy.deepcopy(po)

    with pytest.raises(DomainError):
        po.receive({SKU: 2, second[0]: second[1]})

    assert po == before


@pytest.mark.parametrize("sku", ["", "  ", "-MUG", "MUG 01", "M" * 65, "MUG#1"])
def test_check_sku_refuses_malformed_skus(sku):
    with pytest.raises(InvalidInput) as raised:
        check_sku(sku)
    assert raised.value.code is ErrorCode.INVALID_INPUT


def test_check_sku_and_email_normalise_what_they_accept():
    assert check_sku("  MUG-01/blue ") == "MUG-01/blue"
    assert check_email(" Ann@Example.COM ") == "ann@example.com"


@pytest.mark.parametrize("email", ["", "ann", "ann@example", "ann @example.com", "a@b.c" + "c" * 250])
def test_check_email_refuses_malformed_addresses(email):
    with pytest.raises(InvalidInput):
        check_email(email)


@pytest.mark.parametrize(("amount", "currency"), [("-1", "EUR"), ("abc", "EUR"), ("NaN", "EUR"), ("1", "EURO"),
                                                  ("1", "")])
def test_money_refuses_negative_amounts_and_bad_currencies(amount, currency):
    with pytest.raises(InvalidInput):
        Money.of(amount, currency)


def test_money_is_rounded_to_cents_with_an_upper_case_currency():
    assert Money.of("10.004", "eur") == Money(Decimal("10.00"), "EUR")
    assert Money.of("10.006", "eur") == Money(Decimal("10.01"), "EUR")
    assert Money.of(3, "usd") == Money(Decimal("3.00"), "USD")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"backorder_limit": -1}, "backorder_limit"),
        ({"lead_time_days": 3651}, "lead_time_days"),
        ({"backorder_policy": BackorderPolicy.PREORDER}, "release_date"),
        ({"substitutes": [SKU]}, "substitutes"),
        ({"substitutes": ["CUP-01", "CUP-01"]}, "substitutes"),
    ],
)
def test_product_validation_names_the_field_at_fault(changes, field):
    made = product()
    for name, value in changes.items():
        setattr(made, name, value)
    with pytest.raises(DomainError) as raised:
        made.validate()
    assert raised.value.field == field


def test_a_valid_preorder_product_passes_validation():
    Product(SKU, "Mug", Money.of("1", "EUR"), BackorderPolicy.PREORDER, release_date=date(2026, 5, 1)).validate()
