"""A receipt at the head of a long first-come-first-served queue finds the backorders its units reach by the SKU's
demand index when its projection is kept (issue 15, bench/README.md "Next session, in order" step 5): one probe of
`(sku, demand_to)` for the first backorder past the SKU's origin plus the units, then the index range up to it, in
place of a running sum over the whole queue. Whatever the queue (units each waits for, agents' priorities, partly
served backorders, customers' "cancel if not by" dates, a purchase order on its way, earlier receipts) and whatever
the units (none of the queue, part of one backorder, exactly up to one's end, all of it and more), the probe reads
the same rows, in the same order, and the same count as the running sum; and the receipt as `serve` runs it on
PostgreSQL (not staged: there the head is read by `waiting_head` whole) leaves the same rows, history and events
either way. SQLite and, with BACKORDER_TEST_POSTGRES_URL, PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tortoise import connections

from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import BackorderPolicy, Channel
from domain.model.inventory import SkuInventory
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from tests.integration.test_receipt_at_head import START, _scenario, queues

pytestmark = pytest.mark.db

_skus = itertools.count()


async def _same_range(desk: BackorderDesk, bus: InProcessBus, clock: FixedClock, queue: list[Any], first: int,
                      inbound: int, extra: list[int], seen: Counter[str]) -> None:
    sku = f"RANGE{next(_skus)}"
    shared.SERVE_HEAD_FROM, shared.STAGE_CHUNK = 10**9, 10**9  # the queue built and first served as the domain does
    # the queue as the desk leaves it (its projection kept, or not), nothing received at the end (`received` 0 is
    # refused: the last receipt's units come after the comparison instead)
    await _scenario(desk, bus, clock, sku, queue, first, 1, inbound, False, False)
    async with TortoiseUnitOfWork(bus) as uow:  # rolled back: nothing written
        await uow.lock_skus([sku])
        head = await uow.queue_head(sku, 0)
        assert head is not None
        if head.stored_steps is None or head.stored_origin is None:
            seen["projection not kept"] += 1
            return
        units_waiting = head.ahead.waiting_units if head.ahead else 0
        # every way units can end: before the first, inside one, at one's end exactly, past the queue's end
        ends = sorted({1, 2, units_waiting, units_waiting + 1, units_waiting + 5, *extra})
        for units in ends:
            by_sum = await uow.waiting_head(sku, units)
            by_demand = await uow.waiting_head(sku, units, origin=head.stored_origin)
            assert by_demand == by_sum, (units, head.stored_origin)
            seen["compared"] += 1
            seen["reached none" if not by_sum[0] else "reached all" if units >= units_waiting else "reached part"] += 1


def _explore(loop: asyncio.AbstractEventLoop, desk: BackorderDesk, bus: InProcessBus, clock: FixedClock,
             seen: Counter[str]) -> None:
    """Runs in a thread: hypothesis is synchronous; the database lives on the test's loop."""

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(queues, st.integers(0, 6), st.sampled_from([0, 0, 5, 40]), st.lists(st.integers(1, 40), max_size=4))
    @example(queue=[(3, 0, "a", None), (1, 7, "b", None), (2, 0, "c", None)], first=2, inbound=0, extra=[3, 4])
    def check(queue: list[Any], first: int, inbound: int, extra: list[int]) -> None:
        asyncio.run_coroutine_threadsafe(_same_range(desk, bus, clock, queue, first, inbound, extra, seen),
                                         loop).result(300)

    check()


async def test_the_demand_index_finds_the_range_the_running_sum_finds(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", shared.SERVE_HEAD_FROM)  # restored afterwards
    monkeypatch.setattr(shared, "STAGE_CHUNK", shared.STAGE_CHUNK)
    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock)
    seen: Counter[str] = Counter()
    await asyncio.to_thread(_explore, asyncio.get_running_loop(), desk, bus, clock, seen)
    # the property was put to the probe, over every kind of end (not only queues whose projection was forgotten)
    assert seen["compared"] >= 100 and seen["reached none"] and seen["reached part"] and seen["reached all"], seen


async def _receipt(desk: BackorderDesk, bus: InProcessBus, clock: FixedClock, queue: list[Any], first: int,
                   received: int, inbound: int, by_demand: bool) -> dict[str, Any]:
    """`_scenario` with its receipts (the first, `first`, and the last, `received`) served at the head, the range
    found by the demand index where the projection is kept (`by_demand`) or always by the running sum; the queue
    built by the domain's path."""
    shared.SERVE_HEAD_FROM, shared.STAGE_CHUNK = 10**9, 10**9
    real_receive = desk.receive_stock

    async def at_head(*args: Any, **kwargs: Any) -> Any:
        shared.SERVE_HEAD_FROM, shared.RANGE_BY_DEMAND = 0, by_demand
        try:
            return await real_receive(*args, **kwargs)
        finally:
            shared.SERVE_HEAD_FROM, shared.RANGE_BY_DEMAND = 10**9, True

    desk.receive_stock = at_head  # type: ignore[method-assign]
    try:
        sku = f"{'DEMAND' if by_demand else 'SUM'}{next(_skus)}"
        return await _scenario(desk, bus, clock, sku, queue, first, received, inbound, False, False)
    finally:
        del desk.receive_stock


def _explore_receipts(loop: asyncio.AbstractEventLoop, desk: BackorderDesk, bus: InProcessBus,
                      clock: FixedClock) -> None:
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(queues, st.integers(0, 6), st.integers(1, 30), st.sampled_from([0, 0, 5, 40]))
    def check(queue: list[Any], first: int, received: int, inbound: int) -> None:
        async def both() -> None:
            by_sum = await _receipt(desk, bus, clock, queue, first, received, inbound, False)
            by_demand = await _receipt(desk, bus, clock, queue, first, received, inbound, True)
            for key in by_sum:
                assert by_demand[key] == by_sum[key], key
        asyncio.run_coroutine_threadsafe(both(), loop).result(300)

    check()


async def test_a_receipt_whose_range_the_demand_index_finds_leaves_what_the_running_sum_leaves(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SERVE_HEAD_FROM", "STAGE_CHUNK", "STAGE_ON_EVERY_STORE", "RANGE_BY_DEMAND", "LEDGER_FROM"):
        monkeypatch.setattr(shared, name, getattr(shared, name))  # restored afterwards
    shared.STAGE_ON_EVERY_STORE = False  # as `serve` runs: on PostgreSQL the head is read whole, not staged
    probes: list[int] = []
    reached = TortoiseUnitOfWork._reached_by_demand

    async def counted(self: TortoiseUnitOfWork, *args: Any) -> Any:
        probes.append(1)
        return await reached(self, *args)

    monkeypatch.setattr(TortoiseUnitOfWork, "_reached_by_demand", counted)
    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock)
    await asyncio.to_thread(_explore_receipts, asyncio.get_running_loop(), desk, bus, clock)
    if connections.get("default").capabilities.dialect == "sqlite":
        assert not probes  # SQLite: a receipt is read a chunk at a time by index (`_next_in_line`), never summed
    else:
        assert probes  # PostgreSQL: the receipts went by the probe


async def _projection(sku: str) -> str | None:
    row = await t.Product.get(sku=sku).values("eta_projection")
    return row["eta_projection"].replace(sku, "SKU") if row["eta_projection"] else None


def _explore_projections(loop: asyncio.AbstractEventLoop, desk: BackorderDesk, bus: InProcessBus, clock: FixedClock,
                         seen: Counter[str]) -> None:
    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(queues, st.integers(0, 6), st.integers(1, 30), st.sampled_from([0, 0, 5, 40]), st.booleans())
    def check(queue: list[Any], first: int, received: int, inbound: int, by_po: bool) -> None:
        async def both() -> None:
            n = next(_skus)
            shared.SERVE_HEAD_FROM = 10**9  # the domain's path: the whole queue settled and checked
            whole = await _scenario(desk, bus, clock, f"WHOLE{n}", queue, first, received, inbound, False, by_po)
            shared.SERVE_HEAD_FROM = 0  # each receipt at the head, its rest settled and checked
            head = await _scenario(desk, bus, clock, f"HEAD{n}", queue, first, received, inbound, False, by_po)
            assert head == whole
            kept, expected = await _projection(f"HEAD{n}"), await _projection(f"WHOLE{n}")
            assert kept is None or kept == expected, (kept, expected)
            seen["kept" if kept is not None else "forgotten" if expected is not None else "neither"] += 1
        asyncio.run_coroutine_threadsafe(both(), loop).result(300)

    check()


async def test_a_receipt_at_the_head_keeps_the_projection_the_whole_settle_keeps(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a receipt at the head the SKU's projection (its steps and demand origin) is still known when it was
    known before: the next receipt finds its range by the demand index again, the next purchase order change
    re-projects a slice. What it records is what settling the whole queue records."""
    for name in ("SERVE_HEAD_FROM", "STAGE_CHUNK", "STAGE_ON_EVERY_STORE"):
        monkeypatch.setattr(shared, name, getattr(shared, name))  # restored afterwards
    shared.STAGE_ON_EVERY_STORE, shared.STAGE_CHUNK = False, 10**9  # one transaction, as PostgreSQL's `serve` runs
    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock)
    seen: Counter[str] = Counter()
    await asyncio.to_thread(_explore_projections, asyncio.get_running_loop(), desk, bus, clock, seen)
    assert seen["kept"] >= 5, seen


async def _preorder_released(sku: str, head_path: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A pre-order's queue: units set aside before its release date (their ETA the release date), then, released, a
    receipt at the head (or through the whole settle), then a purchase order change. The first backorder as each
    step leaves it (after the receipt, after a second receipt and the purchase order change), the SKU's projection
    as the first receipt left it (None: not kept), and how often the second was served from the head."""
    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock)
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 10**9)
    supplier = await desk.upsert_supplier(None, f"Supplier {sku}", 10)
    release = START.date() + timedelta(days=3)
    await desk.upsert_product(ProductInput(sku=sku, name="Book", price=Decimal("1.00"), supplier_id=supplier.id,
                                           backorder_policy=BackorderPolicy.PREORDER, release_date=release))
    first = None
    for i in range(40):
        clock.advance(timedelta(seconds=1))
        order = await desk.place_order(CustomerDetails(f"c{i}@example.com"), Channel.ONLINE, [LineRequest(sku, 1)])
        first = first or order.lines[0].backorder_id
    await desk.receive_stock(sku, 3)  # before the release: set aside, dated the release (the projection kept)
    clock.set(START + timedelta(days=4))  # released: a backorder allocated now is dated today
    if head_path:
        monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    await desk.receive_stock(sku, 2)
    await desk.folded()  # a range recorded (the ledger on) is in the rows once folded
    kept = (await t.Product.get(sku=sku).values("eta_projection"))["eta_projection"]
    received = await t.Backorder.get(id=first).values("status", "eta_source", "eta_date")
    heads = 0
    if head_path:  # a settle has re-dated the allocated: the next receipt is served from the head again
        def counted(serve: Callable[..., Any]) -> Callable[..., Any]:
            def serving(inventory: SkuInventory, *args: Any, **kwargs: Any) -> Any:
                nonlocal heads
                heads += 1
                return serve(inventory, *args, **kwargs)
            return serving
        # from the head's rows (`serve_head`) or, the ledger on (BACKORDER_TEST_LEDGER=forced), as a recorded range
        for name in ("serve_head", "serve_recorded"):
            monkeypatch.setattr(SkuInventory, name, counted(getattr(SkuInventory, name)))
    await desk.receive_stock(sku, 2)
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 10**9)
    await desk.create_purchase_order(supplier.id, release + timedelta(days=20), [LineRequest(sku, 4)],
                                     number=f"PO-{sku}")
    await desk.folded()
    row = await t.Backorder.get(id=first).values("status", "eta_source", "eta_date")
    return {"kept": kept, "received": received, "first": row, "heads": heads}


async def test_a_head_receipt_after_a_release_dates_the_allocated_as_the_whole_settle(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review of 706dc9d and of stop 27 (finding 2): a pre-order's units set aside before its release carry the
    release date; released, the steps date an allocated backorder today, and only a whole settle rewrites those rows.
    A receipt at the head (which does not load them) left them dated by the release, and kept the projection, so
    the next purchase order change re-projected a slice and the stale date stayed. Now the head path is not taken
    while the stored projection dates the allocated by the release: the whole settle runs once, re-dating them, and
    every step leaves the same rows and projection as the whole path."""
    for name in ("SERVE_HEAD_FROM", "STAGE_CHUNK", "STAGE_ON_EVERY_STORE"):
        monkeypatch.setattr(shared, name, getattr(shared, name))
    shared.STAGE_ON_EVERY_STORE, shared.STAGE_CHUNK = False, 10**9
    whole = await _preorder_released("PREWHOLE", False, monkeypatch)
    head = await _preorder_released("PREHEAD", True, monkeypatch)
    assert head["received"] == whole["received"], "the allocated left dated by the release"
    assert head["first"] == whole["first"]
    assert head["kept"] == whole["kept"]
    assert head["heads"] == 1, "the head path never came back once the allocated were re-dated"
