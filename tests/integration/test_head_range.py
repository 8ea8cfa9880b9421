"""A receipt at the head whose range is recorded finds it without reading the backorders it covers (issue 15): the
store computes the range (`uow.head_range`: how many the units serve whole, what they wait for, their ends' keys,
those that had units already, the one reached in part read whole) by SQL, by the running sum or, with the SKU's
projection kept, by the demand index. `head.serve` over the rows `waiting_head` reads is the reference: whatever the
queue (units each waits for, agents' priorities, partly served backorders, customers' "cancel if not by" dates, a
purchase order on its way) and wherever the units end (before the first's end, inside one, exactly at one's end,
the whole queue and more), `served_whole_by` says yes exactly when `serve` serves some whole, and the record
(`record_range`) and the one reached in part are those `record_serve` and `serve` make from the rows. And such a
receipt reads no covered row: `waiting_head` is not asked, and its events are the range's one `QueueServed` and
the one reached in part's. SQLite and, with BACKORDER_TEST_POSTGRES_URL, PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain import events as ev
from domain.allocation import PriorityPolicy
from domain.bus import InProcessBus
from domain.causes import Cause
from domain.clock import FixedClock
from domain.model import BackorderStatus
from domain.model.head import record_range, record_serve, serve, served_whole_by
from domain.services import BackorderDesk
from domain.store import models as t
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from tests.integration.test_receipt_at_head import START, _scenario, queues

pytestmark = pytest.mark.db

_skus = itertools.count()


async def _same_as_serve(desk: BackorderDesk, bus: InProcessBus, clock: FixedClock, queue: list[Any], first: int,
                         inbound: int, extra: list[int], seen: Counter[str]) -> None:
    sku = f"HRANGE{next(_skus)}"
    shared.SERVE_HEAD_FROM, shared.STAGE_CHUNK = 10**9, 10**9  # the queue built and first served as the domain does
    await _scenario(desk, bus, clock, sku, queue, first, 1, inbound, False, False)
    now, cause = clock.now(), Cause.legacy("received")
    async with TortoiseUnitOfWork(bus) as uow:  # rolled back: nothing written
        await uow.lock_skus([sku])
        head = await uow.queue_head(sku, 0)
        assert head is not None
        everyone, _ = await uow.waiting_head(sku, 10**6)
        ends = list(itertools.accumulate(row.quantity - row.allocated_quantity for row in everyone))
        # every way units can end: inside the first, inside one, exactly at each one's end, past the queue's end
        reaches = sorted({1, 2, *ends, *(end + 1 for end in ends), (ends[-1] if ends else 0) + 5, *extra})
        kept = head.stored_origin if head.stored_steps is not None else None
        for units in reaches:
            rows, waiting = await uow.waiting_head(sku, units)
            served = serve(sku, rows, waiting, units, lambda n: {"MAIN": n}, PriorityPolicy(), now, cause, [])
            whole = [s for s in served if s.status is BackorderStatus.ALLOCATED]
            in_part = [row for row, s in zip(rows, served, strict=True) if s.status is not BackorderStatus.ALLOCATED]
            expected = record_serve(sku, "MAIN", rows, whole, waiting, now, cause)
            for origin in (None, kept) if kept is not None else (None,):
                found = await uow.head_range(sku, units, origin)
                assert found.waiting_count == waiting, (units, origin)
                assert found.reached_in_part == (in_part[0] if in_part else None), (units, origin)
                assert served_whole_by(found, units) is (expected is not None), (units, origin, found)
                if expected is not None:
                    assert record_range(sku, "MAIN", found, now, cause) == expected, (units, origin)
                seen["by demand" if origin is not None else "by sum"] += 1
            seen["none whole" if not whole else "all" if len(rows) == len(everyone) and not in_part
                 else "ends in one" if in_part else "ends at one"] += 1
            seen["had units"] += bool(expected is not None and expected.partly)
            seen["agent priority"] += bool(any(row.priority_override for row in rows))


def _explore(loop: asyncio.AbstractEventLoop, desk: BackorderDesk, bus: InProcessBus, clock: FixedClock,
             seen: Counter[str]) -> None:
    """Runs in a thread: hypothesis is synchronous; the database lives on the test's loop."""

    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(queues, st.integers(0, 6), st.sampled_from([0, 0, 5, 40]), st.lists(st.integers(1, 40), max_size=3))
    # partly served ones inside the range, an agent's priority ahead of earlier orders
    @example(queue=[(3, 0, "a", None), (1, 7, "b", None), (2, 0, "c", None), (4, -2, "a", None)], first=2,
             inbound=0, extra=[])
    def check(queue: list[Any], first: int, inbound: int, extra: list[int]) -> None:
        asyncio.run_coroutine_threadsafe(_same_as_serve(desk, bus, clock, queue, first, inbound, extra, seen),
                                         loop).result(300)

    check()


async def test_the_range_the_store_finds_is_what_serve_decides_for_the_rows(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", shared.SERVE_HEAD_FROM)  # restored afterwards
    monkeypatch.setattr(shared, "STAGE_CHUNK", shared.STAGE_CHUNK)
    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock)
    seen: Counter[str] = Counter()
    await asyncio.to_thread(_explore, asyncio.get_running_loop(), desk, bus, clock, seen)
    # every kind of end was compared, on both ways of finding the range, with partly served and reprioritised ones
    for kind in ("by sum", "by demand", "none whole", "all", "ends in one", "ends at one", "had units",
                 "agent priority"):
        assert seen[kind], seen


async def test_a_recorded_receipt_reads_no_backorder_it_serves_whole(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SERVE_HEAD_FROM", "LEDGER_FROM", "STAGE_CHUNK", "STAGE_ON_EVERY_STORE"):
        monkeypatch.setattr(shared, name, getattr(shared, name))  # restored afterwards
    shared.STAGE_ON_EVERY_STORE = False

    async def never(self: TortoiseUnitOfWork, *args: Any) -> Any:
        raise AssertionError("the covered backorders were read")

    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock, fold_in_background=False)
    sku = "HRANGEREAD"
    await _scenario(desk, bus, clock, sku, [(2, 0, "a", None)] * 8, 0, 1, 0, False, False)  # 15 units still wait
    shared.SERVE_HEAD_FROM, shared.LEDGER_FROM, shared.STAGE_CHUNK = 0, 1, 10**9
    monkeypatch.setattr(TortoiseUnitOfWork, "waiting_head", never)
    clock.advance(timedelta(days=1))
    with bus.subscribe() as stream:
        await desk.receive_stock(sku, 10)  # 1 + 4 backorders whole (the first had 1 of 2 units), the 6th in part
        published = []
        while not stream.queue.empty():
            published.append(stream.queue.get_nowait())
    served = [e for e in ev.expand(published) if isinstance(e, ev.QueueServed)]
    assert [(s.count, s.units, s.partly[0][1] if s.partly else None) for s in served] == [(5, 9, 1)]
    # allocated: the one reached in part alone (those behind the range are settled: their ETAs may move)
    allocated = [e for e in ev.expand(published) if isinstance(e, ev.BackorderAllocated | ev.BackorderStatusChanged)]
    assert await t.QueueServe.filter(sku=sku, served_count=5, served_units=9).count() == 1
    monkeypatch.undo()
    await desk.fold_pending_serves()
    assert await t.Backorder.filter(sku=sku, status="ALLOCATED").count() == 5
    assert {e.backorder_id for e in allocated} == {
        (await t.Backorder.filter(sku=sku, allocated_quantity=1, status="PARTIALLY_ALLOCATED")
         .values_list("id", flat=True))[0]}
