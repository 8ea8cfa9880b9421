"""Serving the head of a first-come-first-served queue from rows, not from the queue as objects: a receipt for
a long queue hands its units to the first backorders in line, and the store reads only those (issue 15). What
this decides for them is what `SkuInventory.settle` decides (allocation, reason, status, the ETA of a backorder
now served whole, its place in the queue), and the same events and history; the backorders still waiting
afterwards are then settled by `settle` itself (re-projection, places, "cancel if not by" dates).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain import events as ev
from domain.allocation import Claim, PriorityPolicy, explain
from domain.causes import Cause
from domain.eta import Confidence, Eta, EtaSource
from domain.model.backorder import Backorder, BackorderStatus, HistoryEntry


@dataclass(frozen=True)
class Waiting:
    """A backorder still waiting for units, as the store reads the head of the queue: what serving it needs."""

    id: str
    order_id: str
    customer_email: str
    quantity: int
    allocated_quantity: int
    reserved: dict[str, int]
    status: BackorderStatus
    eta: Eta | None
    priority_override: int
    ordered_at: datetime
    queue_position: int | None
    updated_at: datetime | None
    version: int


@dataclass(frozen=True)
class Served:
    """What serving did to one backorder: its new values, and its new history rows (kind, old, new value)."""

    id: str
    allocated_quantity: int
    reserved: dict[str, int]
    status: BackorderStatus
    allocation_reason: str
    eta: Eta | None
    queue_position: int | None
    updated_at: datetime | None
    version: int
    history: tuple[tuple[str, str | None, str | None], ...]


def serve(sku: str, rows: Iterable[Waiting], waiting_count: int, supply: int,
          reserve: Callable[[int], dict[str, int]], policy: PriorityPolicy, now: datetime, cause: Cause,
          events: list[ev.Event]) -> list[Served]:
    """Hand `supply` units to `rows`, the head of a first-come-first-served queue in its order (of
    `waiting_count` waiting in all), each taking what it waits for while units last; `reserve(units)` sets
    them aside and says where from. The per-backorder events go to `events`: each one's allocation and status
    change in turn, then the ETA changes, as `SkuInventory.settle` orders them."""
    today = now.date()
    ready = Eta(today, Confidence.HIGH, EtaSource.ALLOCATED)  # what the projection gives a backorder served whole
    served: list[Served] = []
    moved: list[ev.Event] = []
    left = supply
    for position, row in enumerate(rows, start=1):
        if left == 0:
            break
        waiting = row.quantity - row.allocated_quantity
        take = min(left, waiting)
        left -= take
        claim = Claim(backorder_id=row.id, ordered_at=row.ordered_at, waiting_quantity=waiting,
                      priority_override=row.priority_override, customer=row.customer_email)
        reason = explain(claim, position, waiting_count, policy, today)
        reserved = dict(row.reserved)
        for location, units in reserve(take).items():
            reserved[location] = reserved.get(location, 0) + units
        allocated = row.allocated_quantity + take
        status = BackorderStatus.ALLOCATED if allocated >= row.quantity else BackorderStatus.PARTIALLY_ALLOCATED
        ids: dict[str, Any] = {"occurred_at": now, "backorder_id": row.id, "order_id": row.order_id, "sku": sku,
               "customer_email": row.customer_email}
        events.append(ev.BackorderAllocated(**ids, quantity=take, allocated_quantity=allocated,
                                            backordered_quantity=row.quantity, reason=reason, cause=cause))
        history: list[tuple[str, str | None, str | None]] = []
        if status is not row.status:
            history.append(("STATUS", row.status.value, status.value))
            events.append(ev.BackorderStatusChanged(**ids, old_status=row.status.value, new_status=status.value,
                                                    cause=cause))
        eta, place = row.eta, row.queue_position
        if status is BackorderStatus.ALLOCATED:  # served whole: ready today, and out of the waiting queue
            place = None
            old = row.eta
            if old != ready and not (old is not None and old.source is EtaSource.ALLOCATED):
                eta = ready
                if old is None or old.date != ready.date:
                    history.append(("ETA", old.date.isoformat() if old else None, ready.date.isoformat()))
                    moved.append(ev.EtaChanged(**ids, old_date=old.date if old else None, new_date=ready.date,
                                               confidence=ready.confidence.value, source=ready.source.value,
                                               cause=cause))
        served.append(Served(row.id, allocated, reserved, status, reason, eta, place,
                             now if history else row.updated_at, row.version + 1, tuple(history)))
    events.extend(moved)
    return served


def adopt(backorder: Backorder, served: Served, cause: Cause) -> None:
    """Put what serving decided onto a backorder loaded with the queue still waiting (the one served in part),
    so that settling that queue writes it once, with the rest of its changes."""
    backorder.allocated_quantity = served.allocated_quantity
    backorder.reserved = dict(served.reserved)
    backorder.status = served.status
    backorder.allocation_reason = served.allocation_reason
    backorder.eta = served.eta
    backorder.queue_position = served.queue_position
    for kind, old, new in served.history:
        entry = HistoryEntry(served.updated_at or backorder.updated_at or datetime.min, kind, old, new, cause)
        backorder.history.append(entry)
        backorder.new_history.append(entry)
        backorder.updated_at = entry.at
