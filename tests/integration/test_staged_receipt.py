"""A receipt for a long queue put away in chunks (issue 15, `shared.STAGE_CHUNK`): its first transaction serves the
first chunk of backorders and stages the rest of its units (`staged_receipts`, `stock_levels.staged`), each further
chunk is a short transaction of its own. A crash between two chunks leaves the rest staged, and the worker's round
finishes it with what an uninterrupted receipt leaves; the SKU's other writers between two chunks (an order, a
cancel) find the queue as the last chunk left it, and nobody is oversold or served out of turn; and on SQLite (one
connection, one writer) another SKU's order completes while the receipt is still being put away, instead of
waiting for all of it. (That the chunks serve exactly what one transaction serves, whatever the queue, is the
staged path of tests/integration/test_receipt_at_head.py.) SQLite and, with BACKORDER_TEST_POSTGRES_URL,
PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bench.allocation import seed_queue
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.errors import DomainError, ErrorCode
from domain.model import Channel
from domain.reorder import ReorderPolicy
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store import planning, queries
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from tests import shown_places

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Crash(BaseException):
    """The process dies: nothing of the use case's own handles it."""


@pytest.fixture
def staged_desk(db: str, monkeypatch: pytest.MonkeyPatch) -> tuple[BackorderDesk, FixedClock]:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)  # short queues served from their heads' rows
    monkeypatch.setattr(shared, "STAGE_CHUNK", 3)  # three backorders a transaction
    monkeypatch.setattr(shared, "RECORD_STAGED", False)  # staged, not recorded, with the ledger forced on too
    monkeypatch.setattr(shared, "STAGE_ON_EVERY_STORE", True)  # on PostgreSQL too (the service stages on SQLite)
    clock = FixedClock(START)
    return BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock), clock


async def _queue(desk: BackorderDesk, clock: FixedClock, sku: str, size: int) -> list[str]:
    """`size` one-unit backorders of `sku`, a second apart, from three customers; a purchase order on its way."""
    clock.set(START)
    supplier = await desk.upsert_supplier(None, f"Supplier {sku}", 10)
    await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("1.00"), supplier_id=supplier.id))
    await desk.create_purchase_order(supplier.id, START.date() + timedelta(days=9), [LineRequest(sku, 4)],
                                     number=f"PO-{sku}")
    ids = []
    for n in range(size):
        clock.advance(timedelta(seconds=1))
        order = await desk.place_order(CustomerDetails(f"{'abc'[n % 3]}@example.com"), Channel.ONLINE,
                                       [LineRequest(sku, 1)])
        ids.append(str(order.lines[0].backorder_id))
    clock.advance(timedelta(hours=1))
    return ids


async def _state(sku: str, ids: list[str]) -> dict[str, Any]:
    """What a receipt leaves, by each backorder's place in the queue (the SKUs' ids differ)."""
    place = {backorder_id: n for n, backorder_id in enumerate(ids)}
    rows = await shown_places.rows(
        "id", "allocated_quantity", "status", "reserved", "eta_date", "eta_source", "queue_position",
        "allocation_reason", "updated_at", "version", sku=sku)
    history = await t.BackorderHistory.filter(backorder_id__in=ids).order_by("id").values(
        "backorder_id", "at", "kind", "old_value", "new_value", "cause")
    by_backorder: dict[int, list[tuple[Any, ...]]] = {}
    for h in history:
        by_backorder.setdefault(place[h.pop("backorder_id")], []).append(tuple(h.values()))
    return {"rows": sorted((place[r.pop("id")], r) for r in rows), "history": by_backorder,
            "stock": await t.StockLevel.filter(sku=sku).values("location", "on_hand", "allocated", "staged"),
            "counts": await t.Product.get(sku=sku).values("waiting_count", "waiting_units"),
            "staged": await t.StagedReceipt.filter(sku=sku).count()}


def _between_chunks(monkeypatch: pytest.MonkeyPatch, before: dict[int, Callable[[], Awaitable[None]]],
                    after: dict[int, Callable[[], Awaitable[None]]]) -> list[int]:
    """Run `before[n]` before the n-th put-away chunk (from 1; the receipt's own transaction served chunk 0), and
    `after[n]` once it committed. Returns the chunks run so far."""
    chunk = shared._put_away_chunk
    ran: list[int] = []

    async def chunked(deps: Any, sku: str) -> bool:
        n = len(ran) + 1
        ran.append(n)
        if n in before:
            await before[n]()
        more = await chunk(deps, sku)
        if n in after:
            await after[n]()
        return more

    monkeypatch.setattr(shared, "_put_away_chunk", chunked)
    return ran


async def test_a_crash_between_two_chunks_is_finished_by_the_workers_round(
        staged_desk: tuple[BackorderDesk, FixedClock], monkeypatch: pytest.MonkeyPatch) -> None:
    desk, clock = staged_desk
    # given two SKUs with the same queue of 12, one received without a crash
    twin = await _queue(desk, clock, "TWIN", 12)
    await desk.receive_stock("TWIN", 9)
    crashed = await _queue(desk, clock, "CRASHED", 12)

    async def crash() -> None:
        raise Crash()

    # when the process dies once the first chunk after the receipt's own has committed
    ran = _between_chunks(monkeypatch, {}, {1: crash})
    with pytest.raises(Crash):
        await desk.receive_stock("CRASHED", 9)
    assert ran == [1]
    # then the rest is staged: off hand, nobody oversold, the first two chunks served in turn
    halfway = await _state("CRASHED", crashed)
    assert halfway["staged"] == 1
    assert halfway["stock"] == [{"location": "MAIN", "on_hand": 6, "allocated": 6, "staged": 3}]
    assert [r["status"] for _, r in halfway["rows"]] == ["ALLOCATED"] * 6 + ["WAITING"] * 6
    assert halfway["counts"] == {"waiting_count": 6, "waiting_units": 6}
    # and the worker's round (as at start-up) puts it away, leaving what the uninterrupted receipt left
    clock.advance(timedelta(minutes=5))
    assert await desk.put_away_staged_receipts() == ["CRASHED"]
    assert await _state("CRASHED", crashed) == await _state("TWIN", twin)
    assert await desk.put_away_staged_receipts() == []


async def test_the_skus_writers_between_two_chunks_find_the_queue_as_the_last_chunk_left_it(
        staged_desk: tuple[BackorderDesk, FixedClock], monkeypatch: pytest.MonkeyPatch) -> None:
    desk, clock = staged_desk
    ids = await _queue(desk, clock, "LAMP", 12)
    placed: list[str] = []

    async def order_and_cancel() -> None:
        # a new order joins the tail (the staged units are not free stock); a customer in the staged range and
        # the last in line cancel
        order = await desk.place_order(CustomerDetails("z@example.com"), Channel.ONLINE, [LineRequest("LAMP", 2)])
        assert order.lines[0].backorder_id is not None, "the staged units are nobody else's"
        placed.append(order.lines[0].backorder_id)
        await desk.cancel_backorder(ids[7], by="customer")
        await desk.cancel_backorder(ids[11], by="customer")

    # when those writers come between the receipt's first two put-away chunks
    ran = _between_chunks(monkeypatch, {1: order_and_cancel}, {})
    await desk.receive_stock("LAMP", 9)
    assert len(ran) >= 2
    # then the 9 units went to the first 9 still waiting, in turn; nobody oversold; nothing left staged
    rows = {r["id"]: r for r in await shown_places.rows(
        "id", "allocated_quantity", "status", "queue_position", "eta_date", sku="LAMP")}
    allocated = [n for n, backorder_id in enumerate(ids) if rows[backorder_id]["status"] == "ALLOCATED"]
    assert allocated == [0, 1, 2, 3, 4, 5, 6, 8, 9]
    assert rows[ids[7]]["status"] == rows[ids[11]]["status"] == "CANCELLED"
    assert rows[ids[10]]["status"] == "WAITING" and rows[ids[10]]["queue_position"] == 1
    assert rows[placed[0]]["status"] == "WAITING" and rows[placed[0]]["queue_position"] == 2
    [level] = await t.StockLevel.filter(sku="LAMP").values("on_hand", "allocated", "staged")
    assert level == {"on_hand": 9, "allocated": 9, "staged": 0}
    assert sum(r["allocated_quantity"] for r in rows.values()) == 9
    assert await t.StagedReceipt.filter(sku="LAMP").count() == 0
    product = await t.Product.get(sku="LAMP").values("waiting_count", "waiting_units")
    assert product == {"waiting_count": 2, "waiting_units": 3}


async def test_a_new_order_between_two_chunks_is_told_an_eta_that_counts_the_staged_units(
        staged_desk: tuple[BackorderDesk, FixedClock], monkeypatch: pytest.MonkeyPatch) -> None:
    desk, clock = staged_desk
    await _queue(desk, clock, "MUG", 6)
    etas: list[Any] = []

    async def order() -> None:
        placed = await desk.place_order(CustomerDetails("z@example.com"), Channel.ONLINE, [LineRequest("MUG", 1)])
        backorder_id = placed.lines[0].backorder_id
        etas.append(await t.Backorder.get(id=backorder_id).values("eta_date", "eta_source"))

    # 20 units for 6 waiting, 3 a chunk: the 7th in line, placed between two chunks, is served by the receipt
    _between_chunks(monkeypatch, {1: order}, {})
    await desk.receive_stock("MUG", 20)
    # so it was told today, from units here, not the purchase order's date nine days on
    assert etas == [{"eta_date": clock.now().date(), "eta_source": "ON_HAND"}]
    statuses = await t.Backorder.filter(sku="MUG").values_list("status", flat=True)
    assert set(statuses) == {"ALLOCATED"}
    [level] = await t.StockLevel.filter(sku="MUG").values("on_hand", "allocated", "staged")
    assert level == {"on_hand": 20, "allocated": 7, "staged": 0}


async def test_another_skus_order_completes_while_a_staged_receipt_is_put_away(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite one transaction at a time: before the chunks, an order for any other SKU waited for the whole
    receipt (bench/allocation.py: 9.8 s at 100k)."""
    if not db.startswith("sqlite"):
        pytest.skip("on PostgreSQL a receipt stays one transaction: other SKUs' writers do not wait for its locks "
                    "(what they wait for on one event loop is bench.allocation's figure)")
    monkeypatch.setattr(shared, "STAGE_CHUNK", 100)  # staged as the service stages: on SQLite
    monkeypatch.setattr(shared, "RECORD_STAGED", False)  # staged, not recorded, with the ledger forced on too
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(START))
    for sku in ("LONG", "OTHER"):
        await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("1.00")))
    await desk.receive_stock("OTHER", 1_000)
    await seed_queue("LONG", 3_000)
    # what happened, in the order it happened: each put-away chunk's transaction and each order, begun and done
    log: list[tuple[str, int, str]] = []
    chunk = shared._put_away_chunk

    async def logged_chunk(deps: Any, sku: str) -> bool:
        n = sum(1 for what, _, when in log if what == "chunk" and when == "begun")
        log.append(("chunk", n, "begun"))
        more = await chunk(deps, sku)
        log.append(("chunk", n, "done"))
        return more

    monkeypatch.setattr(shared, "_put_away_chunk", logged_chunk)
    done = asyncio.Event()

    async def orders() -> None:
        n = 0
        while not done.is_set():
            log.append(("order", n, "begun"))
            await desk.place_order(CustomerDetails("o@example.com"), Channel.ONLINE, [LineRequest("OTHER", 1)])
            log.append(("order", n, "done"))
            n += 1

    # when another SKU is ordered over and over while a receipt for 3,000 waiting is put away in chunks of 100
    ordering = asyncio.create_task(orders())
    await asyncio.sleep(0)  # a turn of the loop: the orders begin before the receipt does
    log.append(("receipt", 0, "begun"))
    await desk.receive_stock("LONG", 3_000)
    log.append(("receipt", 0, "done"))
    done.set()
    await ordering
    assert await t.Backorder.filter(sku="LONG", status="ALLOCATED").count() == 3_000
    # then orders completed between two of the receipt's chunk transactions, while it was still being put away
    # (told by where they stand in the log, not by a clock), and each waited for a few chunks, not for the receipt
    chunk_ends = [n for n, (what, _, when) in enumerate(log) if what == "chunk" and when == "done"]
    assert len(chunk_ends) >= 10, log
    between = [log[n] for n in range(chunk_ends[0], chunk_ends[-1]) if log[n][0] == "order" and log[n][2] == "done"]
    assert len(between) >= 3, log
    for order in {n for what, n, _ in log if what == "order"}:
        begun = log.index(("order", order, "begun"))
        ended = log.index(("order", order, "done")) if ("order", order, "done") in log else len(log)
        waited = sum(1 for n in chunk_ends if begun < n < ended)
        assert waited < len(chunk_ends) / 3, (order, waited, len(chunk_ends))


async def test_units_being_put_away_keep_their_location_in_use_and_every_reader_of_stock_counts_them(
        staged_desk: tuple[BackorderDesk, FixedClock], monkeypatch: pytest.MonkeyPatch) -> None:
    """Staged units are at their location (not on hand, not gone): retiring it is refused while they are there,
    the stock levels staff read show them as being put away, and reorder advice counts them against the queue
    they cover, so its inventory position is the same between the chunks of the receipt as after them."""
    desk, clock = staged_desk
    await desk.upsert_location("BAY", "Receiving bay")
    await _queue(desk, clock, "LAMP", 12)
    today = clock.now().date()

    async def position() -> int:
        [advice] = await planning.reorder_suggestions(today, ReorderPolicy(), skus=["LAMP"])
        assert advice.inventory_position == (advice.available + advice.being_put_away + advice.on_order
                                             - advice.waiting)
        return advice.inventory_position

    before = await position()
    seen: list[dict[str, Any]] = []

    async def look() -> None:
        [level] = await t.StockLevel.filter(sku="LAMP", location="BAY").values("staged")
        [shown] = (await queries.stock_by_sku(["LAMP"]))["LAMP"]
        with pytest.raises(DomainError) as refused:
            await desk.retire_location("BAY")
        seen.append({"staged": level["staged"], "shown": shown.staged, "code": refused.value.code,
                     "position": await position()})

    # when 9 units come into BAY for 12 waiting, 3 a chunk, and everything is read between two chunks
    _between_chunks(monkeypatch, {1: look, 2: look}, {})
    await desk.receive_stock("LAMP", 9, location="BAY")
    # then the units still being put away were there each time, and seen as such
    assert [s["staged"] for s in seen] == [6, 3]
    assert all(s["shown"] == s["staged"] and s["code"] is ErrorCode.LOCATION_IN_USE for s in seen), seen
    # and the reorder advice's position rose by the 9 units at the receipt and held through its chunks: the staged
    # units covered as much of their queue
    assert [s["position"] for s in seen] == [before + 9, before + 9]
    assert await position() == before + 9
