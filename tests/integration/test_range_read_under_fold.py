"""A receipt's range is read back the same whatever a fold in another transaction commits while it is read (issue 15,
the step-4 review's finding 3): the fan-out takes no lock on the SKU, and on PostgreSQL each statement of the read
sees what committed before it (READ COMMITTED). The read once started over when the fold moved under it and gave up
after five tries (`RangeNotFound`, the range left for a later round); it now reads the range's waiting backorders by
its own keys, then its folded ones, and what a chunk committed in between leaves in both is kept once. Here a fold
chunk is committed on another connection after every statement of the read. Runs on SQLite and, with
BACKORDER_TEST_POSTGRES_URL, on PostgreSQL (where it matters: SQLite's one connection has one writer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain import events as ev
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.served_ranges import StoredServedRanges, covered_backorders
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BACKORDERS = 40
CUSTOMERS = ("a@example.com", "b@example.com", "c@example.com")


@pytest.fixture
def ledger_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)


class FoldingBetween:
    """The models' connection, with the next `chunk` backorders of the SKU's range folded and committed in a
    transaction of its own (another connection on PostgreSQL) after each statement read through it: a fold in
    another process making progress while a fan-out reads the range."""

    def __init__(self, sku: str, chunk: int) -> None:
        self.db = t.QueueServe._meta.db
        self.sku, self.chunk = sku, chunk
        self.folded: list[int] = []  # what was left to fold after each chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)

    async def execute_query_dict(self, sql: str, values: list[Any] | None = None) -> list[dict[str, Any]]:
        rows = await self.db.execute_query_dict(sql, values)
        await self._fold()
        return rows

    async def execute_query(self, sql: str, values: list[Any] | None = None) -> tuple[int, Any]:
        rows = await self.db.execute_query(sql, values)
        await self._fold()
        return rows

    @asynccontextmanager
    async def acquire_connection(self) -> AsyncIterator[Any]:
        async with self.db.acquire_connection() as connection:
            yield connection
        await self._fold()

    async def _fold(self) -> None:
        async with TortoiseUnitOfWork(InProcessBus()) as uow:
            left = await uow.fold_serves(self.sku, self.chunk)
            await uow.commit()
        self.folded.append(left)


async def _recorded(sku: str) -> ev.QueueServed:
    """BACKORDERS backorders of three customers, a few of them 2 units, some with an agent's priority (the range
    spans priorities), then a receipt serving them all whole: one range, not folded. Returns its event."""
    clock = FixedClock(START)
    bus = InProcessBus()
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock, fold_in_background=False)
    await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
    units = 0
    for n in range(BACKORDERS):
        clock.advance(timedelta(seconds=1))
        quantity = 2 if n % 7 == 3 else 1
        order = await desk.place_order(CustomerDetails(CUSTOMERS[n % 3]), Channel.ONLINE,
                                       [LineRequest(sku, quantity)])
        units += quantity
        backorder_id = order.lines[0].backorder_id
        assert backorder_id is not None
        if n % 9 == 5:
            await desk.reprioritize_backorder(backorder_id, 1 + n % 2, "VIP", "agent@example.com")
    with bus.subscribe() as stream:
        await desk.receive_stock(sku, units)
        published = [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]
    [served] = [e for e in published if isinstance(e, ev.QueueServed)]
    assert served.count == BACKORDERS
    assert not await t.QueueServe.filter(sku=sku, folded_count__gt=0).count()
    return served


@pytest.mark.parametrize("chunk", [1, 7, BACKORDERS])
async def test_a_range_read_while_a_fold_commits_chunks_between_its_statements_reads_as_before_it(
        db: Any, ledger_on: None, chunk: int) -> None:
    # given a range recorded and not folded, read back while nothing moves
    served = await _recorded("UNDERFOLD")
    quiet = await covered_backorders(served)
    events = await StoredServedRanges().backorder_events(served)
    # when it is read again while a fold commits `chunk` backorders of it after each statement of the read
    folding = FoldingBetween("UNDERFOLD", chunk)
    covered = await covered_backorders(served, folding)  # type: ignore[arg-type]
    # then the fold did move under it, and it read the same backorders as the quiet read, each as it was then
    assert len(folding.folded) >= 2 and folding.folded[0] == BACKORDERS - chunk
    assert covered == quiet
    # and once folded whole, the same events again
    await _fold_all("UNDERFOLD")
    assert await StoredServedRanges().backorder_events(served) == events


async def _fold_all(sku: str) -> None:
    async with TortoiseUnitOfWork(InProcessBus()) as uow:
        await uow.fold_serves(sku, None)
        await uow.commit()
