"""The concurrent writers of test_concurrency.py on hot SKUs, with every receipt at the head of a queue recording what
it serves whole as a range (`shared.LEDGER_FROM` on, as the service is about to run) and the desk folding them in the
background, a couple of backorders a transaction, racing the writers: between rounds, before anything is folded,
the books balance as a reader sees them (`backorders_now`, the seam's view: each pending range as its fold will
write it), and once every range is folded they balance in the tables too (test_concurrency's `_check_books`).
PostgreSQL only (several connections at once)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import asyncpg
import pytest

from domain.bus import InProcessBus
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from tests.conftest import POSTGRES_URL
from tests.integration import test_concurrency as tc

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="concurrent transactions need PostgreSQL")


@pytest.fixture
async def sql(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of our own, outside tortoise: to read the books."""
    connection = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    yield connection
    await connection.close()


@pytest.fixture
async def ledger_desk(db_url: str, bus: InProcessBus, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BackorderDesk]:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "FOLD_CHUNK", 2)  # a range folded in several transactions, between the writers'
    async with open_database(f"{db_url}?minsize=1&maxsize={tc.POOL}", apply_migrations=False):
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus))
        yield desk
        await desk.folded()


async def _books_as_read(sql: asyncpg.Connection) -> int:
    """The books through the view readers use, ranges pending or not: every allocated unit has one holder, the
    reservations agree, no backorder is out of bounds, and the waiting ones show places 1..n in queue order with no
    unit idle while one waits. Returns the backorders a pending range covers now."""
    pending = await sql.fetchval("SELECT COALESCE(SUM(served_count - folded_count), 0) FROM queue_serves")
    for sku in (tc.HOT, tc.WARM):
        stock = await sql.fetchrow("SELECT SUM(on_hand) AS on_hand, SUM(allocated) AS allocated, "
                                   "SUM(safety_stock) AS safety FROM stock_levels WHERE sku = $1", sku)
        held = await sql.fetchrow(
            "SELECT SUM(held) AS held, SUM(reserved) AS reserved FROM ("
            "  SELECT allocated_quantity - shipped_quantity AS held,"
            "         (SELECT COALESCE(SUM(value::int), 0) FROM jsonb_each_text(reserved)) AS reserved"
            "  FROM order_lines WHERE sku = $1"
            "  UNION ALL"
            "  SELECT allocated_quantity - shipped_quantity,"
            "         (SELECT COALESCE(SUM(value::int), 0) FROM jsonb_each_text(reserved::jsonb))"
            "  FROM backorders_now WHERE sku = $1) AS h", sku)
        assert stock["allocated"] == held["held"] == held["reserved"], (sku, pending, dict(stock), dict(held))
        bad = await sql.fetch(
            "SELECT id FROM backorders_now WHERE sku = $1 AND NOT (0 <= shipped_quantity "
            "AND shipped_quantity <= allocated_quantity AND allocated_quantity <= quantity "
            "AND quantity + cancelled_quantity + substituted_quantity = original_quantity)", sku)
        assert not bad, (sku, pending, bad)
        queue = await sql.fetch(
            "SELECT id, quantity - allocated_quantity AS waiting, allocated_quantity, status, queue_position "
            "FROM backorders_now WHERE sku = $1 AND quantity > 0 ORDER BY priority_override DESC, ordered_at, id", sku)
        places = [b["queue_position"] for b in queue if b["waiting"] > 0]
        assert places == list(range(1, len(places) + 1)), (sku, pending, places)
        assert all(b["queue_position"] is None for b in queue if b["waiting"] == 0), (sku, pending)
        first = next((i for i, b in enumerate(queue) if b["waiting"] > 0), None)
        if first is not None:
            assert not [b for b in queue[first + 1:] if b["allocated_quantity"] > 0], (sku, pending)
            assert stock["on_hand"] - stock["allocated"] - stock["safety"] == 0, (sku, pending, dict(stock))
    return int(pending)


@pytest.mark.parametrize("seed", [20260302, 7, 1515])
async def test_writers_racing_recorded_ranges_and_their_folds_keep_the_books(
        ledger_desk: BackorderDesk, sql: asyncpg.Connection, bus: InProcessBus, seed: int) -> None:
    desk, ledger, rnd = ledger_desk, tc.Ledger(), random.Random(seed)
    po_id = await tc._hot_shop(desk, ledger)
    pending_seen = 0

    async def place(n: int) -> None:
        skus = rnd.sample([tc.HOT, tc.WARM], rnd.choice((1, 1, 2)))
        ledger.orders.append(await desk.place_order(
            CustomerDetails(f"c{n % 17}@example.com"), Channel.ONLINE,
            [LineRequest(sku, rnd.randint(1, 3)) for sku in skus], ship_complete=rnd.random() < 0.2))

    async def receive(sku: str, units: int) -> None:
        await desk.receive_stock(sku, units)
        ledger.received[sku] += units

    async def receive_po(sku: str, units: int) -> None:
        await desk.receive_purchase_order(po_id, [LineRequest(sku, units)])
        ledger.received[sku] += units

    async def checked() -> None:
        nonlocal pending_seen
        pending_seen += await _books_as_read(sql)  # before the folds are through: as a reader sees it
        await desk.folded()
        await desk.fold_pending_serves()
        assert await _books_as_read(sql) == 0
        await tc._check_books(sql, ledger)

    def backorders() -> list[str]:
        return [line.backorder_id for o in ledger.orders for line in o.lines if line.backorder_id]

    await tc._all_at_once(*(place(n) for n in range(30)))
    await checked()
    # receipts record ranges while orders, cancels and the folds race them (no agent priorities: a backorder put
    # first may then wait in front of one allocated before, which the books' first-come check would refuse)
    chosen = rnd.sample(backorders(), 16)
    await tc._all_at_once(
        *(receive(rnd.choice([tc.HOT, tc.WARM]), rnd.randint(1, 4)) for _ in range(8)),
        *(receive_po(tc.HOT, 2) for _ in range(4)),
        *(tc._may_lose_race(desk.cancel_backorder(b, rnd.choice((None, 1)), reason="race"), *tc.GONE)
          for b in chosen[:8]),
        *(place(n) for n in range(30, 42)),
    )
    await checked()
    shipped = rnd.sample([o.id for o in ledger.orders], 10)
    await tc._all_at_once(
        *(receive(rnd.choice([tc.HOT, tc.WARM]), rnd.randint(2, 6)) for _ in range(6)),
        *(tc._may_lose_race(desk.ship_allocated(o), *tc.UNSHIPPABLE) for o in shipped),
        *(tc._may_lose_race(desk.cancel_backorder(b, 1), *tc.GONE) for b in rnd.sample(backorders(), 8)),
        *(place(n) for n in range(42, 50)),
    )
    await checked()
    assert await sql.fetchval("SELECT count(*) FROM queue_serves") > 0  # ranges were recorded

