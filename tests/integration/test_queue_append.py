"""Orders join a long queue from its summary (products.waiting_count/waiting_units and the queue's two ends),
on SQLite and PostgreSQL: the summary the store keeps always equals the queue, and what an append wrote is
what settling the whole queue would have written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.bus import InProcessBus
from domain.causes import Cause, CauseKind
from domain.clock import FixedClock
from domain.services import BackorderDesk
from domain.store import models as t
from domain.store.uow import WAITING, TortoiseUnitOfWork
from tests.integration.support import LAMP, lamp_shop, order


class _Recording(TortoiseUnitOfWork):
    appended: list[str] = []

    async def _load_for_append(self, skus: list[str], now: datetime) -> list[str]:
        whole = await super()._load_for_append(skus, now)
        self.appended.extend(sku for sku in skus if sku not in whole)
        return whole


async def _summary_is_the_queue() -> None:
    product = await t.Product.get(sku=LAMP)
    waiting = await t.Backorder.filter(sku=LAMP, status__in=WAITING).values("quantity", "allocated_quantity")
    assert (product.waiting_count, product.waiting_units) == (
        len(waiting), sum(w["quantity"] - w["allocated_quantity"] for w in waiting))


async def _whole_queue_settle_changes_nothing(desk: BackorderDesk) -> None:
    async with TortoiseUnitOfWork() as uow:
        inventory = await uow.inventory(LAMP)
        inventory.settle(desk.clock.now(), Cause(kind=CauseKind.ETA_OVERDUE))
        assert not inventory.touched and not inventory.events, [e.kind for e in inventory.events]


async def test_orders_join_the_tail_from_the_summary_and_write_what_a_whole_settle_would(db: str):
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    _Recording.appended = []
    desk = BackorderDesk(lambda: _Recording(InProcessBus()), clock)
    await lamp_shop(desk)  # 3 on hand, 4 coming on 11 March, 14 days' lead time beyond
    placed = []
    for n in range(8):
        clock.advance(timedelta(minutes=1))
        placed.append(await order(desk, f"c{n}@example.com", 2))
        await _summary_is_the_queue()
        await _whole_queue_settle_changes_nothing(desk)
    assert _Recording.appended.count(LAMP) >= 6, _Recording.appended  # all but the first few joined the tail

    # the queue changes under other use cases, and a day passes: the summary follows, appends stay exact
    clock.advance(timedelta(minutes=1))
    assert placed[1].lines[0].backorder_id and placed[4].lines[0].backorder_id
    await desk.cancel_backorder(placed[1].lines[0].backorder_id, 1)
    await desk.reprioritize_backorder(placed[4].lines[0].backorder_id, -1, "can wait", "agent")
    await desk.receive_stock(LAMP, 3)
    await desk.folded()  # a range recorded (the ledger on, BACKORDER_TEST_LEDGER=forced) is in the rows once folded
    await _summary_is_the_queue()
    clock.advance(timedelta(days=1))
    before = len(_Recording.appended)
    for n in range(3):
        clock.advance(timedelta(minutes=1))
        await order(desk, f"late{n}@example.com", 1)
        await _summary_is_the_queue()
        await _whole_queue_settle_changes_nothing(desk)
    assert len(_Recording.appended) == before  # an agent put the tail behind any newcomer: loaded whole
