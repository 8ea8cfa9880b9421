"""A slice of the fold of a recorded range reads the queue-order index for the backorders it folds, not for the whole
queue left (issue 15, "the fold set-based"): on PostgreSQL the slice's ORDER BY named the id in code point order
(`COLLATE "C"`), which the index's id column (the database's collation) cannot give, so every slice read and sorted
every waiting backorder of the agent priority: 100k folded in 200 slices read 10M index entries, and the fold took
14-16 s on a quiet machine. Counted by PostgreSQL for the fold's own transaction (the index's
`pg_stat_get_xact_tuples_returned`), so it holds whatever the machine's load; PostgreSQL only (SQLite's index orders
ids by code point itself). And a range whose backorders tie in order time, folded a slice of two at a time, leaves
what the domain's path leaves (the slice takes the ties of its last order time, then keeps its first by id)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tortoise.expressions import F

from bench.allocation import seed_queue
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store import uow as store
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from tests.outcome import sku_outcome

QUEUE = 3_000
SLICE = 50


@pytest.fixture
def ledger_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)
    monkeypatch.setattr(store, "FOLD_SLICE", SLICE)


async def _index_entries_read(uow: TortoiseUnitOfWork) -> int:
    assert uow.conn is not None
    rows = await uow.conn.execute_query_dict(
        "SELECT pg_stat_get_xact_tuples_returned('backorders_waiting_queue'::regclass) AS n")
    return int(rows[0]["n"])


async def test_a_fold_slice_reads_the_index_entries_it_folds_not_the_queue_left(db: Any, ledger_on: None) -> None:
    if t.Product._meta.db.capabilities.dialect != "postgres":
        pytest.skip("PostgreSQL's plan: SQLite's index gives code point order itself")
    # given a queue of QUEUE one-unit backorders served whole by a receipt recorded as a range, not folded
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC)),
                         fold_in_background=False)
    await desk.upsert_product(ProductInput(sku="SLICED", name="SLICED", price=Decimal("1.00")))
    await seed_queue("SLICED", QUEUE)
    await desk.receive_stock("SLICED", QUEUE)
    assert await t.QueueServe.filter(sku="SLICED", folded_count=0).count() == 1
    async with TortoiseUnitOfWork(InProcessBus()) as uow:
        before = await _index_entries_read(uow)
        # when one slice of it is folded
        left = await uow.fold_serves("SLICED", SLICE)
        # then the queue-order index gave that slice about its own backorders (and the probes' few), not the QUEUE
        # still waiting (the entries of rows folded by committed transactions before it are read once each, dead,
        # by whichever scan meets them first: so the first slice is the one that shows what a slice reads)
        read = await _index_entries_read(uow) - before
        assert left == QUEUE - SLICE
        assert read <= 2 * SLICE, read
        await uow.commit()


COLUMNS = ("quantity", "allocated_quantity", "status", "reserved", "eta_date", "eta_confidence", "eta_source",
           "eta_reference", "queue_position", "allocation_reason", "updated_at", "version")


async def _served(sku: str, ledger: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Eight backorders of `sku` placed at two moments, four at each (ties in order time: their ids, random, decide
    their order), one put first by an agent, then 7 units received: the head served whole by the domain's path, or
    recorded as a range and folded a slice of two (three a transaction) at a time."""
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0 if ledger else 10**9)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1 if ledger else 10**9)
    monkeypatch.setattr(store, "FOLD_SLICE", 2)
    bus = InProcessBus()
    clock = FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock, fold_in_background=False)
    await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("1.00")))
    ids = []
    for n in range(8):
        if n == 4:
            clock.advance(timedelta(seconds=1))
        order = await desk.place_order(CustomerDetails(f"{'abc'[n % 3]}@example.com"), Channel.ONLINE,
                                       [LineRequest(sku, 1)])
        assert order.lines[0].backorder_id is not None
        ids.append(order.lines[0].backorder_id)
    await desk.reprioritize_backorder(ids[6], 3, "test", "agent Sam")
    clock.advance(timedelta(days=1))
    history_before = await t.BackorderHistory.filter(backorder_id__in=ids).count()
    with bus.subscribe() as stream:
        await desk.receive_stock(sku, 7)
        assert await t.QueueServe.filter(sku=sku).count() == (1 if ledger else 0)
        await shared.fold_pending_serves(desk._deps, [sku], chunk=3)
        published = [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]
    assert not await t.QueueServe.filter(sku=sku, folded_count__lt=F("served_count")).count()
    return await sku_outcome(sku, ids, history_before, published, COLUMNS)


async def test_a_range_with_ties_in_order_time_folded_in_slices_leaves_what_the_domains_path_leaves(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # given the same queue twice, with backorders placed at the same moment across the fold's slices
    whole = await _served("TIESWHOLE", False, monkeypatch)
    # when one is served by the domain's path and the other recorded as a range, then folded two a statement
    ledger = await _served("TIESLEDGE", True, monkeypatch)
    # then rows, history, events, stock and counts are alike
    for key in whole:
        assert ledger[key] == whole[key], key
