"""A receipt at the head of a long queue that records what it serves whole as a range re-projects the rest of the queue
as a slice (`shared._rest_by_slice`, issue 15 step 6 (b)): with the SKU's projection kept, only the backorders where
the old steps shifted by the units served and the new steps differ, the one reached in part and the dated ones are
read and written, the places behind the range moved by the SKU's origin. Whatever the queue (units, agents'
priorities, partly served backorders, "cancel if not by" dates, a pre-order released the day of the receipt, a
purchase order on its way, stock at another location, units received as stock or on a purchase order) and whatever
follows the receipt, it leaves what loading and settling the whole rest leaves (`shared.REST_BY_SLICE` off): the
rows as shown, history, events, stock and counts (tests/outcome.py `sku_outcome`), and the projection, origins and
demand index both when the receipt committed and once its range is folded (`sku_projection`). And such a receipt
does not read the rest: a receipt of 3 units on a 40-backorder queue reads no backorder row behind its range. SQLite
and, with BACKORDER_TEST_POSTGRES_URL, PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import SkuInventory
from domain.services import BackorderDesk
from domain.store import mapping
from domain.store import models as t
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from tests.integration import test_receipt_at_head as harness
from tests.integration.test_receipt_at_head import START, _scenario, queues
from tests.outcome import sku_projection

pytestmark = pytest.mark.db

_skus = itertools.count()
_SHARED = ("SERVE_HEAD_FROM", "LEDGER_FROM", "STAGE_CHUNK", "STAGE_ON_EVERY_STORE", "REST_BY_SLICE", "FOLD_CHUNK")


async def _both_ways(desk: BackorderDesk, bus: InProcessBus, clock: FixedClock, queue: list[Any], first: int,
                     received: int, inbound: int, elsewhere: bool, by_po: bool, then: str, release: bool,
                     seen: Counter[str]) -> None:
    n = next(_skus)
    ledger_desk = BackorderDesk(desk._uow, clock, fold_in_background=then == "background")
    # the head served from its rows, what it serves whole recorded as a range, in one transaction
    shared.SERVE_HEAD_FROM, shared.LEDGER_FROM, shared.STAGE_CHUNK = 0, 1, 10**9
    shared.REST_BY_SLICE = False  # the rest loaded and settled whole
    whole = await _scenario(ledger_desk, bus, clock, f"RESTWHOLE{n}", queue, first, received, inbound, elsewhere,
                            by_po, then, release)
    whole_kept = await sku_projection(f"RESTWHOLE{n}")
    shared.REST_BY_SLICE = True  # the rest as a slice, whenever the receipt allows it
    before = seen["sliced"]
    sliced = await _scenario(ledger_desk, bus, clock, f"RESTSLICE{n}", queue, first, received, inbound, elsewhere,
                             by_po, then, release)
    for key in whole:
        assert sliced[key] == whole[key], key
    assert harness.kept_at_receipt[f"RESTSLICE{n}"] == harness.kept_at_receipt[f"RESTWHOLE{n}"], "at the receipt"
    assert await sku_projection(f"RESTSLICE{n}") == whole_kept, "folded"
    if seen["sliced"] > before and harness.pending[f"RESTSLICE{n}"]:
        seen["sliced, range pending"] += 1
        seen["kept"] += '"eta_projection": null' not in harness.kept_at_receipt[f"RESTSLICE{n}"]


def _explore(loop: asyncio.AbstractEventLoop, desk: BackorderDesk, bus: InProcessBus, clock: FixedClock,
             seen: Counter[str]) -> None:
    """Runs in a thread: hypothesis is synchronous; the database lives on the test's loop."""

    @settings(max_examples=30, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(queues, st.integers(0, 6), st.integers(1, 30), st.sampled_from([0, 5, 40, 40]), st.booleans(),
           st.booleans(), st.sampled_from(["fold", "background", "order", "cancel", *harness.BEHIND]),
           st.sampled_from([False, False, True]))
    # a purchase order covering the queue: the rest's ETAs do not move, the slice is the one reached in part
    @example(queue=[(1, 0, "a", None), (3, 0, "b", None), (2, 0, "c", None), (1, 7, "a", None)], first=1,
             received=3, inbound=40, elsewhere=False, by_po=False, then="fold", release=False)
    # the one reached in part takes 1 of the 2 units: the backorder at demand 4 behind it moves onto the purchase
    # order of 5 (the slice is where the old steps shifted by both units and the new ones differ)
    @example(queue=[(1, 0, "a", None), (3, 0, "b", None), (2, 0, "c", None), (2, 0, "a", None), (2, 0, "b", None)],
             first=0, received=2, inbound=5, elsewhere=False, by_po=False, then="fold", release=False)
    # the units end at a backorder's end, a dated one behind (kept, or cancelled by the new ETAs: the whole rest)
    @example(queue=[(2, 0, "a", None), (1, 0, "b", 12), (2, 0, "c", 8), (1, 0, "a", None)], first=0, received=2,
             inbound=5, elsewhere=False, by_po=False, then="order", release=False)
    # a dated one behind that the receipt's day cancels (its date the lead time's end when it was set, a day
    # before): the slice is given up and the whole rest loaded and settled after all
    @example(queue=[(1, 0, "a", None), (2, 0, "b", None), (1, 0, "c", 10), (2, 0, "a", None)], first=0,
             received=2, inbound=0, elsewhere=False, by_po=False, then="fold", release=False)
    def check(queue: list[Any], first: int, received: int, inbound: int, elsewhere: bool, by_po: bool,
              then: str, release: bool) -> None:
        asyncio.run_coroutine_threadsafe(
            _both_ways(desk, bus, clock, queue, first, received, inbound, elsewhere, by_po, then, release, seen),
            loop).result(300)

    check()


def _counting_slices(monkeypatch: pytest.MonkeyPatch, seen: Counter[str]) -> None:
    rest_by_slice = TortoiseUnitOfWork.rest_by_slice

    async def counted(self: TortoiseUnitOfWork, *args: Any) -> Any:
        found = await rest_by_slice(self, *args)
        seen["sliced" if found is not None else "not sliced"] += 1
        return found

    monkeypatch.setattr(TortoiseUnitOfWork, "rest_by_slice", counted)
    reproject_slice = SkuInventory.reproject_slice

    def given_up(self: SkuInventory, *args: Any) -> bool:
        done = reproject_slice(self, *args)
        seen["reprojected" if done else "given up after the slice"] += 1
        return done

    monkeypatch.setattr(SkuInventory, "reproject_slice", given_up)


async def test_the_rest_as_a_slice_leaves_what_settling_the_whole_rest_leaves(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _SHARED:
        monkeypatch.setattr(shared, name, getattr(shared, name))  # restored afterwards
    shared.STAGE_ON_EVERY_STORE = False
    shared.FOLD_CHUNK = 2  # a range folded in several transactions
    seen: Counter[str] = Counter()
    _counting_slices(monkeypatch, seen)
    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock)
    await asyncio.to_thread(_explore, asyncio.get_running_loop(), desk, bus, clock, seen)
    # the slice taken, with its range still pending at the receipt's commit and the projection kept; and given up
    assert seen["sliced, range pending"] and seen["kept"], seen
    # and not: the store could not (no projection kept), or a dated one cancelled (the whole rest after the slice)
    assert seen["not sliced"] and seen["given up after the slice"], seen


async def _rows_a_receipt_reads(desk: BackorderDesk, monkeypatch: pytest.MonkeyPatch, sku: str, units: int) -> int:
    """The backorder rows read into Python (`mapping.backorder_row`) while `units` are received for `sku`."""
    read = 0
    backorder_row = mapping.backorder_row

    def counted(raw: Any) -> Any:
        nonlocal read
        if raw.get("sku") == sku:
            read += 1
        return backorder_row(raw)

    with monkeypatch.context() as patched:
        patched.setattr(mapping, "backorder_row", counted)
        await desk.receive_stock(sku, units)
    return read


async def test_a_partial_receipt_at_the_head_does_not_read_the_rest(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _SHARED:
        monkeypatch.setattr(shared, name, getattr(shared, name))  # restored afterwards
    shared.STAGE_ON_EVERY_STORE = False
    seen: Counter[str] = Counter()
    _counting_slices(monkeypatch, seen)
    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock, fold_in_background=False)
    read: dict[bool, int] = {}
    for by_slice in (True, False):
        sku = f"RESTREAD{by_slice}"
        shared.SERVE_HEAD_FROM, shared.LEDGER_FROM, shared.STAGE_CHUNK = 10**9, 10**9, 10**9
        # 40 one-unit backorders, a purchase order of 40 on its way; one unit received and its range folded
        await _scenario(desk, bus, clock, sku, [(1, 0, "a", None)] * 40, 0, 1, 40, False, False)
        assert (await t.Product.get(sku=sku)).eta_projection is not None, "the queue's projection kept"
        shared.SERVE_HEAD_FROM, shared.LEDGER_FROM, shared.REST_BY_SLICE = 0, 1, by_slice
        read[by_slice] = await _rows_a_receipt_reads(desk, monkeypatch, sku, 3)  # 3 served whole, 36 behind
        assert await t.QueueServe.filter(sku=sku, served_count=3, folded_count=0).count() == 1
        await desk.fold_pending_serves()
    assert seen["sliced"] == 1, seen
    # the whole rest: 36 rows; the slice: none (their ETAs are the purchase order's before and after)
    assert read == {True: 0, False: 36}, read


async def test_a_short_range_before_a_long_rest_is_recorded(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A receipt that serves fewer than LEDGER_FROM whole from the head of a queue with LEDGER_FROM or more behind
    them (the projection kept) records its range all the same, so the rest is re-projected as a slice: writing the
    rows would load and settle the whole rest (2.8 s for a receipt of 100 on a 100k queue on PostgreSQL). Where fewer
    than LEDGER_FROM wait behind, it writes its rows as before."""
    for name in _SHARED:
        monkeypatch.setattr(shared, name, getattr(shared, name))  # restored afterwards
    shared.STAGE_ON_EVERY_STORE = False
    seen: Counter[str] = Counter()
    _counting_slices(monkeypatch, seen)
    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock, fold_in_background=False)
    read: dict[int, int] = {}
    for ledger_from in (10, 37):  # 3 served whole, 36 behind: recorded at 10, not at 37
        sku = f"LONGREST{ledger_from}"
        shared.SERVE_HEAD_FROM, shared.LEDGER_FROM, shared.STAGE_CHUNK = 10**9, 10**9, 10**9
        await _scenario(desk, bus, clock, sku, [(1, 0, "a", None)] * 40, 0, 1, 40, False, False)
        assert (await t.Product.get(sku=sku)).eta_projection is not None, "the queue's projection kept"
        shared.SERVE_HEAD_FROM, shared.LEDGER_FROM = 0, ledger_from
        read[ledger_from] = await _rows_a_receipt_reads(desk, monkeypatch, sku, 3)
        recorded = await t.QueueServe.filter(sku=sku, served_count=3, folded_count=0).count()
        assert recorded == (ledger_from == 10), (ledger_from, recorded)
        await desk.fold_pending_serves()
    assert seen["sliced"] == 1, seen
    assert read == {10: 0, 37: 36}, read
