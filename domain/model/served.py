"""A receipt recorded as the range it served (`events.QueueServed`, issue 15) and the per-backorder events it stands
for: the event is made from the rows the receipt read, and told back from the backorders it covers as a consumer
reads them (`ports.ServedRanges`): still waiting in their rows before the range is folded in, or from their rows and
the history the fold wrote after it. Either way the events are those `head.serve` told for them at the receipt.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from domain import events as ev
from domain.allocation import PriorityPolicy
from domain.eta import Confidence, EtaSource
from domain.model.backorder import BackorderStatus
from domain.model.head import ServeRecord, Waiting, serve

_PER_BACKORDER = (ev.BackorderAllocated, ev.BackorderStatusChanged, ev.EtaChanged)


def range_event(record: ServeRecord, record_id: int, rows: Sequence[Waiting]) -> ev.QueueServed:
    """The event of the receipt `record` (stored as `record_id`) that served the first `record.count` of `rows`
    (the head of the queue it read, in queue order) whole."""
    first, last = rows[0], rows[record.count - 1]
    assert last.id == record.last[2], "the range ends where the record says"
    assert record.first == (first.priority_override, first.ordered_at, first.id), "and starts where it says"
    return recorded_event(record, record_id)


def recorded_event(record: ServeRecord, record_id: int) -> ev.QueueServed:
    """The event of the receipt `record` (stored as `record_id`) made from the record alone, as `range_event` made it
    from the rows at the receipt: what a fan-out after the receipt's commit tells (`ports.UnitOfWork.tell_served`)."""
    if record.first is None:
        raise ValueError(f"{record.sku}: receipt {record_id} was recorded without the key of its first backorder")
    return ev.QueueServed(
        occurred_at=record.served_at, sku=record.sku, location=record.location, cause=record.cause,
        first=record.first, last=record.last, count=record.count, units=record.units,
        waiting_count=record.waiting_count, record_id=record_id, partly=record.partly)


def instead_of_covered(events: Sequence[ev.Event], served: ev.QueueServed, ids: Collection[str]) -> list[ev.Event]:
    """`events` with the per-backorder events of the backorders `served` covers (`ids`) left out and `served` in
    the place of the first of them."""
    out: list[ev.Event] = []
    placed = False
    for event in events:
        if isinstance(event, _PER_BACKORDER) and event.sku == served.sku and event.backorder_id in ids:
            if not placed:
                out.append(served)
                placed = True
            continue
        out.append(event)
    if not placed:
        out.append(served)
    return out


@dataclass(frozen=True, slots=True)
class Covered:
    """One backorder a recorded receipt served whole, as its consumers read it back: what it was before (units
    allocated, status, ETA date) and what the receipt decided (the reason of its place; whether its ETA's date
    moved to the receipt's day). Slotted: a 100k range's are held at once while it is told."""

    id: str
    order_id: str
    customer_email: str
    quantity: int
    allocated_before: int
    old_status: str
    reason: str
    old_eta: date | None
    eta_moved: bool


def still_waiting(served: ev.QueueServed, rows: Sequence[Waiting], first_position: int) -> list[Covered]:
    """The covered backorders not yet folded (`rows`, in queue order, the first at place `first_position` of the
    range), as the receipt found them: `serve` decides for them again what it decided then."""
    told: list[ev.Event] = []
    supply = sum(row.quantity - row.allocated_quantity for row in rows)
    done = serve(served.sku, rows, served.waiting_count, supply, lambda units: {served.location: units},
                 PriorityPolicy(), served.occurred_at, served.cause, told, first_position)
    assert all(s.status is BackorderStatus.ALLOCATED for s in done), "a range covers backorders served whole"
    allocated = {e.backorder_id: e for e in told if isinstance(e, ev.BackorderAllocated)}
    status = {e.backorder_id: e for e in told if isinstance(e, ev.BackorderStatusChanged)}
    moved = {e.backorder_id: e for e in told if isinstance(e, ev.EtaChanged)}
    out = []
    for row in rows:
        a, eta = allocated[row.id], moved.get(row.id)
        out.append(Covered(row.id, row.order_id, row.customer_email, row.quantity, row.allocated_quantity,
                           status[row.id].old_status, a.reason, eta.old_date if eta else None, eta is not None))
    return out


def covered_events(served: ev.QueueServed, covered: Sequence[Covered]) -> list[ev.BackorderEvent]:
    """The per-backorder events `served` stands for, of `covered` (in queue order): as `serve` orders them, each
    one's allocation and status change in turn, then the ETA changes."""
    at, sku, cause = served.occurred_at, served.sku, served.cause
    today = at.date()
    out: list[ev.BackorderEvent] = []
    moved: list[ev.BackorderEvent] = []
    for c in covered:
        ids: dict[str, Any] = {"occurred_at": at, "backorder_id": c.id, "order_id": c.order_id, "sku": sku,
               "customer_email": c.customer_email}
        out.append(ev.BackorderAllocated(**ids, quantity=c.quantity - c.allocated_before,
                                         allocated_quantity=c.quantity, backordered_quantity=c.quantity,
                                         reason=c.reason, cause=cause))
        out.append(ev.BackorderStatusChanged(**ids, old_status=c.old_status,
                                             new_status=BackorderStatus.ALLOCATED.value, cause=cause))
        if c.eta_moved:
            moved.append(ev.EtaChanged(**ids, old_date=c.old_eta, new_date=today, confidence=Confidence.HIGH.value,
                                       source=EtaSource.ALLOCATED.value, cause=cause))
    out.extend(moved)
    return out


def queue_changed(served: ev.QueueServed, covered: Sequence[Covered]) -> ev.QueueChanged:
    """The per-backorder events `served` stands for, of `covered` (in queue order, at least one), as the one
    QueueChanged `events.compact` folds them into (`covered_events`), made from the covered backorders straight:
    no event object per backorder (300k of them, then folded, were most of a 100k range's fan-out)."""
    today = served.occurred_at.date().isoformat()
    allocated = BackorderStatus.ALLOCATED.value
    confidence, source = Confidence.HIGH.value, EtaSource.ALLOCATED.value
    entries: list[tuple[Any, ...]] = []
    moved: list[tuple[Any, ...]] = []
    for n, c in enumerate(covered):
        entries.append(("A", n, 0, c.quantity - c.allocated_before, c.quantity, c.quantity, c.reason))
        entries.append(("S", n, 0, c.old_status, allocated))
        if c.eta_moved:
            moved.append(("E", n, 0, c.old_eta.isoformat() if c.old_eta else None, today, confidence, source))
    entries.extend(moved)
    return ev.QueueChanged(occurred_at=served.occurred_at, sku=served.sku,
                           backorders=tuple((c.id, c.order_id, c.customer_email) for c in covered),
                           causes=(served.cause,), entries=tuple(entries))


class CustomerSlices(Protocol):
    """The backorders a range covers as a fan-out tells them: a slice of whole customers at a time, in code-point
    order of their emails (each customer whole in one slice: one part, one digest message), the slices the same
    however often the range is read back (`ArrivingByCustomer`)."""

    def slice_after(self, through: str | None, most: int) -> tuple[list[Covered], str | None]:
        """The next slice after customer `through` (None: from the first): whole customers, up to `most` backorders
        (at least one customer), and the last customer in it; ([], None) when none is left."""

    def is_last(self, email: str | None) -> bool:
        """Whether no customer is left after `email` (None: after a slice_after that found none left)."""


class ArrivingByCustomer:
    """The backorders a range covers arriving in customer order (code point of the email, each one's in queue order)
    a piece at a time, as a cursor reads them (`add`, then `end`): the slices cut from the whole range (the
    customers grouped, in email order; tests/unit/test_fan_out_slices.py), cut from what has arrived, so that a 100k
    range's backorders are never all held at once. A customer is cut only
    once a later one's first backorder (or the end) has arrived: whole. The caller reads on while `wants` says so."""

    def __init__(self) -> None:
        self._rows: list[Covered] = []
        self.ended = False
        self._cut: str | None = None  # the last customer of the slice cut last

    def _drop_through(self, email: str | None) -> None:
        rows = self._rows
        told = 0
        while email is not None and told < len(rows) and rows[told].customer_email <= email:
            told += 1
        del rows[:told]

    def add(self, piece: Sequence[Covered]) -> None:
        last = self._rows[-1].customer_email if self._rows else None
        for c in piece:
            if last is not None and c.customer_email < last:
                raise ValueError(f"backorders out of customer order: {c.customer_email!r} after {last!r}")
            last = c.customer_email
        self._rows.extend(piece)

    def end(self) -> None:
        self.ended = True

    def wants(self, most: int) -> bool:
        """Whether to read on before cutting the next slice of `most`: not at the end, and fewer than `most` + 1
        backorders have arrived past the slice cut last, or all of one customer's (whose end has not). Asked before
        the next slice's transaction: the slice cut last counts as told (a fan-out whose slice failed ends there)."""
        self._drop_through(self._cut)
        rows = self._rows
        return not self.ended and (len(rows) <= most or rows[0].customer_email == rows[-1].customer_email)

    def slice_after(self, through: str | None, most: int) -> tuple[list[Covered], str | None]:
        self._drop_through(through)  # told: a slice is cut after the last customer told, never before it
        rows = self._rows
        out: list[Covered] = []
        last = None
        start = 0
        while start < len(rows):
            email = rows[start].customer_email
            end = start
            while end < len(rows) and rows[end].customer_email == email:
                end += 1
            if end == len(rows) and not self.ended:
                break  # this customer's end has not arrived yet
            if out and len(out) + end - start > most:
                break
            out.extend(rows[start:end])
            last = email
            start = end
        if not out:
            return [], (None if self.ended else through)
        self._cut = last
        return out, last

    def is_last(self, email: str | None) -> bool:
        rows = self._rows
        return self.ended and (not rows or (email is not None and rows[-1].customer_email <= email))


def customer_parts(served: ev.QueueServed, covered: Sequence[Covered]) -> dict[str, ev.QueueChanged]:
    """Each customer's part of `served` (what `QueueChanged.part` cuts from `queue_changed` for them: their digest's
    outbox row), made from their covered backorders alone, in the order the customers first appear."""
    theirs: dict[str, list[Covered]] = {}
    for c in covered:
        theirs.setdefault(c.customer_email, []).append(c)
    return {email: queue_changed(served, mine) for email, mine in theirs.items()}
