"""The fold of a receipt's range interleaved with the SKU's writers on PostgreSQL, each its own transaction on its own
pooled connection (issue 15, step 2): orders joining behind the range, stock adjustments and cancels behind it (which
leave it pending), receipts (which fold it first), while the fold commits a few backorders a transaction. Afterwards
the books balance to the unit, read with plain SQL: no unit oversold (allocated never above on hand, no backorder
holding more than it owes), none lost (what is on hand is allocated to someone or free, every allocated unit held by
exactly one order line or backorder and reserved once), first come first served, and no unit idle while anyone waits.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import pytest

from domain.bus import InProcessBus
from domain.errors import DomainError
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="concurrent transactions need PostgreSQL")

SKU = "FOLDHOT"
POOL = 12


@pytest.fixture
async def sql(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    yield connection
    await connection.close()


async def test_the_fold_and_the_skus_writers_interleaved_oversell_nothing_and_lose_nothing(
        db_url: str, sql: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)
    rng = random.Random(15)
    on_hand = 0
    async with open_database(f"{db_url}?minsize=1&maxsize={POOL}", apply_migrations=False):
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), fold_in_background=False)
        await desk.upsert_product(ProductInput(sku=SKU, name=SKU, price=Decimal("9.00")))
        # given 60 waiting backorders of 1-2 units, and a receipt whose range (most of them) is left pending
        ids = []
        for n in range(60):
            order = await desk.place_order(CustomerDetails(f"c{n % 7}@example.com"), Channel.ONLINE,
                                           [LineRequest(SKU, 1 + n % 2)])
            ids.append(order.lines[0].backorder_id)
        await desk.receive_stock(SKU, 70)
        on_hand += 70
        assert await sql.fetchval("SELECT SUM(served_count - folded_count) FROM queue_serves WHERE sku = $1", SKU)
        adjusted: list[int] = []

        async def fold() -> None:  # the background fold, three backorders a transaction
            await shared.fold_pending_serves(desk._deps, [SKU], chunk=3)

        async def order(n: int) -> None:
            await desk.place_order(CustomerDetails(f"new{n}@example.com"), Channel.ONLINE,
                                   [LineRequest(SKU, 1 + n % 3)])

        async def adjust(delta: int) -> None:
            try:
                await desk.adjust_stock(SKU, delta, "count")
            except DomainError:  # below what is allocated: refused, nothing changed
                return
            adjusted.append(delta)

        async def cancel(backorder_id: str) -> None:
            try:
                await desk.cancel_backorder(backorder_id, by="customer")
            except DomainError:  # allocated or closed meanwhile
                return

        async def receive(units: int) -> None:
            await desk.receive_stock(SKU, units)

        # when the fold runs while orders, adjustments, cancels (of the queue's tail: behind the range) and receipts
        # for the SKU come at once
        calls = [fold(), fold(), *(order(n) for n in range(8)), *(adjust(d) for d in (2, 1, -1, 3, -2)),
                 *(cancel(b) for b in ids[-6:]), receive(4), receive(2)]
        rng.shuffle(calls)
        await asyncio.gather(*calls)
        on_hand += 6
        await desk.fold_pending_serves()
    # then nothing is pending, and the books balance
    assert not await sql.fetchval("SELECT COALESCE(SUM(served_count - folded_count), 0) FROM queue_serves")
    stock = await sql.fetchrow("SELECT SUM(on_hand) AS on_hand, SUM(allocated) AS allocated FROM stock_levels "
                               "WHERE sku = $1", SKU)
    assert stock["on_hand"] == on_hand + sum(adjusted)
    assert 0 <= stock["allocated"] <= stock["on_hand"], dict(stock)
    held = await sql.fetchrow(
        "SELECT SUM(held) AS held, SUM(reserved) AS reserved FROM ("
        "  SELECT allocated_quantity - shipped_quantity AS held, (SELECT COALESCE(SUM(value::int), 0) "
        "  FROM jsonb_each_text(reserved)) AS reserved FROM order_lines WHERE sku = $1"
        "  UNION ALL SELECT allocated_quantity - shipped_quantity, (SELECT COALESCE(SUM(value::int), 0) "
        "  FROM jsonb_each_text(reserved)) FROM backorders WHERE sku = $1) AS h", SKU)
    assert stock["allocated"] == held["held"] == held["reserved"], (dict(stock), dict(held))
    bad = await sql.fetch(
        "SELECT id FROM backorders WHERE sku = $1 AND NOT (allocated_quantity <= quantity AND "
        "quantity + cancelled_quantity + substituted_quantity = original_quantity)", SKU)
    assert not bad
    queue = await sql.fetch(
        "SELECT id, quantity - allocated_quantity AS waiting, allocated_quantity FROM backorders_placed "
        "WHERE sku = $1 AND quantity > 0 ORDER BY priority_override DESC, ordered_at, id COLLATE \"C\"", SKU)
    first_waiting = next((i for i, b in enumerate(queue) if b["waiting"] > 0), None)
    if first_waiting is not None:
        assert not [b["id"] for b in queue[first_waiting + 1:] if b["allocated_quantity"] > 0], "served out of turn"
        assert stock["on_hand"] == stock["allocated"], "units idle while backorders wait"
