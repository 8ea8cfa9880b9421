"""A purchase order changes under a long queue (issue 15: created, its date moved, its quantity changed,
cancelled): only the slice of the queue whose ETAs can change is read and written
(`purchasing.settle_inbound_change`), on SQLite and PostgreSQL. Whatever the shop, the
slice writes exactly what the whole settle writes: the same rows, history entries and events, EtaChanged
once per moved date, and the same stored projection (`products.eta_projection`, the premise of the next
slice), which the rows then follow; where it cannot be exact (FAIR_SHARE, stale stored ETAs, a broken "cancel if
not by" date, stock free to hand out, a queue written behind the unit of work's back) it falls back to the whole
settle, which these tests also see taken."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.allocation import AllocationPolicy
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import purchasing
from tests import shown_places

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class _RolledBack(Exception):
    pass


@dataclass
class Outcome:
    events: list[dict[str, Any]] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    history: list[tuple[Any, ...]] = field(default_factory=list)
    sliced: int = 0  # SKUs re-projected from a slice
    projection: str | None = None  # the SKU's stored projection as the use case left it (`products.eta_projection`)
    origin: int = 0  # what its stored places count from (`products.place_origin`): the rows compared show theirs


class _Capturing(TortoiseUnitOfWork):
    """Commits nothing: at commit it reads what the use case wrote in its transaction, then rolls back."""

    outcome: Outcome | None = None
    sku = ""

    async def commit(self) -> None:
        outcome = _Capturing.outcome
        assert outcome is not None
        outcome.events = [e.to_dict() for e in self._events]
        product = await t.Product.get(sku=self.sku)
        outcome.projection, outcome.origin = product.eta_projection, product.place_origin
        if outcome.projection is not None:  # and true: every stored row follows the recorded steps
            await _holds(self.sku, outcome.projection)
        rows = await shown_places.rows(
            "id", "status", "eta_date", "eta_confidence", "eta_source", "eta_reference", "queue_position",
            "quantity", "allocated_quantity", "promised_date", "version", order=("id",), sku=self.sku)
        outcome.rows = [tuple(r.values()) for r in rows]
        outcome.history = sorted(tuple(map(str, r.values())) for r in await t.BackorderHistory.filter(
            backorder_id__in=[r["id"] for r in rows]).values(
            "backorder_id", "at", "kind", "old_value", "new_value", "cause_data"))
        raise _RolledBack

    async def load_slice(self, inventory: Any, ranges: Any) -> dict[str, int]:
        assert _Capturing.outcome is not None
        _Capturing.outcome.sliced += 1
        return await super().load_slice(inventory, ranges)


async def _change(change: Callable[[], Awaitable[object]], sku: str, slice_from: int) -> Outcome:
    _Capturing.outcome, _Capturing.sku = Outcome(), sku
    with mock.patch.object(purchasing, "SLICE_FROM", slice_from):
        try:
            await change()
        except _RolledBack:
            pass
    outcome = _Capturing.outcome
    for event in outcome.events:
        event.pop("purchase_order_id", None)  # a new purchase order's id is drawn afresh each time
    return outcome


@dataclass(frozen=True)
class Scenario:
    fair_share: bool
    lead_time: int
    on_hand: int
    pos: list[tuple[int, int]]  # (days from now, units)
    orders: list[int]  # units per order, one customer each
    dated: list[tuple[int, int]]  # (order index, days after its ETA of its "cancel if not by" date, less one)
    rush: int | None  # an order an agent moves to the front
    received: int  # units of the first PO received before the move
    days_pass: int  # days between the last settle and the move (stored ETAs then stale)
    misplaced: bool  # a waiting backorder's stored queue position is wrong (a settle would correct it)
    change: str  # what happens to a purchase order: "date", "quantity", "both", "cancel" or "create"
    moved: int  # which PO changes
    to_days: int  # its new date (or the new PO's), days from the day of the change
    to_units: int  # its new quantity (or the new PO's)


scenarios = st.builds(
    Scenario,
    fair_share=st.sampled_from([False, False, False, True]),
    lead_time=st.integers(0, 30),
    on_hand=st.integers(0, 3),
    pos=st.lists(st.tuples(st.integers(1, 40), st.integers(1, 6)), min_size=1, max_size=4),
    orders=st.lists(st.integers(1, 3), min_size=1, max_size=10),
    dated=st.lists(st.tuples(st.integers(0, 9), st.integers(1, 50)), max_size=2),
    rush=st.none() | st.integers(0, 9),
    received=st.integers(0, 2),
    days_pass=st.sampled_from([0, 0, 0, 1, 5]),
    misplaced=st.sampled_from([False, False, False, True]),
    change=st.sampled_from(["date", "date", "quantity", "both", "cancel", "create"]),
    moved=st.integers(0, 3),
    to_days=st.integers(0, 60),
    to_units=st.integers(0, 8),
)


async def _shop(desk: BackorderDesk, clock: FixedClock, sku: str, s: Scenario) -> str:
    supplier = await desk.upsert_supplier(None, f"Supplier {sku}", s.lead_time)
    await desk.upsert_product(ProductInput(
        sku=sku, name=sku, price=Decimal("5.00"), supplier_id=supplier.id,
        allocation_policy=AllocationPolicy.FAIR_SHARE if s.fair_share else AllocationPolicy.PRIORITY))
    if s.on_hand:
        await desk.receive_stock(sku, s.on_hand)
    pos = [await desk.create_purchase_order(supplier.id, clock.now().date() + timedelta(days=d),
                                            [LineRequest(sku, units)]) for d, units in s.pos]
    placed = []
    for n, units in enumerate(s.orders):
        clock.advance(timedelta(minutes=1))
        placed.append(await desk.place_order(CustomerDetails(f"c{n}@example.com"), Channel.ONLINE,
                                             [LineRequest(sku, units)]))
    backorders = [p.lines[0].backorder_id for p in placed]
    for index, days in s.dated:
        backorder_id = backorders[index % len(backorders)]
        row = await shown_places.backorder(backorder_id) if backorder_id else None
        if row is not None and row.status in ("WAITING", "PARTIALLY_ALLOCATED"):
            expected = max(row.eta_date or clock.now().date(), clock.now().date())
            await desk.set_backorder_preferences(backorder_id, cancel_if_not_by=expected + timedelta(days=days - 1))
    if s.rush is not None:
        backorder_id = backorders[s.rush % len(backorders)]
        row = await shown_places.backorder(backorder_id) if backorder_id else None
        if row is not None and row.status in ("WAITING", "PARTIALLY_ALLOCATED"):
            await desk.reprioritize_backorder(backorder_id, 5, "a rush", "agent")
    if s.received and len(pos) > 1:
        await desk.receive_purchase_order(pos[0].id, [LineRequest(sku, min(s.received, s.pos[0][1]))])
    clock.advance(timedelta(days=s.days_pass))
    if s.misplaced:
        await t.Backorder.filter(id__in=[b for b in backorders if b]).update(queue_position=99)
    return pos[s.moved % len(pos)].id


def _explore(loop: asyncio.AbstractEventLoop) -> tuple[int, int]:
    """Runs in a thread: hypothesis is synchronous; the database lives on the test's loop."""
    counts = {"examples": 0, "sliced": 0}

    async def one(s: Scenario) -> None:
        counts["examples"] += 1
        sku = f"S{counts['examples']}"
        clock = FixedClock(START)
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock)
        po_id = await _shop(desk, clock, sku, s)
        capturing = BackorderDesk(lambda: _Capturing(InProcessBus()), clock)
        new_date = clock.now().date() + timedelta(days=s.to_days)
        po = await t.PurchaseOrder.get(id=po_id)
        line = await t.PurchaseOrderLine.get(purchase_order_id=po_id, sku=sku)
        changes: dict[str, Callable[[], Awaitable[object]]] = {
            "date": lambda: capturing.update_purchase_order(po_id, new_date),
            "quantity": lambda: capturing.update_purchase_order(
                po_id, quantities=[LineRequest(sku, max(line.received_quantity, s.to_units))]),
            "both": lambda: capturing.update_purchase_order(
                po_id, new_date, [LineRequest(sku, max(line.received_quantity, s.to_units))]),
            "cancel": lambda: capturing.update_purchase_order(po_id, cancel=True),
            "create": lambda: capturing.create_purchase_order(po.supplier_id, new_date,
                                                              [LineRequest(sku, max(1, s.to_units))], "PO-NEW"),
        }
        if s.change != "create" and po.status not in ("OPEN", "PARTIALLY_RECEIVED"):
            return
        if s.change == "date" and po.expected_date == new_date:
            return
        if s.change == "quantity" and line.quantity == max(line.received_quantity, s.to_units):
            return
        sliced = await _change(changes[s.change], sku, slice_from=1)
        whole = await _change(changes[s.change], sku, slice_from=10**9)

        assert whole.sliced == 0
        assert sliced.events == whole.events
        assert sliced.rows == whole.rows
        assert sliced.history == whole.history
        assert sliced.projection == whole.projection  # the premise the next change relies on, recorded alike
        assert sliced.origin == whole.origin  # and the rows' stored places alike, not only the places they show
        moved = [e["backorder_id"] for e in whole.events if e["kind"] == "EtaChanged"]
        assert len(moved) == len(set(moved))  # once per backorder whose date moved
        if s.fair_share:
            assert sliced.sliced == 0  # a shared receipt's ETAs are not a function of the demand ahead
        elif not (s.dated or s.misplaced or s.days_pass) and await t.Backorder.filter(
                sku=sku, status__in=["WAITING", "PARTIALLY_ALLOCATED"]).exists():
            assert sliced.sliced == 1, s  # the stored ETAs are today's: the supply before the change was told right
        counts["sliced"] += sliced.sliced

    # derandomized: the share of examples that take the slice is asserted below, and 40 random draws put it either
    # side of a quarter by chance (10 of 46 in one CI run)
    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(scenarios)
    @example(Scenario(fair_share=False, lead_time=30, on_hand=0, pos=[(5, 4), (9, 4)], orders=[1, 2, 1, 1, 2],
                      dated=[(1, 1)], rush=None, received=0, days_pass=0, misplaced=False,
                      change="date", moved=0, to_days=20, to_units=0))  # a date the move breaks
    @example(Scenario(fair_share=False, lead_time=30, on_hand=0, pos=[(5, 4), (9, 4)], orders=[1, 2, 1, 1, 2],
                      dated=[], rush=None, received=0, days_pass=0, misplaced=True,
                      change="date", moved=0, to_days=20, to_units=0))  # positions a settle would correct
    @example(Scenario(fair_share=False, lead_time=3, on_hand=0, pos=[(5, 4), (9, 4)], orders=[1, 2, 1, 1, 2, 3],
                      dated=[], rush=None, received=0, days_pass=2, misplaced=False,
                      change="date", moved=0, to_days=20, to_units=0))  # two days on: the lead time's ETAs are stale
    @example(Scenario(fair_share=False, lead_time=3, on_hand=0, pos=[(1, 1)], orders=[1, 2, 3], dated=[], rush=None,
                      received=0, days_pass=2, misplaced=False, change="quantity", moved=0, to_days=0,
                      to_units=2))  # stale where the change moves nothing: only the stored projection tells
    @example(Scenario(fair_share=False, lead_time=30, on_hand=0, pos=[(5, 4), (9, 4)], orders=[1, 2, 1, 1, 2, 3],
                      dated=[], rush=None, received=0, days_pass=0, misplaced=False,
                      change="cancel", moved=0, to_days=0, to_units=0))
    @example(Scenario(fair_share=False, lead_time=30, on_hand=0, pos=[(5, 4), (9, 4)], orders=[1, 2, 1, 1, 2, 3],
                      dated=[], rush=None, received=0, days_pass=0, misplaced=False,
                      change="create", moved=0, to_days=7, to_units=3))
    def check(s: Scenario) -> None:
        asyncio.run_coroutine_threadsafe(one(s), loop).result(300)

    check()
    return counts["examples"], counts["sliced"]


async def _holds(sku: str, projection: str) -> None:
    """A recorded projection is what the queue's rows say, read back whole: queue order, places, ETAs, the demand
    index."""
    from domain.store.mapping import eta, stored_projection

    stored = stored_projection(projection)
    assert stored is not None
    steps, origin = stored
    rows = await shown_places.rows(sku=sku, status__in=["WAITING", "PARTIALLY_ALLOCATED", "ALLOCATED"])
    waiting = sorted((r for r in rows if r["quantity"] > r["allocated_quantity"]),
                     key=lambda r: (-r["priority_override"], r["ordered_at"], r["id"]))
    demand = 0
    for place, row in enumerate(waiting, 1):
        demand += row["quantity"] - row["allocated_quantity"]
        assert (row["queue_position"], eta(row), row["demand_to"]) == (place, steps.at(demand), origin + demand)
    assert all(r["queue_position"] is None for r in rows if r["quantity"] == r["allocated_quantity"])


async def test_a_changed_purchase_order_writes_from_a_slice_exactly_what_the_whole_settle_writes(db):
    examples, sliced = await asyncio.to_thread(_explore, asyncio.get_running_loop())
    assert sliced >= examples // 4, (examples, sliced)  # the slice is taken, not only fallen back from


async def test_any_write_to_a_queue_makes_the_database_forget_its_projection(db):
    """The stored projection never outlives a change to its queue, whoever makes it (migration 0018's triggers):
    an insert, a delete, an update of what it is about; a use case writes it back only after its own writes."""
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock)
    supplier = await desk.upsert_supplier(None, "Supplier F", 10)
    await desk.upsert_product(ProductInput(sku="F", name="F", price=Decimal("5.00"), supplier_id=supplier.id))
    await desk.create_purchase_order(supplier.id, START.date() + timedelta(days=5), [LineRequest("F", 3)])
    placed = []
    for n in range(3):
        clock.advance(timedelta(minutes=1))
        placed.append(await desk.place_order(CustomerDetails(f"f{n}@example.com"), Channel.ONLINE,
                                             [LineRequest("F", 2)]))
    backorder_id = placed[1].lines[0].backorder_id

    async def known() -> str | None:
        return (await t.Product.get(sku="F")).eta_projection

    projection = await known()
    assert projection is not None  # kept by each order joining the tail
    await _holds("F", projection)
    writes = [
        lambda: t.Backorder.filter(id=backorder_id).update(eta_date=START.date() + timedelta(days=99)),
        lambda: t.Backorder.filter(id=backorder_id).update(queue_position=7),
        lambda: t.Backorder.filter(id=backorder_id).update(quantity=5),
        lambda: t.Backorder.filter(id=backorder_id).update(priority_override=3),
        lambda: t.Backorder.filter(id=backorder_id).update(demand_to=1),
        lambda: t.Backorder.filter(id=backorder_id).delete(),
    ]
    for write in writes:
        await desk.reprioritize_backorder(placed[2].lines[0].backorder_id, 0, "settle it", "agent")
        assert await known() is not None
        await write()
        assert await known() is None
    # what the projection is not about leaves it: a customer's date (re-read with every slice) or a reason
    await desk.reprioritize_backorder(placed[2].lines[0].backorder_id, 0, "settle it", "agent")
    await t.Backorder.filter(id=placed[2].lines[0].backorder_id).update(
        cancel_if_not_by=START.date() + timedelta(days=90), priority_reason="asked nicely")
    assert await known() is not None
