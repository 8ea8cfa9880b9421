"""The backorder queue over the real store (TortoiseUnitOfWork), on SQLite and on PostgreSQL: receiving a
purchase order allocates in queue order, cancelling hands units on to the next in line and brings ETAs
forward, reprioritising moves a backorder ahead, and a PO's date or quantity change announces only the ETAs
that moved; with what is committed, written to history and announced on the bus once the transaction is done.

The shop (tests/integration/support.py): a lamp with 3 on hand and a purchase order of 4 due 11 March; the
clock says 2 March, 09:00, and moves a minute between orders so the queue is first come, first served.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.bus import InProcessBus
from domain.errors import DomainError, ErrorCode
from domain.model import Order
from domain.services import BackorderDesk, LineRequest
from domain.store import models as t
from domain.store.mapping import history_cause
from domain.use_cases import shared
from notifications.wording import staff_cause
from tests import shown_places
from tests.integration.support import (
    LAMP,
    LEAD_TIME_DATE,
    PO_DATE,
    about_events,
    backorder_of,
    backorders_of,
    clock_of,
    heard,
    lamp_shop,
    order,
    stock,
)

TODAY = date(2026, 3, 2)


async def _queue_of_three(desk: BackorderDesk) -> tuple[Order, Order, Order]:
    """Ann orders 5 (3 from stock, 2 wait), then Bob 3 and Cat 1, a minute apart."""
    ann = await order(desk, "ann@example.com", 5)
    clock_of(desk).advance(timedelta(minutes=1))
    bob = await order(desk, "bob@example.com", 3)
    clock_of(desk).advance(timedelta(minutes=1))
    cat = await order(desk, "cat@example.com", 1)
    return ann, bob, cat


async def test_receiving_the_po_allocates_in_queue_order_and_updates_etas_and_history(
        desk: BackorderDesk, bus: InProcessBus, monkeypatch: pytest.MonkeyPatch):
    # the per-backorder events heard are those of a receipt that writes its rows: pinned to that path, so that with the
    # ledger forced on (BACKORDER_TEST_LEDGER=forced) the receipt does not record its range instead (one QueueServed,
    # told to each customer afterwards: tests/integration/test_queue_served_consumers.py)
    monkeypatch.setattr(shared, "LEDGER_FROM", 10**9)
    shop = await lamp_shop(desk)
    ann, bob, cat = await _queue_of_three(desk)
    a, b, c = await backorders_of(ann, bob, cat)
    assert [x.queue_position for x in (a, b, c)] == [1, 2, 3]
    assert [x.eta_date for x in (a, b, c)] == [PO_DATE, LEAD_TIME_DATE, LEAD_TIME_DATE]

    with bus.subscribe() as stream:
        po = await desk.receive_purchase_order(shop.po_id)
        events = heard(stream)

    assert po.status.value == "RECEIVED"
    a, b, c = await backorders_of(ann, bob, cat)
    assert (a.allocated_quantity, a.status, a.queue_position, a.reserved) == (2, "ALLOCATED", None, {"MAIN": 2})
    assert (b.allocated_quantity, b.status, b.queue_position, b.reserved) == (
        2, "PARTIALLY_ALLOCATED", 1, {"MAIN": 2})
    assert (c.allocated_quantity, c.status, c.queue_position) == (0, "WAITING", 2)
    assert (a.eta_date, a.eta_source) == (TODAY, "ALLOCATED")
    assert (b.eta_date, c.eta_date) == (LEAD_TIME_DATE, LEAD_TIME_DATE)  # still short: lead time, as before
    assert await stock() == (7, 7)  # 3 on ann's line, 2 for her backorder, 2 for bob's

    assert about_events(events) == [
        ("BackorderAllocated", a.id), ("BackorderStatusChanged", a.id),
        ("BackorderAllocated", b.id), ("BackorderStatusChanged", b.id),
        ("EtaChanged", a.id),  # only the ETA that moved is announced
    ]
    assert [e.kind for e in events if not hasattr(e, "backorder_id")] == ["PurchaseOrderChanged", "StockReceived"]
    moved = next(e for e in events if e.kind == "EtaChanged")
    assert (moved.old_date, moved.new_date, moved.source) == (PO_DATE, TODAY, "ALLOCATED")

    history = await t.BackorderHistory.filter(backorder_id=a.id).order_by("id")
    assert [(h.kind, h.old_value, h.new_value) for h in history] == [
        ("STATUS", None, "WAITING"), ("STATUS", "WAITING", "ALLOCATED"), ("ETA", "2026-03-11", "2026-03-02")]
    history = await t.BackorderHistory.filter(backorder_id=b.id).order_by("id")
    assert [h.new_value for h in history] == ["WAITING", "PARTIALLY_ALLOCATED"]
    assert await t.BackorderHistory.filter(backorder_id=c.id).count() == 1
    supplier = await t.Supplier.get(id=shop.supplier_id)
    assert (supplier.deliveries_on_time, supplier.deliveries_late) == (1, 0)
    assert (await t.PurchaseOrderLine.get(purchase_order_id=shop.po_id)).received_quantity == 4


async def test_cancelling_part_then_all_of_a_backorder_hands_the_units_on_at_once(desk: BackorderDesk,
                                                                                  bus: InProcessBus):
    shop = await lamp_shop(desk)
    ann, bob, cat = await _queue_of_three(desk)
    await desk.receive_purchase_order(shop.po_id)  # ann 2/2, bob 2/3, cat 0/1

    with bus.subscribe() as stream:
        cancelled = await desk.cancel_backorder(ann.lines[0].backorder_id, 1, reason="one is enough")
        events = heard(stream)
    a, b, c = await backorders_of(ann, bob, cat)
    assert cancelled.quantity == 1 and cancelled.cancelled_quantity == 1
    assert (a.quantity, a.allocated_quantity, a.cancelled_quantity, a.status, a.reserved) == (
        1, 1, 1, "ALLOCATED", {"MAIN": 1})
    assert (b.allocated_quantity, b.status, b.queue_position) == (3, "ALLOCATED", None)  # the freed unit, at once
    assert (c.allocated_quantity, c.queue_position) == (0, 1)
    assert await stock() == (7, 7)
    cancel_event = next(e for e in events if e.kind == "BackorderCancelled")
    assert (cancel_event.quantity, cancel_event.released_quantity, cancel_event.remaining_quantity) == (1, 1, 1)
    assert ("BackorderAllocated", b.id) in about_events(events)

    await desk.cancel_backorder(bob.lines[0].backorder_id, by="agent-kim", reason="customer called")
    a, b, c = await backorders_of(ann, bob, cat)
    assert (b.quantity, b.allocated_quantity, b.cancelled_quantity, b.status, b.queue_position, b.reserved) == (
        0, 0, 3, "CANCELLED", None, {})
    assert (c.allocated_quantity, c.status, c.queue_position) == (1, "ALLOCATED", None)
    assert await stock() == (7, 5)  # 3 + 1 for ann, 1 for cat; bob's other 2 are free again
    history = await t.BackorderHistory.filter(backorder_id=b.id, kind="QUANTITY")
    assert [(h.old_value, h.new_value, staff_cause(history_cause(h.cause, h.cause_data))) for h in history] == [
        ("3", "0", "3 cancelled by agent-kim: customer called")]

    with pytest.raises(DomainError) as refused:
        await desk.cancel_backorder(b.id)
    assert refused.value.code is ErrorCode.INVALID_STATE


async def test_cancelling_waiting_units_brings_the_etas_behind_forward(desk: BackorderDesk, bus: InProcessBus):
    await lamp_shop(desk)
    ann, bob, cat = await _queue_of_three(desk)
    with bus.subscribe() as stream:
        await desk.cancel_backorder(ann.lines[0].backorder_id)  # 2 waiting: nothing held, nothing released
        events = heard(stream)
    a, b, c = await backorders_of(ann, bob, cat)
    assert (a.status, a.queue_position, a.cancelled_quantity) == ("CANCELLED", None, 2)
    assert [(x.queue_position, x.eta_date, x.eta_confidence) for x in (b, c)] == [
        (1, PO_DATE, "HIGH"), (2, PO_DATE, "HIGH")]  # the PO's 4 now cover bob's 3 and cat's 1
    assert [(e.backorder_id, e.old_date, e.new_date) for e in events if e.kind == "EtaChanged"] == [
        (b.id, LEAD_TIME_DATE, PO_DATE), (c.id, LEAD_TIME_DATE, PO_DATE)]
    assert next(e for e in events if e.kind == "BackorderCancelled").released_quantity == 0
    assert await stock() == (3, 3)


async def test_reprioritising_a_backorder_moves_it_ahead_for_etas_and_stock(desk: BackorderDesk, bus: InProcessBus):
    shop = await lamp_shop(desk)
    ann, bob, cat = await _queue_of_three(desk)
    cat_id = cat.lines[0].backorder_id
    assert cat_id is not None
    with bus.subscribe() as stream:
        moved = await desk.reprioritize_backorder(cat_id, 10, " broken lamp replacement ", "agent-kim")
        events = heard(stream)
    assert (moved.priority_override, moved.priority_reason) == (10, "broken lamp replacement")
    a, b, c = await backorders_of(ann, bob, cat)
    assert [x.queue_position for x in (c, a, b)] == [1, 2, 3]
    assert (c.priority_override, c.eta_date, c.eta_confidence) == (10, PO_DATE, "HIGH")
    assert (a.eta_date, b.eta_date) == (PO_DATE, LEAD_TIME_DATE)
    assert about_events(events) == [("BackorderReprioritized", c.id), ("EtaChanged", c.id)]
    history = await t.BackorderHistory.filter(backorder_id=c.id, kind="PRIORITY")
    assert [(h.old_value, h.new_value, staff_cause(history_cause(h.cause, h.cause_data))) for h in history] == [
        ("0", "10", "agent-kim: broken lamp replacement")]

    await desk.receive_purchase_order(shop.po_id)  # 4 units: cat's 1 first, then ann's 2, then 1 of bob's
    await desk.folded()  # a range recorded (the ledger on, BACKORDER_TEST_LEDGER=forced) is in the rows once folded
    a, b, c = await backorders_of(ann, bob, cat)
    assert [(x.allocated_quantity, x.status) for x in (c, a, b)] == [
        (1, "ALLOCATED"), (2, "ALLOCATED"), (1, "PARTIALLY_ALLOCATED")]


async def test_a_po_date_change_announces_only_the_etas_that_moved(desk: BackorderDesk, bus: InProcessBus):
    shop = await lamp_shop(desk, on_hand=0, po_units=2)  # PO-1: 2 due 11 March
    later = await desk.create_purchase_order(shop.supplier_id, date(2026, 3, 20), [LineRequest(LAMP, 2)],
                                             number="PO-2")
    orders = []
    for email in ("ann@example.com", "bob@example.com", "cat@example.com"):
        orders.append(await order(desk, email, 2))
        clock_of(desk).advance(timedelta(minutes=1))
    a, b, c = await backorders_of(*orders)
    # ann on PO-1, bob on PO-2, cat beyond both: lead time, but never before the PO ahead of her
    assert [(x.eta_date, x.eta_reference) for x in (a, b, c)] == [
        (PO_DATE, "PO-1"), (date(2026, 3, 20), "PO-2"), (date(2026, 3, 20), None)]

    async def change(**what) -> list[tuple[str, date | None, date]]:
        with bus.subscribe() as stream:
            await desk.update_purchase_order(**what)
            return [(e.backorder_id, e.old_date, e.new_date) for e in heard(stream) if e.kind == "EtaChanged"]

    assert await change(purchase_order_id=shop.po_id, expected_date=date(2026, 3, 13)) == [
        (a.id, PO_DATE, date(2026, 3, 13))]
    versions = {x.id: x.version for x in (b, c)}
    assert {x.id: x.version for x in await shown_places.backorders(id__in=list(versions))} == versions  # untouched

    # PO-1 now after PO-2: ann is served by PO-2, bob and cat wait for PO-1 — everybody moves
    assert sorted(await change(purchase_order_id=shop.po_id, expected_date=date(2026, 3, 25))) == sorted([
        (a.id, date(2026, 3, 13), date(2026, 3, 20)), (b.id, date(2026, 3, 20), date(2026, 3, 25)),
        (c.id, date(2026, 3, 20), date(2026, 3, 25))])

    # PO-2 grows to 4: bob moves to PO-2; cat is now covered by PO-1 on the same date — firmer, not moved
    assert await change(purchase_order_id=later.id, quantities=[LineRequest(LAMP, 4)]) == [
        (b.id, date(2026, 3, 25), date(2026, 3, 20))]
    c = await backorder_of(orders[2])
    assert (c.eta_date, c.eta_confidence, c.eta_source, c.eta_reference) == (
        date(2026, 3, 25), "HIGH", "PURCHASE_ORDER", "PO-1")
    history = await t.BackorderHistory.filter(backorder_id=c.id, kind="ETA").values_list("new_value", flat=True)
    assert list(history) == ["2026-03-25"]
