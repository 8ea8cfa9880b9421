"""Helpers the use cases share: the dependencies they run with, saving an aggregate with its events,
settling SKUs, reading an order or purchase order under the locks of its SKUs, and preview bookkeeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, TypeVar

from domain import events as ev
from domain.causes import Cause
from domain.clock import Clock
from domain.commands import AllocationPreviewLine, LineRequest
from domain.errors import InvalidState, not_found, on_line
from domain.model import (
    Backorder,
    BackorderStatus,
    Order,
    PurchaseOrder,
    PurchaseOrderLine,
    SkuInventory,
    check_sku,
)
from domain.ports import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class Deps:
    """What every use case runs with: a factory of units of work (one per transaction) and the clock."""

    uow: UnitOfWorkFactory
    clock: Clock


async def settle(deps: Deps, uow: UnitOfWork, skus: Sequence[str], cause: Cause) -> None:
    now = deps.clock.now()
    await uow.load_inventories(skus)
    for sku in skus:
        inventory = await uow.inventory(sku)
        await settle_aside(inventory, now, cause)
        await save(uow, inventory)


# backorders from which a queue is settled in a worker thread: settling 100k (allocation, re-projection,
# positions) is seconds of Python, and on the event loop every other request of the process waited for it
LONG_QUEUE = 2_000


async def settle_aside(inventory: SkuInventory, now: datetime, cause: Cause) -> None:
    """`inventory.settle(now, cause)`, for a long queue in a thread so the process keeps serving others
    meanwhile (the aggregate belongs to this use case's unit of work alone; the thread only computes)."""
    if len(inventory.queue) < LONG_QUEUE:
        inventory.settle(now, cause)
    else:
        await asyncio.to_thread(inventory.settle, now, cause)


# waiting backorders from which a first-come-first-served receipt serves the head of the queue from its rows
# (domain.model.head) instead of loading the queue whole: 100k backorders as objects were most of a receipt's time
SERVE_HEAD_FROM = 1_000


async def receive_at_head(uow: UnitOfWork, sku: str, location: str, quantity: int, now: datetime,
                          cause: Cause) -> SkuInventory | None:
    """Units arrive for a long first-come-first-served queue (the SKU locked): the store reads only the backorders
    the units reach (`waiting_head`), the domain decides for them what settling the whole queue would
    (`serve_head`), and only those still waiting afterwards are loaded and settled. Returns that aggregate,
    settled, for `save`; None when this does not apply (nothing written): receive and settle it whole."""
    head = await uow.queue_head(sku, SERVE_HEAD_FROM)
    if head is None:
        return None
    head.receive(location, quantity, now, cause)
    if not head.can_serve_head(now.date()):
        return None
    rows, waiting = await uow.waiting_head(sku, head.available_to_promise)
    if len(rows) < LONG_QUEUE:
        served = head.serve_head(rows, waiting, now, cause)
    else:  # 100k rows decided: seconds of Python the process's other requests would wait for (settle_aside)
        served = await asyncio.to_thread(head.serve_head, rows, waiting, now, cause)
    head.check_invariants()
    whole = [s for s in served if s.status is BackorderStatus.ALLOCATED]
    rest = await uow.save_served(head, whole, cause)
    rest.adopt_served([s for s in served if s.status is not BackorderStatus.ALLOCATED], cause)  # the last, in part
    uow.add_events(head.events)
    await settle_aside(rest, now, cause)
    return rest


async def save(uow: UnitOfWork, inventory: SkuInventory) -> None:
    inventory.check_invariants()
    await uow.save_inventory(inventory)
    uow.add_events(inventory.events)
    inventory.events = []


async def get_backorder(uow: UnitOfWork, backorder_id: str) -> Backorder:
    backorder = await uow.get_backorder(backorder_id)
    if backorder is None:
        raise not_found("backorder", backorder_id)
    return backorder


def in_queue(inventory: SkuInventory, backorder_id: str) -> Backorder:
    """The locked, current copy of a backorder; it must still be active."""
    backorder = inventory.queue.get(backorder_id)
    if backorder is None:
        raise InvalidState("this backorder is no longer open", field="backorder_id")
    return backorder


async def locked_order(uow: UnitOfWork, order_id: str) -> Order:
    """The order, read under the locks of all its SKUs: every writer of its lines holds one of them."""
    return await read_under_locks(uow, uow.get_order, "order", order_id)


async def locked_purchase_order(uow: UnitOfWork, purchase_order_id: str,
                                 extra_skus: Sequence[str] = ()) -> PurchaseOrder:
    """The purchase order, read under the locks of all its SKUs (and `extra_skus`)."""
    return await read_under_locks(uow, uow.get_purchase_order, "purchase order", purchase_order_id,
                                   extra_skus)


def po_event(po: PurchaseOrder, now: datetime, change: str) -> ev.PurchaseOrderChanged:
    return ev.PurchaseOrderChanged(
        occurred_at=now,
        purchase_order_id=po.id, number=po.number, status=po.status.value,
        expected_date=po.expected_date, skus=tuple(line.sku for line in po.lines), change=change,
    )


def watch(inventory: SkuInventory, today: date, preview: bool) -> Callable[[], list[AllocationPreviewLine]]:
    """Remember the backorders waiting now; the returned function says, after a change, what the change did to
    each of them. Nothing to remember when no preview is wanted (a real change on a long queue)."""
    waiting = inventory.ranked_queue(today) if preview else []
    before = {b.id: b.allocated_quantity for b in waiting}

    def lines() -> list[AllocationPreviewLine]:
        return [AllocationPreviewLine(b.id, b.allocated_quantity - before[b.id], b.status,
                                      b.queue_position if b.is_active else None, b.eta if b.is_active else None)
                for b in waiting]
    return lines


class _Line(Protocol):
    @property
    def sku(self) -> str: ...


class _WithLines(Protocol):
    @property
    def lines(self) -> Sequence[_Line]: ...


W = TypeVar("W", bound=_WithLines)


async def read_under_locks(uow: UnitOfWork, read: Callable[[str], Awaitable[W | None]], kind: str, key: str,
                            extra_skus: Sequence[str] = ()) -> W:
    """An order or purchase order read under the locks of all its SKUs. A line added while we waited for
    them (an accepted substitute, a PO update) brings a new SKU: lock that too and read again."""
    locked: set[str] = set()
    while True:
        found = await read(key)
        if found is None:
            raise not_found(kind, key)
        skus = {line.sku for line in found.lines} | set(extra_skus)
        if skus <= locked:
            return found
        locked |= skus
        await uow.lock_skus(sorted(locked))


def checked_line(index: int, line: LineRequest) -> LineRequest:
    with on_line(index):
        return LineRequest(check_sku(line.sku, "lines.sku"), line.quantity)


def po_line(index: int, line: LineRequest) -> PurchaseOrderLine:
    checked = checked_line(index, line)
    return PurchaseOrderLine(checked.sku, checked.quantity)
