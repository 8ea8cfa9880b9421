"""The use cases over the real store (TortoiseUnitOfWork), on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on
PostgreSQL: what is committed, what is published, and that a refused use case writes nothing."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.bus import InProcessBus
from domain.errors import DomainError, ErrorCode
from domain.model import BackorderPolicy, BackorderStatus, Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.use_cases import shared
from tests.conftest import POSTGRES_URL
from tests.integration.support import backorder_of
from tests.shown_places import backorders as shown_backorders

SKU = "85123A"


async def _shop(desk: BackorderDesk, on_hand: int = 3, po_units: int = 4) -> str:
    supplier = await desk.upsert_supplier(None, "Acme", 14)
    await desk.upsert_product(ProductInput(sku="SUB-1", name="Star holder", price=Decimal("3.25")))
    await desk.upsert_product(ProductInput(sku=SKU, name="Heart holder", price=Decimal("2.95"),
                                           supplier_id=supplier.id, substitutes=("SUB-1",)))
    await desk.receive_stock("SUB-1", 10)
    if on_hand:
        await desk.receive_stock(SKU, on_hand)
    if not po_units:
        return ""
    po = await desk.create_purchase_order(supplier.id, date(2026, 3, 11), [LineRequest(SKU, po_units)])
    return po.id


async def _order(desk: BackorderDesk, email: str, quantity: int, sku: str = SKU) -> Any:
    return await desk.place_order(CustomerDetails(email), Channel.PHONE, [LineRequest(sku, quantity)])


async def _backorder(order: Any) -> t.Backorder:
    return await backorder_of(order)


async def _rows() -> dict[str, int]:
    """How many rows every table that a use case writes holds."""
    return {model.__name__: await model.all().count() for model in (
        t.Order, t.OrderLine, t.Backorder, t.BackorderHistory, t.StockLevel, t.EventLog, t.Customer,
        t.PurchaseOrder, t.PurchaseOrderLine)}


async def test_the_tour_allocates_queues_receives_and_hands_on_cancelled_units(desk: BackorderDesk,
                                                                               bus: InProcessBus, monkeypatch):
    # the per-backorder events heard and logged are those of a receipt that writes its rows: pinned to that path, so
    # that with the ledger forced on (BACKORDER_TEST_LEDGER=forced) the receipt does not record its range instead (one
    # QueueServed, told to each customer afterwards: tests/integration/test_queue_served_consumers.py)
    monkeypatch.setattr(shared, "LEDGER_FROM", 10**9)
    po_id = await _shop(desk)
    with bus.subscribe() as stream:
        first = await _order(desk, "zoe@example.com", 5)
        assert first.lines[0].allocated_quantity == 3
        b1 = await _backorder(first)
        assert (b1.quantity, b1.allocated_quantity, b1.status, b1.queue_position) == (2, 0, "WAITING", 1)
        assert (b1.eta_date, b1.eta_confidence, b1.eta_source) == (date(2026, 3, 11), "HIGH", "PURCHASE_ORDER")

        second = await _order(desk, "yan@example.com", 4)
        b2 = await _backorder(second)
        # the PO's 4 units: 2 to the first backorder, 2 to the second; its other 2 wait for the lead time
        assert (b2.quantity, b2.queue_position, b2.eta_confidence, b2.eta_source) == (4, 2, "MEDIUM", "LEAD_TIME")
        assert b2.eta_date == date(2026, 3, 16)

        await desk.receive_purchase_order(po_id)
        b1, b2 = await _backorder(first), await _backorder(second)
        assert (b1.allocated_quantity, b1.status, b1.queue_position) == (2, "ALLOCATED", None)
        assert (b2.allocated_quantity, b2.status, b2.queue_position) == (2, "PARTIALLY_ALLOCATED", 1)

        await desk.cancel_backorder(first.lines[0].backorder_id, reason="found one locally")
        b2 = await _backorder(second)
        assert (b2.allocated_quantity, b2.status) == (4, "ALLOCATED")  # the released 2, at once
        stock = await t.StockLevel.get(sku=SKU, location="MAIN")
        assert (stock.on_hand, stock.allocated) == (7, 7)  # 3 on the first order's line + 4 for the second

        kinds = []
        while not stream.queue.empty():
            kinds.append(stream.queue.get_nowait().kind)
    assert kinds.count("BackorderCreated") == 2 and "BackorderCancelled" in kinds
    assert kinds.count("BackorderAllocated") == 3  # 2 + 2 on receipt, 2 more on the cancellation
    logged = [row.kind for row in await t.EventLog.all().order_by("id")]
    assert [k for k in logged if k.startswith("Backorder")] == [k for k in kinds if k.startswith("Backorder")]
    history = await t.BackorderHistory.filter(backorder_id=second.lines[0].backorder_id).order_by("id")
    assert [h.new_value for h in history if h.kind == "STATUS"] == ["WAITING", "PARTIALLY_ALLOCATED", "ALLOCATED"]


async def test_a_denied_line_writes_nothing_of_the_order(desk: BackorderDesk):
    await _shop(desk)
    await desk.upsert_product(ProductInput(sku="NO-BO", name="Only from stock", price=Decimal("1.00"),
                                           backorder_policy=BackorderPolicy.DENY))
    await desk.receive_stock("NO-BO", 1)
    before = await _rows()
    with pytest.raises(DomainError) as refused:
        await desk.place_order(CustomerDetails("zoe@example.com"), Channel.ONLINE,
                               [LineRequest(SKU, 1), LineRequest("NO-BO", 2)])
    assert refused.value.code is ErrorCode.BACKORDER_NOT_ALLOWED
    assert await _rows() == before
    assert (await t.StockLevel.get(sku=SKU, location="MAIN")).allocated == 0


@pytest.mark.parametrize("call, code", [
    (lambda d, po: d.receive_stock(SKU, 0), ErrorCode.INVALID_QUANTITY),
    (lambda d, po: d.receive_stock("NOPE", 1), ErrorCode.PRODUCT_NOT_FOUND),
    (lambda d, po: d.receive_purchase_order(po, [LineRequest(SKU, 99)]), ErrorCode.OVER_RECEIPT),
    (lambda d, po: d.update_purchase_order(po, date(2020, 1, 1)), ErrorCode.INVALID_INPUT),
    (lambda d, po: d.cancel_backorder("nope"), ErrorCode.BACKORDER_NOT_FOUND),
    (lambda d, po: d.ship_allocated("nope"), ErrorCode.ORDER_NOT_FOUND),
    (lambda d, po: _order(d, "not-an-email", 1), ErrorCode.INVALID_INPUT),
    (lambda d, po: _order(d, "zoe@example.com", -1), ErrorCode.INVALID_QUANTITY),
])
async def test_bad_input_is_a_typed_error_and_changes_nothing(desk: BackorderDesk, call: Any, code: ErrorCode):
    po_id = await _shop(desk)
    await _order(desk, "ann@example.com", 5)
    before = await _rows()
    with pytest.raises(DomainError) as refused:
        await call(desk, po_id)
    assert refused.value.code is code
    assert await _rows() == before


async def test_a_po_date_change_announces_only_the_etas_that_moved(desk: BackorderDesk, bus: InProcessBus):
    po_id = await _shop(desk, on_hand=0, po_units=2)
    covered = await _order(desk, "ann@example.com", 2)   # covered by the PO
    beyond = await _order(desk, "bob@example.com", 2)    # beyond it: lead time, does not move with the PO
    with bus.subscribe() as stream:
        await desk.update_purchase_order(po_id, date(2026, 3, 13))
        events = [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]
    moved = [e for e in events if e.kind == "EtaChanged"]
    assert [(e.backorder_id, e.old_date, e.new_date) for e in moved] == [
        (covered.lines[0].backorder_id, date(2026, 3, 11), date(2026, 3, 13))]
    assert (await _backorder(beyond)).eta_date == date(2026, 3, 16)


async def test_the_same_idempotency_key_gives_the_first_order_back(desk: BackorderDesk):
    await _shop(desk)
    first = await desk.place_order(CustomerDetails("zoe@example.com"), Channel.ONLINE, [LineRequest(SKU, 2)],
                                   idempotency_key="web-123")
    again = await desk.place_order(CustomerDetails("zoe@example.com"), Channel.ONLINE, [LineRequest(SKU, 2)],
                                   idempotency_key="web-123")
    assert again.id == first.id and await t.Order.all().count() == 1
    assert (await t.StockLevel.get(sku=SKU, location="MAIN")).allocated == 2


async def test_accepting_a_substitute_swaps_the_line_in_one_transaction(desk: BackorderDesk):
    await _shop(desk, on_hand=0)
    order = await _order(desk, "zoe@example.com", 3)
    backorder, line = await desk.accept_substitute(order.lines[0].backorder_id, "SUB-1")
    assert backorder.status is BackorderStatus.SUBSTITUTED and line.sku == "SUB-1" and line.allocated_quantity == 3
    assert (await t.StockLevel.get(sku="SUB-1", location="MAIN")).allocated == 3
    assert await t.OrderLine.filter(order_id=order.id).count() == 2


async def test_ship_complete_holds_allocated_units_until_the_whole_line_can_go(desk: BackorderDesk):
    po_id = await _shop(desk)
    order = await desk.place_order(CustomerDetails("zoe@example.com"), Channel.ONLINE, [LineRequest(SKU, 5)],
                                   ship_complete=True)
    with pytest.raises(DomainError) as refused:
        await desk.ship_allocated(order.id)
    assert refused.value.code is ErrorCode.SHIP_COMPLETE_PENDING
    await desk.receive_purchase_order(po_id)
    shipment = await desk.ship_allocated(order.id)
    assert shipment.units == 5
    stock = await t.StockLevel.get(sku=SKU, location="MAIN")
    assert (stock.on_hand, stock.allocated) == (2, 0)


@pytest.mark.skipif(not POSTGRES_URL, reason="concurrent writers in one process: PostgreSQL's connection pool")
async def test_concurrent_orders_receipts_and_cancellations_never_oversell(desk: BackorderDesk):
    """Many transactions at once on one hot SKU (the pool gives each its own connection); then the books
    must balance to the unit."""
    await _shop(desk, on_hand=5, po_units=0)
    placed: list[Any] = []
    received = 5

    async def buy(n: int) -> None:
        placed.append(await _order(desk, f"c{n}@example.com", 1 + n % 3))

    async def receive(units: int) -> None:
        nonlocal received
        await desk.receive_stock(SKU, units)
        received += units

    await asyncio.gather(*(buy(n) for n in range(30)), *(receive(2) for _ in range(10)))
    waiting = [o.lines[0].backorder_id for o in placed if o.lines[0].backorder_id]

    async def cancel(backorder_id: str) -> None:
        try:
            await desk.cancel_backorder(backorder_id, 1)
        except DomainError as error:  # fully allocated or cancelled meanwhile: a real race, typed
            assert error.code in (ErrorCode.INVALID_STATE, ErrorCode.INVALID_QUANTITY), error

    await asyncio.gather(*(cancel(b) for b in waiting[:8]), *(receive(1) for _ in range(6)))

    stock = await t.StockLevel.get(sku=SKU, location="MAIN")
    lines = await t.OrderLine.filter(sku=SKU)
    backorders = await shown_backorders(sku=SKU)
    assert stock.on_hand == received and 0 <= stock.allocated <= stock.on_hand
    held = sum(sum(x.reserved.values()) for x in lines) + sum(sum(b.reserved.values()) for b in backorders)
    assert stock.allocated == held  # every allocated unit has exactly one holder
    for b in backorders:
        assert 0 <= b.allocated_quantity <= b.quantity
    queue = sorted((b for b in backorders if b.status in ("WAITING", "PARTIALLY_ALLOCATED", "ALLOCATED")),
                   key=lambda b: (b.ordered_at, b.id))
    short = [i for i, b in enumerate(queue) if b.allocated_quantity < b.quantity]
    if short:  # nobody behind the first who waits holds stock, and no stock is idle while someone waits
        assert all(b.allocated_quantity == 0 for b in queue[short[0] + 1:])
        assert stock.on_hand - stock.allocated == 0
    assert await t.Order.all().count() == 30


async def test_an_unknown_sku_on_an_order_points_at_the_line(desk: BackorderDesk):
    await _shop(desk)
    before = await _rows()
    with pytest.raises(DomainError) as refused:
        await desk.place_order(CustomerDetails("zoe@example.com"), Channel.ONLINE,
                               [LineRequest(SKU, 1), LineRequest("NOPE-1", 1)])
    assert (refused.value.code, refused.value.field) == (ErrorCode.PRODUCT_NOT_FOUND, "lines.sku")
    assert await _rows() == before


async def test_a_new_supplier_lead_time_moves_the_etas_that_come_from_it(desk: BackorderDesk, bus: InProcessBus):
    # given a PO covering the first customer and a second one beyond it, dated by the supplier's lead time
    po_id = await _shop(desk, on_hand=0, po_units=2)
    covered = await _order(desk, "ann@example.com", 2)
    beyond = await _order(desk, "bob@example.com", 2)
    supplier_id = (await t.PurchaseOrder.get(id=po_id)).supplier_id
    # when the supplier now quotes 21 days
    with bus.subscribe() as stream:
        await desk.upsert_supplier(supplier_id, "Acme", 21)
        events = [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]
    # then only the lead-time ETA moved, and it was announced
    moved = [(e.backorder_id, e.new_date) for e in events if e.kind == "EtaChanged"]
    assert moved == [(beyond.lines[0].backorder_id, date(2026, 3, 23))]
    assert (await _backorder(covered)).eta_date == date(2026, 3, 11)


async def test_order_numbers_are_readable_and_distinct(desk: BackorderDesk):
    await _shop(desk, on_hand=50, po_units=0)
    numbers = {(await _order(desk, f"c{n}@example.com", 1)).number for n in range(20)}
    assert len(numbers) == 20
    for number in numbers:
        prefix, day, code = number.split("-")
        assert (prefix, day, len(code)) == ("BD", "260302", 8)
        assert not set(code) & set("ILOU")


async def test_a_po_date_that_passes_without_delivery_is_re_projected_by_the_refresh(desk: BackorderDesk,
                                                                                      bus: InProcessBus):
    # given a backorder covered by a PO due 11 March
    from datetime import timedelta

    await _shop(desk, on_hand=0, po_units=2)
    covered = await _order(desk, "ann@example.com", 2)
    assert await desk.refresh_stale_etas() == []  # nothing is stale yet
    # when 13 March comes and the PO has not arrived
    desk.clock.advance(timedelta(days=11))
    with bus.subscribe() as stream:
        refreshed = await desk.refresh_stale_etas()
        events = [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]
    # then its ETA is today at the earliest, with low confidence, and the move is announced once
    assert refreshed == [SKU]
    row = await _backorder(covered)
    assert (row.eta_date, row.eta_confidence) == (date(2026, 3, 13), "LOW")
    assert [(e.kind, e.new_date) for e in events if e.kind == "EtaChanged"] == [("EtaChanged", date(2026, 3, 13))]
    assert await desk.refresh_stale_etas() == []  # and a second run finds nothing to do


async def test_a_shipping_preference_change_is_an_event_and_a_repeat_is_not(desk: BackorderDesk, bus: InProcessBus):
    await _shop(desk)
    placed = await _order(desk, "ann@example.com", 5)
    with bus.subscribe() as stream:
        await desk.set_shipping_preference(placed.id, True)
        await desk.set_shipping_preference(placed.id, True)  # no change, nothing to tell
        events = [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]
    assert [(e.kind, e.order_id, e.ship_complete) for e in events] == [
        ("ShippingPreferenceChanged", placed.id, True)]


async def test_the_refresh_leaves_allocated_backorders_alone(desk: BackorderDesk, bus: InProcessBus):
    # given a backorder whose units arrived (its ETA: the day they were set aside) on a ship-complete order
    from datetime import timedelta

    po_id = await _shop(desk, on_hand=0, po_units=2)
    placed = await _order(desk, "ann@example.com", 2)
    await desk.set_shipping_preference(placed.id, True)
    await desk.receive_purchase_order(po_id)
    await desk.folded()  # a range recorded (the ledger on, BACKORDER_TEST_LEDGER=forced) is in the rows once folded
    assert (await _backorder(placed)).status == "ALLOCATED"
    # when days pass before it ships, the refresh finds nothing to re-project and says nothing
    desk.clock.advance(timedelta(days=3))
    with bus.subscribe() as stream:
        assert await desk.refresh_stale_etas() == []
        assert stream.queue.qsize() == 0


async def test_a_drawn_number_that_meets_another_is_drawn_again(desk: BackorderDesk, monkeypatch):
    # given the random draw returns the same code twice before a new one, for POs and for orders
    import domain.model.order
    import domain.use_cases.purchasing

    def draws(prefix):
        codes = iter(["AAAAAAAA", "AAAAAAAA", "BBBBBBBB"])
        return lambda _prefix, now: f"{prefix}-{now:%y%m%d}-{next(codes)}"

    await _shop(desk, on_hand=10, po_units=0)
    supplier_id = (await t.Supplier.first()).id
    monkeypatch.setattr(domain.use_cases.purchasing, "readable_number", draws("PO"))
    first = await desk.create_purchase_order(supplier_id, date(2026, 3, 11), [LineRequest(SKU, 1)])
    second = await desk.create_purchase_order(supplier_id, date(2026, 3, 12), [LineRequest(SKU, 1)])
    assert (first.number, second.number) == ("PO-260302-AAAAAAAA", "PO-260302-BBBBBBBB")
    monkeypatch.setattr(domain.model.order, "readable_number", draws("BD"))
    orders = [await _order(desk, "ann@example.com", 1), await _order(desk, "bob@example.com", 1)]
    assert [o.number for o in orders] == ["BD-260302-AAAAAAAA", "BD-260302-BBBBBBBB"]
