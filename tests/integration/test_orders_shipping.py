"""Shipping and substitutes over the real store (TortoiseUnitOfWork), on SQLite and on PostgreSQL: a
ship-complete order keeps its allocated units reserved until all can go, ship_allocated sends what is set
aside and the rest when it comes, and accepting a substitute swaps a backorder for a new line in one
transaction (or not at all); with the stock, the rows and the bus events each leaves.

The shop (tests/integration/support.py): a lamp with 3 on hand and a purchase order of 4 due 11 March, and a
substitute lamp with 10 of its own; the clock says 2 March, 09:00, and moves a minute between orders.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.bus import InProcessBus
from domain.errors import DomainError, ErrorCode
from domain.model import BackorderStatus
from domain.services import BackorderDesk
from domain.store import models as t
from tests import shown_places
from tests.integration.support import (
    ALT,
    LAMP,
    PO_DATE,
    about_events,
    backorder_of,
    clock_of,
    heard,
    lamp_shop,
    order,
    snapshot,
    stock,
)


async def test_ship_complete_keeps_the_allocated_units_reserved_until_all_can_go(desk: BackorderDesk,
                                                                                bus: InProcessBus):
    shop = await lamp_shop(desk)
    ann = await order(desk, "ann@example.com", 5, ship_complete=True)
    before = await snapshot()
    with pytest.raises(DomainError) as refused:
        await desk.ship_allocated(ann.id)
    assert refused.value.code is ErrorCode.SHIP_COMPLETE_PENDING
    assert await snapshot() == before

    clock_of(desk).advance(timedelta(minutes=1))
    bob = await order(desk, "bob@example.com", 2)
    assert bob.lines[0].allocated_quantity == 0  # ann's 3 stay hers while she waits for the rest
    assert await stock() == (3, 3)

    await desk.receive_purchase_order(shop.po_id)  # ann's 2, then bob's 2
    with bus.subscribe() as stream:
        shipment = await desk.ship_allocated(ann.id)
        events = heard(stream)
    assert (shipment.units, shipment.lines) == (5, {ann.lines[0].id: 5})
    line = await t.OrderLine.get(id=ann.lines[0].id)
    assert (line.shipped_quantity, line.reserved) == (3, {})
    shipped = await backorder_of(ann)
    assert (shipped.shipped_quantity, shipped.status, shipped.queue_position, shipped.reserved) == (
        2, "SHIPPED", None, {})
    assert await stock() == (2, 2)  # bob's 2 still set aside
    assert [e.kind for e in events if e.kind.endswith("Shipped")] == ["OrderShipped", "BackorderShipped"]


async def test_ship_allocated_sends_what_is_set_aside_and_the_rest_when_it_comes(desk: BackorderDesk):
    shop = await lamp_shop(desk)
    ann = await order(desk, "ann@example.com", 5, ship_complete=True)
    await desk.set_shipping_preference(ann.id, False)  # she would rather have the 3 now
    first = await desk.ship_allocated(ann.id)
    assert first.units == 3
    assert await stock() == (0, 0)
    waiting = await backorder_of(ann)
    assert (waiting.status, waiting.queue_position, waiting.shipped_quantity) == ("WAITING", 1, 0)

    with pytest.raises(DomainError) as refused:
        await desk.ship_allocated(ann.id)
    assert refused.value.code is ErrorCode.NOTHING_TO_SHIP

    await desk.receive_purchase_order(shop.po_id)
    second = await desk.ship_allocated(ann.id)
    assert (second.units, second.lines) == (2, {ann.lines[0].id: 2})
    assert (await backorder_of(ann)).status == "SHIPPED"
    line = await t.OrderLine.get(id=ann.lines[0].id)
    assert (line.allocated_quantity, line.shipped_quantity) == (3, 3)  # the line's own units; the rest on its backorder
    assert await stock() == (2, 0)
    assert await t.EventLog.filter(kind="OrderShipped", order_id=ann.id).count() == 2


async def test_accepting_a_substitute_swaps_the_line_in_one_transaction(desk: BackorderDesk, bus: InProcessBus):
    await lamp_shop(desk)
    ann = await order(desk, "ann@example.com", 5)
    clock_of(desk).advance(timedelta(minutes=1))
    bob = await order(desk, "bob@example.com", 3)
    await order(desk, "dan@example.com", 9, ALT)  # leaves 1 substitute lamp: not enough for ann's 2
    backorder_id = ann.lines[0].backorder_id
    assert backorder_id is not None

    before = await snapshot()
    with pytest.raises(DomainError) as refused:
        await desk.accept_substitute(backorder_id, ALT)
    assert refused.value.code is ErrorCode.SUBSTITUTE_UNAVAILABLE
    assert await snapshot() == before  # no half swap: the backorder still waits, no new line

    await desk.receive_stock(ALT, 1)
    with bus.subscribe() as stream:
        swapped, line = await desk.accept_substitute(backorder_id, ALT)
        events = heard(stream)
    assert (swapped.status, swapped.quantity, swapped.substituted_quantity) == (BackorderStatus.SUBSTITUTED, 0, 2)
    assert (line.sku, line.quantity, line.allocated_quantity, line.substitute_for) == (ALT, 2, 2, backorder_id)
    stored = await t.OrderLine.filter(order_id=ann.id).order_by("position").values_list("sku", "quantity",
                                                                                       "allocated_quantity")
    assert list(stored) == [(LAMP, 5, 3), (ALT, 2, 2)]
    assert (await t.OrderLine.get(id=line.id)).unit_price == Decimal("34.00")
    assert await stock(ALT) == (11, 11)  # dan's 9 and ann's 2
    assert await stock(LAMP) == (3, 3)
    gone = await shown_places.backorder(backorder_id)
    assert gone is not None
    assert (gone.status, gone.queue_position, gone.substituted_quantity) == ("SUBSTITUTED", None, 2)
    b = await backorder_of(bob)  # first in line now, and the PO covers all 3 of his
    assert (b.queue_position, b.eta_date, b.eta_confidence) == (1, PO_DATE, "HIGH")
    assert about_events(events) == [("BackorderSubstituted", backorder_id), ("BackorderStatusChanged", backorder_id),
                              ("EtaChanged", b.id)]

    shipment = await desk.ship_allocated(ann.id)
    assert shipment.units == 5 and shipment.lines == {ann.lines[0].id: 3, line.id: 2}
    assert await stock(ALT) == (9, 9)
