"""A receipt's range, once folded into its rows, is read back by its own record (issue 15): the fold marks the
history rows it writes with the `queue_serves` id of the range they fold (`cause_data`), and the read-back
(`served_ranges._folded`) finds the range's backorders by it, not by the SKU, time and cause two ranges can share
(one transaction recording a second range of the SKU once it folded the first, e1fbae4). Rows folded before the
fold marked them are still read by time and cause. Runs on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain import events as ev
from domain.bus import InProcessBus
from domain.causes import Actor, Cause, CauseKind
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import mapping
from domain.store import models as t
from domain.store.served_ranges import StoredServedRanges, covered_backorders
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)


async def _two_ranges_one_time(sku: str) -> tuple[list[str], list[ev.QueueServed]]:
    """Four backorders of one unit each for `sku`; two receipts of 2 units at the head in one transaction, at one
    time and for one cause, each recorded as its range (the second once the first is folded), then all folded:
    the backorders in queue order and the two QueueServed the commit told."""
    clock = FixedClock(START)
    bus = InProcessBus()
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock, fold_in_background=False)
    await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
    ids = []
    for n in range(4):
        clock.advance(timedelta(seconds=1))
        order = await desk.place_order(CustomerDetails(f"c{n}@example.com"), Channel.ONLINE, [LineRequest(sku, 1)])
        backorder_id = order.lines[0].backorder_id
        assert backorder_id is not None
        ids.append(backorder_id)
    cause = Cause(kind=CauseKind.STOCK_RECEIVED, actor=Actor.AGENT, quantity=2, reference="MAIN")
    with bus.subscribe() as stream:
        async with TortoiseUnitOfWork(bus) as uow:
            await uow.lock_skus([sku])
            for _ in range(2):
                rest = await shared.receive_at_head(uow, sku, "MAIN", 2, clock.now(), cause, [])
                assert rest is not None
                await shared.save(uow, rest)
            await uow.commit()
        published = [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]
    await desk.fold_pending_serves()
    served = [e for e in published if isinstance(e, ev.QueueServed)]
    assert not await t.QueueServe.filter(sku=sku, folded_count__lt=2).count()
    return ids, served


async def test_two_folded_ranges_of_one_time_and_cause_each_name_their_own_backorders(
        db: Any, ledger_on: None) -> None:
    # given two ranges of one SKU recorded at one time for one cause, both folded
    ids, served = await _two_ranges_one_time("SAMETIME")
    assert len(served) == 2 and served[0].occurred_at == served[1].occurred_at
    assert served[0].cause == served[1].cause and served[0].record_id != served[1].record_id
    # when each is read back
    covered = [[c.id for c in await covered_backorders(s)] for s in served]
    told = [sorted({e.backorder_id for e in await StoredServedRanges().backorder_events(s)}) for s in served]
    # then each names its own two backorders, the first two and the last two of the queue
    assert covered == [ids[:2], ids[2:]]
    assert told == [sorted(ids[:2]), sorted(ids[2:])]


async def test_rows_folded_before_the_fold_named_its_range_are_read_by_time_and_cause(
        db: Any, ledger_on: None) -> None:
    # given two folded ranges of one time and cause whose history does not name the range (as the fold wrote
    # them before it did)
    ids, served = await _two_ranges_one_time("UNNAMED")
    for row in await t.BackorderHistory.filter(backorder_id__in=ids).values("id", "cause_data"):
        data = json.loads(row["cause_data"])
        data.pop(mapping.FOLDED_RANGE, None)
        await t.BackorderHistory.filter(id=row["id"]).update(cause_data=json.dumps(data))
    # when the first is read back, then it names its own backorders, the first folded at that time and cause
    assert [c.id for c in await covered_backorders(served[0])] == ids[:2]
