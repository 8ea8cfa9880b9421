"""A receipt recorded as a range reads the index entries at the range's ends, not those it covers (issue 15: on SQLite
every writer of any SKU waits for the receipt's transaction, which at 100k spent 0.11 s aggregating the range and
filtering it for those with units already, and 48 ms reading past it for the queue behind). With the SKU's
projection kept, `head_range` takes how many and what they wait for from its ends (their places and the demand
index's cumulative value), those with units already by the queue-order index's status, and `_load_behind` reads
only what waits behind. Counted by PostgreSQL for the transaction (each index of `backorders`,
`pg_stat_get_xact_tuples_returned`), so it holds whatever the machine's load; on both dialects, the range found from
its ends is the one the aggregate over it finds, and no aggregate ran."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bench.allocation import seed_queue
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared

pytestmark = pytest.mark.db

QUEUE = 3_000
START = datetime(2026, 3, 2, 9, tzinfo=UTC)


async def _kept_queue(sku: str, partly: bool = False) -> BackorderDesk:
    """QUEUE one-unit backorders of `sku` waiting with the SKU's projection kept (a purchase order settled the queue
    whole); `partly`: beside them a two-unit one given one unit by an earlier receipt."""
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(START), fold_in_background=False)
    await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
    if partly:
        for n in range(3):
            await desk.place_order(CustomerDetails(f"p{n}@example.com"), Channel.ONLINE, [LineRequest(sku, 2)])
        await desk.receive_stock(sku, 5)  # the first two whole, the third one of two
        assert await t.Backorder.filter(sku=sku, status="PARTIALLY_ALLOCATED").count() == 1
    await seed_queue(sku, QUEUE)
    await t.Product.filter(sku=sku).update(waiting_count=QUEUE + partly, waiting_units=QUEUE + partly)
    supplier = await desk.upsert_supplier(None, "Supplier", 14)
    await desk.create_purchase_order(supplier.id, START.date() + timedelta(days=60), [LineRequest(sku, 1)],
                                     number=f"PO-{sku}")
    assert (await t.Product.get(sku=sku)).eta_projection, "the projection is kept"
    return desk


async def _index_entries_read(uow: TortoiseUnitOfWork) -> int:
    assert uow.conn is not None
    rows = await uow.conn.execute_query_dict(
        "SELECT SUM(pg_stat_get_xact_tuples_returned(indexrelid)) AS n FROM pg_index "
        "WHERE indrelid = 'backorders'::regclass")
    return int(rows[0]["n"] or 0)


async def test_a_range_found_by_demand_reads_its_ends_not_what_it_covers(db: Any) -> None:
    if t.Product._meta.db.capabilities.dialect != "postgres":
        pytest.skip("counted by PostgreSQL's statistics")
    # given QUEUE backorders waiting with the SKU's projection kept, and units for all but the last 10 of them
    await _kept_queue("ENDS")
    await t.Product._meta.db.execute_script("ANALYZE")
    async with TortoiseUnitOfWork(InProcessBus()) as uow:
        await uow.lock_skus(["ENDS"])
        head = await uow.queue_head("ENDS", 0)
        assert head is not None and head.stored_steps is not None
        before = await _index_entries_read(uow)
        # when the store finds the range those units serve whole, and loads what waits behind it
        found = await uow.head_range("ENDS", QUEUE - 10, head.stored_origin)
        assert found.last is not None
        await uow._load_behind("ENDS", found.last)
        read = await _index_entries_read(uow) - before
        # then it found QUEUE - 10 served whole from a few dozen index entries (the probes and the 10 behind), where
        # the aggregate over the range read QUEUE of them
        assert (found.count, found.units) == (QUEUE - 10, QUEUE - 10)
        assert read <= 100, read


async def test_the_range_from_its_ends_is_the_range_the_aggregate_finds(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a queue with the projection kept, one of it with one unit of two already
    await _kept_queue("SAME", partly=True)
    statements: list[str] = []
    fetch = TortoiseUnitOfWork._fetch

    async def recorded(self: TortoiseUnitOfWork, sql: str, values: list[Any]) -> Any:
        statements.append(sql)
        return await fetch(self, sql, values)

    monkeypatch.setattr(TortoiseUnitOfWork, "_fetch", recorded)
    async with TortoiseUnitOfWork(InProcessBus()) as uow:
        await uow.lock_skus(["SAME"])
        head = await uow.queue_head("SAME", 0)
        assert head is not None and head.stored_steps is not None
        # when ranges ending before, inside and past the partly served ones, and deep in the queue, are found both
        # by their ends and by the running sum over the queue (the aggregate's reference: test_head_range)
        for units in (1, 2, 3, 100, 2_000, QUEUE - 1, QUEUE, QUEUE + 1, QUEUE + 5, QUEUE + 100):
            statements.clear()
            by_ends = await uow.head_range("SAME", units, head.stored_origin)
            assert not any("COUNT(" in sql for sql in statements), statements  # no aggregate over the range
            by_sum = await uow.head_range("SAME", units, None)
            # then they are the same range: how many, what they wait for, their ends, those with units already and
            # the one reached in part; each waits for at least one unit (the ends' least, a lower bound)
            assert (by_ends.count, by_ends.units, by_ends.first, by_ends.last, by_ends.partly,
                    by_ends.reached_in_part, by_ends.waiting_count) == (
                by_sum.count, by_sum.units, by_sum.first, by_sum.last, by_sum.partly, by_sum.reached_in_part,
                by_sum.waiting_count), units
            assert 0 < by_ends.least <= by_sum.least or by_ends.count == by_sum.count == 0, units
        assert (await uow.head_range("SAME", QUEUE + 5, head.stored_origin)).partly, "one with units was covered"


async def test_a_fold_chunk_lets_the_requests_in_flight_go_first(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between two chunks of a fold, the requests in flight when the next asks for its turn have theirs first
    (`turns.after_requests`), as between a staged receipt's chunks (test_staged_handover): on SQLite every writer
    waits for the chunk that holds the one connection; on PostgreSQL a request's round trips each waited behind the
    chunk's Python for the interpreter's lock."""
    import asyncio
    import contextvars

    from domain.store import turns
    from tests.in_flight import served_order
    from tests.waiting import PATIENCE
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)
    monkeypatch.setattr(turns, "BOUND_SECONDS", PATIENCE)
    # given a receipt recorded as a range of 60, to be folded 10 a transaction, and another SKU on hand
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(START), fold_in_background=False)
    for sku in ("FOLDED", "OTHER"):
        await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
    await desk.receive_stock("OTHER", 10)
    await seed_queue("FOLDED", 60)
    await desk.receive_stock("FOLDED", 60)
    assert await t.QueueServe.filter(sku="FOLDED", folded_count=0).count() == 1
    log: list[str] = []
    in_flight = asyncio.Event()
    orders: list[asyncio.Task[None]] = []

    fold = TortoiseUnitOfWork.fold_serves

    async def logged(self: TortoiseUnitOfWork, sku: str, limit: int | None, **kwargs: Any) -> int:
        left = await fold(self, sku, limit, **kwargs)
        log.append("chunk")
        if len(log) == 1:  # a request comes in while the first chunk holds the connection
            # a request of its own: not in the chunk's transaction's context (PostgreSQL: its pooled connection)
            orders.append(asyncio.create_task(served_order(desk, "OTHER", log, in_flight), context=outside))
            await in_flight.wait()
        return left

    monkeypatch.setattr(TortoiseUnitOfWork, "fold_serves", logged)
    outside = contextvars.copy_context()  # as a request begins: no transaction of the fold's
    # when the range is folded
    await asyncio.wait_for(shared.fold_pending_serves(desk._deps, ["FOLDED"], 10), PATIENCE)
    await asyncio.wait_for(asyncio.gather(*orders), PATIENCE)
    # then the order went in between the first chunk and the second (without the handover the fold took every turn
    # while the request was in its own Python, and the order came after the whole fold)
    assert log == ["chunk", "order", *["chunk"] * 5], log
    assert await t.Backorder.filter(sku="FOLDED", status="ALLOCATED").count() == 60
