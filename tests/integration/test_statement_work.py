"""No read of a long queue's writers does more than linear work in the queue, whatever PostgreSQL's statistics say
(issue 15). A launch product's queue grows after the table was last analysed: its SKU is not in the statistics, so
the planner takes its backorders for one row. Then a receipt at the head without a kept projection, which finds its
range by a running sum over the queue (`uow._range_by_sum`), ran for minutes on a 100k queue: the statement's totals
(an aggregate over the running sum), inlined into a nested loop's inner side, were computed again for each of the
queue's rows. Each read statement of the writers here (a receipt recorded as a range by the running sum and by the
demand index, the fold, an order behind the queue, a cancel in it) is executed under EXPLAIN ANALYZE first, in its
own transaction, and the rows every plan node produced, times its loops, summed: that work must stay within a
constant times the queue. PostgreSQL only (SQLite's planner has no statistics to mislead it here)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg.connection
import pytest

from bench.allocation import seed_queue
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared

QUEUE = 3_000
PER_ROW = 40  # rows produced by all a statement's plan nodes, per backorder of the queue, at most
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def _work(plan: dict[str, Any]) -> int:
    """Rows produced by `plan`'s nodes, and those each read and filtered out, each counted as often as it ran (an
    index scan whose condition is a filter reports only the rows it kept)."""
    rows = int(plan.get("Actual Rows", 0)) + int(plan.get("Rows Removed by Filter", 0)) + \
        int(plan.get("Rows Removed by Index Recheck", 0))
    own = rows * int(plan.get("Actual Loops", 1))
    return own + sum(_work(child) for child in plan.get("Plans", ()))


@contextmanager
def explained(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, str]]]:
    """Every read statement fetched meanwhile explained (ANALYZE: run, its result thrown away) just before it runs,
    on its connection: (work, statement) each."""
    seen: list[tuple[int, str]] = []
    fetch = asyncpg.connection.Connection.fetch

    async def explaining(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if query.lstrip().upper().startswith(("SELECT", "WITH")) and not _WRITES.search(query):
            [row] = await fetch(self, f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", *args)
            plan = row[0] if not isinstance(row[0], str) else json.loads(row[0])
            seen.append((_work(plan[0]["Plan"]), " ".join(query.split())))
        return await fetch(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "fetch", explaining)
    yield seen


async def _launch(desk: BackorderDesk, sku: str) -> None:
    """`sku`'s QUEUE one-unit backorders, bulk-loaded after the table was analysed without them (another product's
    queue in it), the table's automatic analyse off: the planner believes `sku` has about one backorder."""
    conn = t.Backorder._meta.db
    await conn.execute_script('ALTER TABLE "backorders" SET (autovacuum_enabled = false)')
    await desk.upsert_product(ProductInput(sku="OLD", name="OLD", price=Decimal("1.00")))
    await seed_queue("OLD", 500)
    await conn.execute_script('ANALYZE "backorders"')
    await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
    await seed_queue(sku, QUEUE)


@pytest.mark.parametrize("kept", [False, True], ids=["running sum", "demand index"])
async def test_a_long_queues_writers_read_it_in_linear_work_whatever_the_statistics(
        db: Any, monkeypatch: pytest.MonkeyPatch, kept: bool) -> None:
    if t.Product._meta.db.capabilities.dialect != "postgres":
        pytest.skip("PostgreSQL's planner and statistics")
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(now), fold_in_background=False)
    # given a launch product's queue the statistics do not know of
    await _launch(desk, "LAUNCH")
    if kept:  # its projection kept (a purchase order on the way), so a receipt finds its range by the demand index
        supplier = await desk.upsert_supplier(None, "Supplier", 14)
        await desk.create_purchase_order(supplier.id, now.date().replace(month=5), [LineRequest("LAUNCH", 1)])
    with explained(monkeypatch) as seen:
        # when a receipt serves most of it, recorded as a range, and the range is folded into the rows
        await desk.receive_stock("LAUNCH", QUEUE - 100)
        assert await t.QueueServe.filter(sku="LAUNCH").exists()
        await desk.fold_pending_serves()
        # and an order joins the queue, and a customer in it cancels
        order = await desk.place_order(CustomerDetails("late@example.com", "Late"), Channel.ONLINE,
                                       [LineRequest("LAUNCH", 1)])
        waiting = await t.Backorder.filter(sku="LAUNCH", status="WAITING").order_by("ordered_at").values_list(
            "id", flat=True)
        assert waiting and order.lines[0].backorder_id is not None
        await desk.cancel_backorder(waiting[0])
    # then none of their reads did more than linear work in the queue
    assert len(seen) > 20
    worst = max(seen)
    assert worst[0] <= PER_ROW * QUEUE, worst


async def test_an_order_behind_a_long_queue_reads_its_ends_not_the_queue_whatever_the_statistics(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An order joins a long queue's tail from its two ends (`uow._queue_ends`: index probes), however many wait,
    also when the planner takes the SKU for one row: then a probe whose tie-break (ids in code point order) the
    queue-order index did not share sorted the SKU's whole queue (an order behind 100k: 176 ms against 10 ms;
    migration 0031). Every read of the order does a few rows' work, not the queue's."""
    if t.Product._meta.db.capabilities.dialect != "postgres":
        pytest.skip("PostgreSQL's planner and statistics")
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    clock = FixedClock(now.replace(month=4))  # after the seeded queue
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock)
    await _launch(desk, "LAUNCH")
    await desk.place_order(CustomerDetails("first@example.com"), Channel.ONLINE, [LineRequest("LAUNCH", 1)])
    clock.advance(timedelta(seconds=1))
    with explained(monkeypatch) as seen:
        await desk.place_order(CustomerDetails("late@example.com"), Channel.ONLINE, [LineRequest("LAUNCH", 1)])
    assert len(seen) >= 4
    worst = max(seen)
    assert worst[0] <= 50, worst  # the queue: 3,000


async def test_an_order_behind_a_pending_range_reads_past_its_end_not_the_range(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a receipt's recorded range waits to be folded (its backorders still waiting in their rows), an order
    joins the queue behind it from the first backorder past the range's end (`uow._first_after`): an index probe
    bounded by the range's last key. As an OR of "later" and "as late, greater id" it only filtered what it read,
    every backorder of the range (2,902 rows read for a range of 2,900 here; a 100k range's behind every order placed
    while the background work ran)."""
    if t.Product._meta.db.capabilities.dialect != "postgres":
        pytest.skip("PostgreSQL's planner and statistics")
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    clock = FixedClock(datetime(2026, 4, 2, 9, tzinfo=UTC))  # after the seeded queue
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock, fold_in_background=False)
    await _launch(desk, "LAUNCH")
    await desk.place_order(CustomerDetails("first@example.com"), Channel.ONLINE, [LineRequest("LAUNCH", 1)])
    await desk.receive_stock("LAUNCH", QUEUE - 100)  # recorded, left pending
    assert await t.QueueServe.filter(sku="LAUNCH", folded_count=0).exists()
    clock.advance(timedelta(seconds=1))
    with explained(monkeypatch) as seen:
        await desk.place_order(CustomerDetails("late@example.com"), Channel.ONLINE, [LineRequest("LAUNCH", 1)])
    assert await t.QueueServe.filter(sku="LAUNCH", folded_count=0).exists()  # still pending: placed behind it
    assert any("priority_override\" = $" in statement for _, statement in seen)  # past the range's end, probed
    worst = max(seen)
    assert worst[0] <= 50, worst


async def test_a_page_of_the_product_list_reads_the_page_not_the_catalogue(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent console's product list pages SKUs in code point order (`queries.list_products`): an index of the
    SKUs in that order serves a page (migration 0032); the primary key's, in the database's collation, could not, and
    every page read and sorted the whole catalogue."""
    if t.Product._meta.db.capabilities.dialect != "postgres":
        pytest.skip("PostgreSQL's planner and statistics")
    from domain.store.queries import list_products

    async def desk_product(sku: str) -> None:
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(datetime(2026, 3, 2, tzinfo=UTC)))
        await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("1.00")))

    conn = t.Product._meta.db
    await desk_product("SKU00000")
    columns = list(t.Product._meta.fields_db_projection.values())
    made = ", ".join("'SKU' || lpad(s.n::text, 5, '0')" if c == "sku" else f'p."{c}"' for c in columns)
    listed = ", ".join(f'"{c}"' for c in columns)
    await conn.execute_script(  # 3,000 more products like it, by the database
        f'INSERT INTO "products" ({listed}) SELECT {made} FROM "products" AS p '
        "CROSS JOIN generate_series(1, 3000) AS s(n) WHERE p.\"sku\" = 'SKU00000'")
    await conn.execute_script('ANALYZE "products"')
    with explained(monkeypatch) as seen:
        page = await list_products(None, 20, "SKU01000")
    assert page.ids[0] == "SKU01001" and len(page.ids) == 20
    worst = max(work for work, statement in seen if "LIMIT" in statement)
    assert worst <= 50, seen


async def test_a_purchase_orders_change_reads_the_slice_it_moves_not_the_queue_whatever_the_statistics(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A purchase order's quantity changes by ten units behind a long queue whose projection is kept: the ETAs that
    can move are the demand index's ranges around each later purchase order's units (`uow._slice`), read by that
    index. With the statuses in each range's statement, PostgreSQL took the queue-order index (its predicate) for a
    SKU the statistics take for one row, and filtered the whole queue for each range (3,000 rows read per range here;
    10k per range and 60 ms a change at 10k)."""
    if t.Product._meta.db.capabilities.dialect != "postgres":
        pytest.skip("PostgreSQL's planner and statistics")
    clock = FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock)
    await _launch(desk, "LAUNCH")
    supplier = await desk.upsert_supplier(None, "Supplier", 21)
    pos = [await desk.create_purchase_order(supplier.id, datetime(2026, 3, 10).date() + timedelta(days=7 * n),
                                            [LineRequest("LAUNCH", QUEUE // 10)]) for n in range(10)]
    await desk.update_purchase_order(pos[-1].id, datetime(2026, 8, 1).date())  # the queue projected, kept
    with explained(monkeypatch) as seen:
        await desk.update_purchase_order(pos[3].id, quantities=[LineRequest("LAUNCH", QUEUE // 10 + 10)])
    assert any('"demand_to" >' in statement for _, statement in seen)  # read as a slice
    worst = max(seen)
    assert worst[0] <= QUEUE // 5, worst
