"""Serving the head of a first-come-first-served queue from rows, not from the queue as objects: a receipt for
a long queue hands its units to the first backorders in line, and the store reads only those (issue 15). What
this decides for them is what `SkuInventory.settle` decides (allocation, reason, status, the ETA of a backorder
now served whole, its place in the queue), and the same events and history; the backorders still waiting
afterwards are then settled by `settle` itself (re-projection, places, "cancel if not by" dates).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
          events: list[ev.Event], first_position: int = 1) -> list[Served]:
    """Hand `supply` units to `rows`, the head of a first-come-first-served queue in its order (of
    `waiting_count` waiting in all; the first of `rows` at `first_position`), each taking what it waits for
    while units last; `reserve(units)` sets them aside and says where from. The per-backorder events go to
    `events`: each one's allocation and status change in turn, then the ETA changes, as `SkuInventory.settle`
    orders them."""
    today = now.date()
    ready = Eta(today, Confidence.HIGH, EtaSource.ALLOCATED)  # what the projection gives a backorder served whole
    served: list[Served] = []
    moved: list[ev.Event] = []
    left = supply
    for position, row in enumerate(rows, start=first_position):
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


@dataclass(frozen=True)
class ServedWhole:
    """The backorders a receipt at the head of a first-come-first-served queue served whole (`ids`, in queue
    order), as the store writes them: in one set-based statement whose values the database computes from each
    row, not sent value by value (100k rows' values encoded and sent took most of a receipt, issue 15). What it
    computes is what `serve` decides for a backorder it serves whole: allocated all it ordered, what it waited
    for reserved at `location`, ALLOCATED, the reason of its place (`first_position` for the first, of
    `waiting_count` waiting), ready today unless its ETA already says allocated, out of the queue's places,
    changed `at`; and its history at `at` for `cause`: the status, then the ETA when its date moved (the events
    are the domain's: `serve` told them)."""

    sku: str
    location: str
    at: datetime
    cause: Cause
    waiting_count: int
    first_position: int
    ids: tuple[str, ...]

    @property
    def ready(self) -> Eta:
        """The ETA of a backorder served whole (the projection's for units set aside)."""
        return Eta(self.at.date(), Confidence.HIGH, EtaSource.ALLOCATED)


def served_whole(sku: str, location: str, served: Sequence[Served], waiting_count: int, at: datetime, cause: Cause,
                 first_position: int = 1) -> ServedWhole:
    """Those of `served` (what `serve` did to the head, from `first_position`, its units from `location`) served
    whole, for the store to write set-based; they are the first of them (the one served in part, if any, is last)."""
    ids = tuple(s.id for s in served if s.status is BackorderStatus.ALLOCATED)
    assert ids == tuple(s.id for s in served[:len(ids)]), "the backorders served whole are the head of those served"
    return ServedWhole(sku, location, at, cause, waiting_count, first_position, ids)


QueueKey = tuple[int, datetime, str]  # (agent priority, order time, id): the queue's order, priority first


def queue_key(row: Waiting) -> tuple[int, datetime, str]:
    """Sorts in queue order (first come, first served): agent priority highest first, then order time, then id."""
    return (-row.priority_override, row.ordered_at, row.id)


@dataclass(frozen=True)
class ServeRecord:
    """A receipt at the head of a long first-come-first-served queue as the store records it instead of the rows
    it served whole (issue 15): those are the first `count` backorders waiting for `sku` in queue order, the last
    of them keyed `last` (priority, order time, id), each served from `location` with what it waited for
    (`units` in all), at `served_at`, of `waiting_count` waiting then. Their rows are folded in afterwards, in
    chunks (`folded` so far): `fold` decides each one's values exactly as `serve` did at the receipt (the store
    folds set-based by the same rules; `fold` is what the tests hold it to). Every writer of the SKU folds its
    pending serves first (but an order whose backorder joins behind the range, `TortoiseUnitOfWork.lock_skus`), so
    the backorders a serve covers stay as it found them."""

    sku: str
    location: str
    served_at: datetime
    cause: Cause
    waiting_count: int
    count: int
    units: int
    last: QueueKey
    folded: int = 0
    # the first's key, and the covered backorders that had units already (id, allocated then): what the rows
    # forget once folded, kept with the record so the receipt can be told from it after the commit (`QueueServed`)
    first: QueueKey | None = None
    partly: tuple[tuple[str, int], ...] = ()

    @property
    def pending(self) -> int:
        return self.count - self.folded

    def covers(self, row: Waiting) -> bool:
        priority, ordered_at, backorder_id = self.last
        return queue_key(row) <= (-priority, ordered_at, backorder_id)


@dataclass(frozen=True)
class Behind:
    """What a writer that changes one backorder of a SKU (a cancel, a reprioritisation, its preferences) says to
    the store's lock (`UnitOfWork.lock_skus`): that backorder, and the agent priority it will have (None: kept).
    While the SKU has a receipt's range pending (`ServeRecord`), the writer need not wait for its fold when that
    backorder waits after the range's last, before and after the change: nothing it reads or changes is in the
    range, whose backorders are allocated once folded. No backorder (None): a writer that changes none of its own, only
    the SKU's stock (a count or safety stock adjustment), then settles the queue: that hands units only to backorders
    waiting after the range and takes none back, so nothing it reads or changes is in the range either."""

    backorder_id: str | None
    priority: int | None = None


def record_serve(sku: str, location: str, rows: list[Waiting], served: list[Served], waiting_count: int,
                 now: datetime, cause: Cause) -> ServeRecord | None:
    """The record of what `serve` did to the head `rows` (in queue order) when those it served whole
    (`served`, a prefix of them) can be folded in later from it: each took what it waited for from `location`
    alone. None when there is nothing served whole."""
    if not served:
        return None
    last = rows[len(served) - 1]
    assert last.id == served[-1].id, "the backorders served whole are the head of the rows"
    units = sum(s.allocated_quantity - r.allocated_quantity for r, s in zip(rows, served, strict=False))
    first = rows[0]
    return ServeRecord(sku, location, now, cause, waiting_count, len(served), units,
                       (last.priority_override, last.ordered_at, last.id),
                       first=(first.priority_override, first.ordered_at, first.id),
                       partly=tuple((row.id, row.allocated_quantity) for row in rows[:len(served)]
                                    if row.allocated_quantity))


@dataclass(frozen=True)
class HeadRange:
    """The head of a first-come-first-served queue as the store finds it for units received, without reading the
    backorders it covers (issue 15: 100k of them as objects were most of a receipt): the first `count` waiting in
    queue order, from the one keyed `first` to the one keyed `last`, waiting for `units` in all and each for at
    least `least`; those of them that had units already (`partly`: id, allocated, in queue order); the next in line
    when the units reach it only in part (`reached_in_part`, read whole: `serve` decides for it); and how many wait
    in all (`waiting_count`). What `serve` would decide for the covered ones is what `fold` decides later."""

    waiting_count: int
    count: int
    units: int
    least: int
    first: QueueKey | None
    last: QueueKey | None
    partly: tuple[tuple[str, int], ...]
    reached_in_part: Waiting | None


def served_whole_by(found: HeadRange, supply: int) -> bool:
    """Whether `serve`, handed `supply` units for the head of the queue, serves exactly the `found.count` backorders
    of `found` whole and the next in line (if the store found one) in part: each covered one waits for something
    (else `serve` would not change it as a served one), all of them fit in `supply`, and what is left is more than
    nothing and less than the next one waits for. The store's SQL (`UnitOfWork.head_range`) finds the range by
    these rules; `serve` is the reference the tests hold it to."""
    if found.count == 0 or found.least <= 0 or found.units > supply or found.first is None or found.last is None:
        return False
    if found.reached_in_part is None:
        return True
    left = supply - found.units
    return 0 < left < found.reached_in_part.quantity - found.reached_in_part.allocated_quantity


def record_range(sku: str, location: str, found: HeadRange, now: datetime, cause: Cause) -> ServeRecord:
    """The record of what `serve` decides for the backorders `found` covers (`served_whole_by`), as `record_serve`
    makes it from their rows: each takes what it waits for from `location`, at `now`, for `cause`."""
    assert found.first is not None and found.last is not None, "a range covers at least one backorder"
    return ServeRecord(sku, location, now, cause, found.waiting_count, found.count, found.units, found.last,
                       first=found.first, partly=found.partly)


def fold(record: ServeRecord, rows: list[Waiting], policy: PriorityPolicy) -> list[Served]:
    """What the receipt `record` decided for `rows`, the next of the backorders it served whole (in queue order,
    the first at place `record.folded + 1`): `serve` again, with what each waited for from the record's
    location, at the record's time. Its events were told at the receipt."""
    if len(rows) > record.pending or not all(record.covers(row) for row in rows):
        raise ValueError(f"{record.sku}: rows past the backorders the receipt served ({record.last[2]})")
    if any(row.quantity <= row.allocated_quantity for row in rows):
        raise ValueError(f"{record.sku}: a backorder the receipt served waits for nothing")
    supply = sum(row.quantity - row.allocated_quantity for row in rows)
    served = serve(record.sku, rows, record.waiting_count, supply, lambda units: {record.location: units}, policy,
                   record.served_at, record.cause, [], first_position=record.folded + 1)
    assert all(s.status is BackorderStatus.ALLOCATED for s in served)
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


@dataclass(frozen=True)
class StagedReceipt:
    """A receipt for a long first-come-first-served queue being put away a chunk at a time (issue 15): each chunk
    is a short transaction of its own that serves the next backorders in line, so no other writer waits for the
    whole receipt. `units` received at `location` are still to hand out (staged: off hand, counted by the projection
    as arriving now); each chunk serves them as the whole receipt would have, at `received_at` and for `cause`,
    the backorders numbered on from `served` (those served so far) of the `waiting_count` waiting when they came.
    `id` is the store's, once recorded."""

    sku: str
    location: str
    units: int
    received_at: datetime
    cause: Cause
    waiting_count: int
    served: int = 0
    id: int | None = None
