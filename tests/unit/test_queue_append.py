"""Joining a queue without loading it: whenever `SkuInventory.can_append` lets an order be placed against
the queue's summary (`QueueAhead`), the outcome is exactly what loading the whole queue and settling it
gives, over random histories of orders, deliveries, purchase orders, cancellations, shipments, agent
priorities and days passing without a settle."""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from domain import events as ev
from domain.causes import Cause, CauseKind
from domain.eta import InboundSupply
from domain.model import (
    Backorder,
    OrderLine,
    QueueAhead,
    SkuInventory,
    StockLevel,
)
from tests.unit.support import NOW, SKU, note, order, place, product


def summarised(inv: SkuInventory) -> SkuInventory:
    """The aggregate as the store loads it for an append: stock, inbound and the queue's summary only."""
    waiting = inv.ranked_queue(NOW.date())  # first come, first served: the order does not depend on the day
    ahead = QueueAhead(len(waiting), sum(b.waiting_quantity for b in waiting),
                       copy.deepcopy(waiting[0]) if waiting else None, copy.deepcopy(waiting[-1]) if waiting else None)
    return SkuInventory(inv.product, [copy.copy(level) for level in inv.stock.values()], [], inbound=inv.inbound,
                        supplier=inv.supplier, policy=inv.policy, ahead=ahead)


def _anonymous(event_: ev.Event) -> ev.Event:
    """An event without the new backorder's random id, to compare the two paths' events."""
    return dataclasses.replace(event_, backorder_id="new") if hasattr(event_, "backorder_id") else event_


def _state(b: Backorder | None) -> tuple[object, ...] | None:
    if b is None:
        return None
    return (b.quantity, b.allocated_quantity, b.reserved, b.status, b.eta, b.promised_date, b.queue_position,
            [(h.kind, h.old_value, h.new_value, h.cause) for h in b.history])


class QueueAppendMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.inv = SkuInventory(product(lead_time_days=10), [StockLevel(SKU, "MAIN")], [])
        self.now = NOW
        self.purchase_orders: list[InboundSupply] = []
        self.lines = 0

    def settle(self) -> None:
        self.inv.settle(self.now, note("step"))
        self.inv.events.clear()
        self.inv.touched.clear()  # saved

    def waiting(self) -> list[Backorder]:
        return [b for b in self.inv.queue.values() if b.waiting_quantity]

    @initialize(on_hand=st.integers(0, 3))
    def opening_stock(self, on_hand):
        if on_hand:
            self.inv.receive("MAIN", on_hand, self.now, note("opening stock"))
            self.settle()

    @rule(quantity=st.integers(1, 6), minutes=st.sampled_from([0, 1, 1, 5]))
    def place_order(self, quantity, minutes):
        self.now += timedelta(minutes=minutes)  # 0: the same instant as the last order (ties on order time)
        light = summarised(self.inv)
        placed = order(placed_at=self.now)
        self.lines += 1
        line = OrderLine(f"line-{self.lines}", placed.id, SKU, quantity, self.inv.product.price)
        light_line = copy.deepcopy(line)
        cause = Cause(kind=CauseKind.QUEUE_ORDER_PLACED, reference=placed.number)
        appended = light.can_append(self.now)
        event("appended" if appended else "loaded whole")
        if appended:
            light_backorder = light.place_line(placed, light_line, self.now)
            light.settle(self.now, cause)
        backorder = self.inv.place_line(placed, line, self.now)
        self.inv.settle(self.now, cause)
        if appended:
            others = set(self.inv.touched) - ({backorder.id} if backorder else set())
            assert not others, f"the whole queue's settle changed {others}, which an append leaves as they were"
            assert _state(light_backorder) == _state(backorder)
            assert (light_line.allocated_quantity, light_line.reserved) == (line.allocated_quantity, line.reserved)
            assert {k: dataclasses.astuple(v) for k, v in light.stock.items()} == {
                k: dataclasses.astuple(v) for k, v in self.inv.stock.items()}
            assert [_anonymous(e) for e in light.events] == [_anonymous(e) for e in self.inv.events]
            assert light.waiting_units() == self.inv.waiting_units()
        self.inv.events.clear()
        self.inv.touched.clear()

    @rule(quantity=st.integers(1, 8))
    def receive_stock(self, quantity):
        self.now += timedelta(minutes=1)
        self.inv.receive("MAIN", quantity, self.now, note("delivery"))
        self.settle()

    @rule(quantity=st.integers(1, 8), days=st.integers(-2, 30), late=st.booleans())
    def open_purchase_order(self, quantity, days, late):
        self.purchase_orders.append(InboundSupply(f"PO-{len(self.purchase_orders) + 1}",
                                                  self.now.date() + timedelta(days=days), quantity, late))
        self.inv.inbound = list(self.purchase_orders)
        self.settle()

    @precondition(lambda self: bool(self.purchase_orders))
    @rule(data=st.data())
    def receive_purchase_order(self, data):
        po = data.draw(st.sampled_from(self.purchase_orders))
        self.purchase_orders.remove(po)
        self.inv.inbound = list(self.purchase_orders)
        self.inv.receive("MAIN", po.quantity, self.now, note(po.reference))
        self.settle()

    @precondition(lambda self: bool(self.inv.queue))
    @rule(data=st.data(), everything=st.booleans())
    def cancel(self, data, everything):
        backorder = data.draw(st.sampled_from(sorted(self.inv.queue.values(), key=lambda b: b.id)))
        self.inv.cancel(backorder, None if everything else 1, self.now, by="customer", reason="")
        self.settle()

    @precondition(lambda self: any(b.held_quantity for b in self.inv.queue.values()))
    @rule(data=st.data())
    def ship(self, data):
        backorder = data.draw(st.sampled_from(sorted((b for b in self.inv.queue.values() if b.held_quantity),
                                                     key=lambda b: b.id)))
        self.inv.ship_backorder(backorder, self.now, "SHIP-1")
        self.settle()

    @precondition(lambda self: bool(self.waiting()))
    @rule(data=st.data(), priority=st.sampled_from([-2, 0, 3]))
    def reprioritize(self, data, priority):
        backorder = data.draw(st.sampled_from(sorted(self.waiting(), key=lambda b: b.id)))
        self.inv.reprioritize(backorder, priority, "agent's call", "agent", self.now)
        self.settle()

    @rule(days=st.integers(1, 12))
    def days_pass(self, days):
        """Time alone: no settle until something happens (or the stale-ETA refresh runs)."""
        self.now += timedelta(days=days)

    @rule()
    def stale_etas_refreshed(self):
        self.settle()


QueueAppendMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestQueueAppend = QueueAppendMachine.TestCase


def test_an_order_behind_a_fresh_queue_joins_its_tail_from_the_summary():
    inv = SkuInventory(product(lead_time_days=10), [StockLevel(SKU, "MAIN")], [])
    for minute in range(3):
        place(inv, 2, minutes=minute)
    inv.inbound = [InboundSupply("PO-1", NOW.date() + timedelta(days=5), 5)]
    inv.settle(NOW + timedelta(minutes=3), note("purchase order"))
    light = summarised(inv)
    later = NOW + timedelta(minutes=4)
    assert light.can_append(later)
    _, _, backorder = place(light, 2, minutes=4)
    assert backorder is not None and backorder.queue_position == 4
    assert backorder.eta is not None and backorder.eta.source.value == "LEAD_TIME"  # 6 waiting ahead, 5 coming
    assert not light.can_append(NOW + timedelta(minutes=2))  # the tail was placed later: it would not be last
