"""Serving the head of a first-come-first-served queue from its rows (domain.model.head) decides for the
backorders the units reach what settling the whole queue decides: the same units, reservations, statuses and
reasons, the ready-today ETA and no place for those served whole, the same history and events, and the same
stock. (The store's side, and the settle of those still waiting, are in
tests/integration/test_receipt_at_head.py.)"""

from __future__ import annotations

import copy
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events as ev
from domain.model import SkuInventory, Waiting
from tests.unit.support import NOW, inventory, place, received

queues = st.lists(st.tuples(st.integers(1, 4), st.sampled_from([0, 0, 0, 5, -1])), min_size=1, max_size=12)


def _rows(inv: SkuInventory) -> list[Waiting]:
    """The waiting queue as the store reads its head: in queue order."""
    return [Waiting(id=b.id, order_id=b.order_id, customer_email=b.customer_email, quantity=b.quantity,
                    allocated_quantity=b.allocated_quantity, reserved=dict(b.reserved), status=b.status, eta=b.eta,
                    priority_override=b.priority_override, ordered_at=b.ordered_at,
                    queue_position=b.queue_position, updated_at=b.updated_at, version=b.version)
            for b in inv.ranked_queue(NOW.date())]


@settings(max_examples=200)
@given(queues, st.integers(0, 5), st.integers(1, 30))
def test_the_head_served_from_rows_is_served_as_the_whole_queue_settles_it(
        queue: list[tuple[int, int]], first: int, units: int) -> None:
    inv = inventory()
    for n, (quantity, priority) in enumerate(queue):
        _, _, backorder = place(inv, quantity, minutes=n, email=f"c{n % 3}@example.com")
        assert backorder is not None
        if priority:
            inv.reprioritize(backorder, priority, "test", "agent Sam", NOW + timedelta(minutes=n))
            inv.settle(NOW + timedelta(minutes=n), received(0))
    if first:  # some served before: partly allocated backorders wait too
        inv.receive("MAIN", first, NOW + timedelta(hours=1), received(first))
        inv.settle(NOW + timedelta(hours=1), received(first))
    later, cause = NOW + timedelta(days=1), received(units)
    inv.events, inv.touched = [], {}
    for b in inv.queue.values():
        b.new_history = []
    rows = _rows(inv)
    whole = copy.deepcopy(inv)
    whole.receive("MAIN", units, later, cause)
    whole.settle(later, cause)

    head = copy.deepcopy(inv)
    head.queue = {}
    head.receive("MAIN", units, later, cause)
    assert head.can_serve_head(later.date())
    served = head.serve_head(rows, len(rows), later, cause)

    assert sum(s.allocated_quantity for s in served) - sum(r.allocated_quantity for r in rows[:len(served)]) \
        == min(units, sum(r.quantity - r.allocated_quantity for r in rows))
    for s in served:
        b = whole.queue[s.id]
        assert (s.allocated_quantity, s.reserved, s.status, s.allocation_reason) == \
               (b.allocated_quantity, b.reserved, b.status, b.allocation_reason)
        if b.waiting_quantity == 0:  # served whole: its ETA and place are decided here, not by the later settle
            assert (s.eta, s.queue_position) == (b.eta, b.queue_position)
            assert [(h[0], h[1], h[2]) for h in s.history] == [(h.kind, h.old_value, h.new_value)
                                                                for h in b.new_history]
            assert s.version == b.version + 1
    assert [(level.on_hand, level.allocated) for level in head.stock.values()] == \
           [(level.on_hand, level.allocated) for level in whole.stock.values()]
    done = {s.id for s in served if whole.queue[s.id].waiting_quantity == 0}
    served_ids = {s.id for s in served}

    def told(events: list[ev.Event]) -> dict[str, list[ev.Event]]:
        by_backorder: dict[str, list[ev.Event]] = {}
        for e in events:
            key = getattr(e, "backorder_id", None)
            if key in done or (key in served_ids and not isinstance(e, ev.EtaChanged)):
                by_backorder.setdefault(key, []).append(e)
        return by_backorder

    assert told(head.events) == told(whole.events)
    assert [e.kind for e in head.events if not isinstance(e, ev.BackorderEvent)] == ["StockReceived"]
