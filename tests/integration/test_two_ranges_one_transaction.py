"""A SKU has at most one receipt's range pending in a transaction (issue 15): a second receipt at the head of the
same queue in the transaction that recorded the first reads the head only once the first is folded into its rows
(`TortoiseUnitOfWork.queue_head`), and recording a second range while one of the transaction's is still pending is
refused with a typed error, never silently skipped (`record_serve`, `save_served`). Runs on SQLite and, with
BACKORDER_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.bus import InProcessBus
from domain.causes import Actor, Cause, CauseKind
from domain.clock import FixedClock
from domain.errors import Conflict
from domain.model import Channel, ServeRecord
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _queue(desk: BackorderDesk, clock: FixedClock, sku: str) -> list[str]:
    await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
    ids = []
    for n in range(4):
        clock.advance(timedelta(seconds=1))
        order = await desk.place_order(CustomerDetails(f"c{n}@example.com"), Channel.ONLINE, [LineRequest(sku, 1)])
        ids.append(order.lines[0].backorder_id)
    return ids


async def test_two_receipts_at_the_head_in_one_transaction_serve_each_backorder_once(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock, fold_in_background=False)
    ids = await _queue(desk, clock, "TWICE")
    # when two receipts of 2 units each reach the head of the queue in one transaction, each recording its range
    cause = Cause(kind=CauseKind.STOCK_RECEIVED, actor=Actor.AGENT, quantity=2, reference="MAIN")
    async with TortoiseUnitOfWork(InProcessBus()) as uow:
        await uow.lock_skus(["TWICE"])
        for _ in range(2):
            rest = await shared.receive_at_head(uow, "TWICE", "MAIN", 2, clock.now(), cause, [])
            assert rest is not None
            await shared.save(uow, rest)
        await uow.commit()
    await desk.fold_pending_serves()
    # then each of the four is allocated its one unit once, and the stock holds four
    rows = await t.Backorder.filter(sku="TWICE").values_list("id", "status", "allocated_quantity")
    assert sorted((ids.index(i), status, units) for i, status, units in rows) == [
        (n, "ALLOCATED", 1) for n in range(4)]
    assert await t.StockLevel.filter(sku="TWICE").values_list("on_hand", "allocated") == [(4, 4)]
    assert not await t.QueueServe.filter(sku="TWICE", folded_count__lt=2).count()


async def test_a_second_range_recorded_while_the_first_is_pending_is_refused(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock, fold_in_background=False)
    ids = await _queue(desk, clock, "REFUSED")
    rows = await t.Backorder.filter(id__in=ids).values_list("id", "priority_override", "ordered_at")
    last = {i: (p, at) for i, p, at in rows}
    cause = Cause(kind=CauseKind.STOCK_RECEIVED, actor=Actor.AGENT, quantity=2, reference="MAIN")

    def record(through: int) -> ServeRecord:
        priority, at = last[ids[through]]
        return ServeRecord("REFUSED", "MAIN", clock.now(), cause, 4, through + 1, through + 1,
                           (priority, at, ids[through]))

    async with TortoiseUnitOfWork(InProcessBus()) as uow:
        await uow.lock_skus(["REFUSED"])
        await uow.record_serve(record(1))
        with pytest.raises(Conflict):
            await uow.record_serve(record(3))
