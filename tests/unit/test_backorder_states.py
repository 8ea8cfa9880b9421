"""How a backorder moves through its states (waiting, partly and fully allocated, shipped, cancelled,
substituted) and the history it keeps of why."""

from __future__ import annotations

import pytest

from domain import events as ev
from domain.errors import (
    ErrorCode,
    InvalidState,
)
from domain.model import (
    BackorderStatus,
)
from notifications.wording import staff_cause
from tests.unit.support import (
    NOW,
    TODAY,
    events_of,
    inventory,
    place,
    received,
    refused,
    snapshot,
    statuses,
)

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
