"""A receipt recorded as a range is told a slice of whole customers a transaction (`shared.tell_range`,
`TortoiseUnitOfWork.tell_served`, issue 15): whatever the slice size, whatever a crash between slices, a second
fan-out or a fold chunk committed between them, the outbox rows, digests and webhook deliveries are those the range
told in one transaction: each customer told once, in one part (one digest message), each backorder event delivered
once per endpoint. And a slice's transaction reads and writes what its customers need, not the range (PostgreSQL's
counts of the transaction's tuples). Runs on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain import events as ev
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.model.served import ArrivingByCustomer
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store import notify
from domain.store import webhooks as hooks
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from notifications.outbound_webhooks import EVENT_TYPES, WebhookRecorder
from notifications.outbox import OutboxRecorder
from notifications.settings import NotificationSettings

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SKU = "SLICED"
# seven customers, 3 to 9 backorders each, spread over the queue; one with two units, one of them allocated before
CUSTOMERS = tuple(f"{name}@example.com" for name in ("g", "a", "e", "c", "f", "b", "d"))
BACKORDERS = 36


def _uow() -> TortoiseUnitOfWork:
    clock = FixedClock(START + timedelta(days=1))
    return TortoiseUnitOfWork(InProcessBus(), before_commit=[OutboxRecorder(NotificationSettings(), clock),
                                                             WebhookRecorder(clock)])


@pytest.fixture
async def desk(db: str, monkeypatch: pytest.MonkeyPatch) -> BackorderDesk:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)
    monkeypatch.setattr(shared, "TELL_SLICE", shared.TELL_SLICE)  # restored afterwards
    await hooks.create_endpoint("https://hooks.example.com/in", EVENT_TYPES, "all", START)
    await hooks.create_endpoint("https://other.example.com/in", ("backorder.allocated",), "all", START)
    clock = FixedClock(START)
    desk = BackorderDesk(_uow, clock, fold_in_background=False)
    await desk.upsert_product(ProductInput(sku=SKU, name="Sliced", price=Decimal("1.00")))
    for n in range(BACKORDERS):
        clock.advance(timedelta(seconds=1))
        who = CUSTOMERS[(n * n + n // 3) % len(CUSTOMERS)]
        await desk.place_order(CustomerDetails(who), Channel.ONLINE, [LineRequest(SKU, 2 if n == 0 else 1)])
    await desk.receive_stock(SKU, 1)  # the first backorder allocated in part: `partly` in the range
    await notify.Digest.all().delete()
    await notify.NotificationEvent.all().delete()
    await hooks.WebhookDelivery.all().delete()
    clock.advance(timedelta(days=1))
    await desk.receive_stock(SKU, BACKORDERS)  # all served whole: one recorded range
    assert await t.QueueServe.filter(sku=SKU, told=False, served_count=BACKORDERS).count() == 1
    await _untell()  # what the receipt's own transaction wrote (the stock's change): what is left is the fan-out's
    return desk


async def _told() -> dict[str, Any]:
    """What the outbox and the webhooks hold of the range, less what each write makes anew (ids)."""
    parts = await notify.NotificationEvent.all().values("email", "backorder_id", "order_id", "sku", "kind", "data",
                                                        "occurred_at")
    digests = await notify.Digest.all().values("email", "due_at", "messages", "status")
    deliveries = await hooks.WebhookDelivery.all().values("endpoint_id", "event_type", "body")
    bodies = []
    for d in deliveries:
        body = json.loads(d["body"])
        body.pop("id")
        bodies.append((d["endpoint_id"], d["event_type"], json.dumps(body, sort_keys=True)))
    return {"parts": sorted(json.dumps(p, sort_keys=True, default=str) for p in parts),
            "digests": sorted(json.dumps(d, sort_keys=True, default=str) for d in digests),
            "deliveries": sorted(bodies),
            "told": await t.QueueServe.filter(told=True).count()}


async def _untell() -> None:
    """The range's telling undone: as before its fan-out."""
    await notify.NotificationEvent.all().delete()
    await notify.Digest.all().delete()
    await hooks.WebhookDelivery.all().delete()
    await t.QueueServe.all().update(told=False, told_through=None)


async def _in_one_transaction(desk: BackorderDesk) -> dict[str, Any]:
    shared.TELL_SLICE = 10**9
    assert await desk.tell_pending_serves() == 1
    whole = await _told()
    # one part and one digest per customer, a delivery per backorder event and endpoint
    assert Counter(json.loads(p)["email"] for p in whole["parts"]) == Counter(set(CUSTOMERS))
    assert len(whole["digests"]) == len(CUSTOMERS) and whole["told"] == 1
    assert len(whole["deliveries"]) >= 2 * BACKORDERS + BACKORDERS  # allocated: 2 endpoints; status (ETA): 1
    await _untell()
    return whole


async def _read_back(served: ev.QueueServed) -> ArrivingByCustomer:
    """The range's covered backorders, all of them, as the fan-out reads them (outside any transaction, in customer
    order), to cut its slices from."""
    arriving = ArrivingByCustomer()
    async for piece in _uow().served_by_customer(served):
        arriving.add(piece)
    arriving.end()
    return arriving


async def _fold(n: int) -> None:
    async with TortoiseUnitOfWork(InProcessBus()) as uow:
        await uow.fold_serves(SKU, n)
        await uow.commit()


async def test_told_a_slice_at_a_time_the_range_tells_what_one_transaction_told(desk: BackorderDesk) -> None:
    from domain.store import served_ranges

    whole = await _in_one_transaction(desk)
    seen: Counter[str] = Counter()

    async def sliced(size: int, folded_before: int, piece: int) -> None:
        await _untell()
        if folded_before:
            await _fold(folded_before)  # either side of the fold: the same (the fold only goes on)
        shared.TELL_SLICE = size
        served_ranges.PIECE = piece  # read a piece at a time as the slices need it
        transactions = Counter[str]()
        tell = TortoiseUnitOfWork.tell_served

        async def counted(self: TortoiseUnitOfWork, *args: Any) -> Any:
            transactions["slices"] += 1
            return await tell(self, *args)

        TortoiseUnitOfWork.tell_served = counted  # type: ignore[method-assign]
        try:
            assert await desk.tell_pending_serves() == 1
        finally:
            TortoiseUnitOfWork.tell_served = tell  # type: ignore[method-assign]
        assert await _told() == whole, (size, folded_before)
        seen["several slices" if transactions["slices"] > 1 else "one slice"] += 1
        seen["folded" if await t.QueueServe.filter(folded_count__gt=0).exists() else "waiting"] += 1

    loop = asyncio.get_running_loop()

    def explore() -> None:
        @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(st.integers(1, BACKORDERS + 2), st.sampled_from([0, 0, 0, 5, 13]), st.sampled_from([1, 4, 1000]))
        @example(BACKORDERS + 2, 0, 1000)  # one slice, every case below drawn whatever the draws
        @example(1, 5, 4)  # a slice a customer, part folded before
        @example(3, 0, 1)  # read a backorder at a time between slices
        def check(size: int, folded_before: int, piece: int) -> None:
            asyncio.run_coroutine_threadsafe(sliced(size, folded_before, piece), loop).result(300)

        check()

    piece = served_ranges.PIECE
    try:
        await asyncio.to_thread(explore)
    finally:
        served_ranges.PIECE = piece
    assert seen["several slices"] and seen["one slice"] and seen["folded"], seen


async def test_a_crash_between_slices_leaves_the_rest_to_the_next_round_which_tells_it_once(
        desk: BackorderDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = await _in_one_transaction(desk)
    shared.TELL_SLICE = 4
    fan_out = WebhookRecorder.fan_out
    calls = 0

    async def fails_third(self: WebhookRecorder, conn: Any, served: ev.QueueServed, covered: Any = None) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("crashed in the third slice")
        await fan_out(self, conn, served, covered)

    monkeypatch.setattr(WebhookRecorder, "fan_out", fails_third)
    with pytest.raises(RuntimeError, match="third slice"):
        await desk.tell_pending_serves()
    [(through, told)] = await t.QueueServe.filter(sku=SKU).values_list("told_through", "told")
    partway = await _told()
    told_customers = {json.loads(p)["email"] for p in partway["parts"]}
    # the first two slices committed, the third rolled back whole: its customers and the rest untold
    assert not told and through is not None and told_customers == {c for c in CUSTOMERS if c <= through}
    assert 0 < len(told_customers) < len(CUSTOMERS)
    monkeypatch.setattr(WebhookRecorder, "fan_out", fan_out)
    await _fold(7)  # and the fold went on meanwhile
    assert await desk.tell_pending_serves() == 1
    assert await _told() == whole


async def test_two_fan_outs_taking_turns_and_a_fold_between_slices_tell_each_customer_once(
        desk: BackorderDesk) -> None:
    whole = await _in_one_transaction(desk)
    [record_id] = await t.QueueServe.filter(sku=SKU).values_list("id", flat=True)
    readings = []
    for _ in range(2):  # both read the range back before either tells
        async with _uow() as uow:
            served = await uow.untold_served(record_id)
            assert served is not None
        readings.append((served, await _read_back(served)))
    outcomes = []
    turn = 0
    while not outcomes or outcomes[-1] is not True:
        served, covered = readings[turn % 2]
        async with _uow() as uow:
            outcomes.append(await uow.tell_served(served, covered, 3))
            await uow.commit()
        await _fold(3)  # a fold chunk committed between slices
        turn += 1
    assert len(outcomes) > 2 and outcomes[:-1] == [False] * (len(outcomes) - 1)
    async with _uow() as uow:  # told: neither tells it again
        assert await uow.tell_served(*readings[0], 3) is None
        assert await uow.untold_served(record_id) is None
    assert await _told() == whole


async def test_two_fan_outs_at_once_tell_each_customer_once(desk: BackorderDesk, db: str) -> None:
    if not db.startswith("postgres"):
        pytest.skip("SQLite has one writer: two fan-outs never run at once")
    whole = await _in_one_transaction(desk)
    [record_id] = await t.QueueServe.filter(sku=SKU).values_list("id", flat=True)
    shared.TELL_SLICE = 2
    tell = TortoiseUnitOfWork.tell_served

    async def slow(self: TortoiseUnitOfWork, *args: Any) -> Any:
        told = await tell(self, *args)
        await asyncio.sleep(0.01)  # sleep-ok: interleaves the fan-outs inside a slice's claim; no wait for anything
        return told

    TortoiseUnitOfWork.tell_served = slow  # type: ignore[method-assign]
    try:
        results = await asyncio.gather(*(shared.tell_range(desk._deps, record_id) for _ in range(3)))
        results += await asyncio.gather(*(desk.tell_pending_serves() for _ in range(3)))
    finally:
        TortoiseUnitOfWork.tell_served = tell  # type: ignore[method-assign]
    assert await _told() == whole, results


async def test_a_slice_reads_and_writes_for_its_customers_not_the_range(desk: BackorderDesk, db: str) -> None:
    if not db.startswith("postgres"):
        pytest.skip("PostgreSQL counts a transaction's tuples")
    [record_id] = await t.QueueServe.filter(sku=SKU).values_list("id", flat=True)
    async with _uow() as uow:
        served = await uow.untold_served(record_id)
        assert served is not None
    covered = await _read_back(served)
    counts = []
    told: bool | None = False
    while told is False:
        async with _uow() as uow:
            assert uow.conn is not None
            before = await _tuples(uow)
            told = await uow.tell_served(served, covered, 1)  # one customer a slice
            after = await _tuples(uow)
            counts.append({k: after[k] - before[k] for k in after})
            await uow.commit()
    assert len(counts) == len(CUSTOMERS)
    for n in counts:  # the covered backorders were read before: a slice reads none of them again, writes one part
        assert (n["backorders"], n["history"], n["parts"]) == (0, 0, 1), counts


async def _tuples(uow: TortoiseUnitOfWork) -> dict[str, int]:
    """The backorders and history rows this backend read, and the outbox rows it wrote, so far (PostgreSQL's counts
    of the transaction, with those of earlier ones not yet flushed: taken as a difference)."""
    assert uow.conn is not None
    [row] = await uow.conn.execute_query_dict(
        "SELECT pg_stat_get_xact_tuples_returned('backorders'::regclass) "
        "+ pg_stat_get_xact_tuples_fetched('backorders'::regclass) AS backorders, "
        "pg_stat_get_xact_tuples_returned('backorder_history'::regclass) "
        "+ pg_stat_get_xact_tuples_fetched('backorder_history'::regclass) AS history, "
        "pg_stat_get_xact_tuples_inserted('notification_events'::regclass) AS parts")
    return {k: int(v) for k, v in row.items()}


async def test_the_ranges_read_back_for_its_fan_out_holds_no_writer(desk: BackorderDesk,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The fan-out reads the range back outside any transaction, on a connection of its own where the store has one
    writer (SQLite), its cursor open while the slices are told: another SKU's writer commits while the read is under
    way (here: between its first piece and the rest). Read in a transaction on SQLite's one connection (a 100k
    range's: 4-10 s), the writer waited for all of it: here the read waits for the writer, so it would never come."""
    from domain.store import served_ranges

    monkeypatch.setattr(served_ranges, "PIECE", 5)
    fetched = served_ranges._fetched_in_pieces
    reading, written = asyncio.Event(), asyncio.Event()

    async def other_writer() -> None:
        await reading.wait()
        await desk.upsert_product(ProductInput(sku="OTHER", name="Other", price=Decimal("2.00")))
        written.set()

    async def read_while_another_writes(*args: Any) -> Any:
        async for piece in fetched(*args):
            if not reading.is_set():
                reading.set()
                await asyncio.wait_for(written.wait(), 5)
            yield piece

    writer = asyncio.create_task(other_writer())  # from outside the fan-out: no transaction of its to join
    monkeypatch.setattr(served_ranges, "_fetched_in_pieces", read_while_another_writes)
    try:
        assert await desk.tell_pending_serves() == 1
    finally:
        writer.cancel()
    assert written.is_set() and await t.QueueServe.filter(sku=SKU, told=True).count() == 1
    assert await t.Product.filter(sku="OTHER").exists()


async def test_the_ranges_read_back_lets_the_requests_in_flight_go_first_between_pieces(
        desk: BackorderDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fan-out's read back, in the background, makes the rows still waiting into the covered backorders a piece
    at a time on the event loop, each piece once the requests in flight have had their turns (`turns.after_requests`):
    a 100k range's made in one go (in a worker thread) held each of a placed order's round trips behind it, on
    either dialect (187-226 ms an order on PostgreSQL)."""
    from domain.store import served_ranges, turns
    from tests.in_flight import served_order
    from tests.waiting import PATIENCE

    monkeypatch.setattr(served_ranges, "PIECE", 5)
    monkeypatch.setattr(turns, "BOUND_SECONDS", PATIENCE)
    await desk.upsert_product(ProductInput(sku="OTHER", name="Other", price=Decimal("2.00")))
    await desk.receive_stock("OTHER", 5)
    log: list[str] = []
    in_flight = asyncio.Event()
    orders: list[asyncio.Task[None]] = []

    made, fetched = served_ranges._waiting_covered, served_ranges._fetched_in_pieces

    def logged(rows: Any) -> Any:
        log.append("piece")
        return made(rows)

    async def in_pieces(*args: Any) -> Any:
        async for piece in fetched(*args):
            if not orders:  # a request comes in as the first piece of the rows still waiting arrives
                orders.append(asyncio.create_task(served_order(desk, "OTHER", log, in_flight)))
                await in_flight.wait()
            yield piece

    monkeypatch.setattr(served_ranges, "_waiting_covered", logged)
    monkeypatch.setattr(served_ranges, "_fetched_in_pieces", in_pieces)
    whole_before = await t.QueueServe.filter(sku=SKU, told=False).count()
    assert await asyncio.wait_for(desk.tell_pending_serves(), PATIENCE) == whole_before == 1
    await asyncio.wait_for(asyncio.gather(*orders), PATIENCE)
    # then the order went in between the first piece and the second (without the handover the read made every piece
    # while the request was in its own Python, and the order came after the whole read)
    pieces = -(-BACKORDERS // 5)
    assert log == ["piece", "order", *["piece"] * (pieces - 1)], log
    assert await t.QueueServe.filter(sku=SKU, told=True).count() == 1


async def test_the_fan_out_holds_a_slice_or_two_of_the_range_not_all_of_it(
        desk: BackorderDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The range is read back in customer order a piece at a time, as the slices need it (`covered_by_customer`,
    `ArrivingByCustomer`): what the fan-out holds at once is about a slice and a piece, and the first slices are told
    before the last pieces are read. Read whole first, it held every backorder of a 100k range at once (20-40 MiB of
    the background work's peak resident set)."""
    from domain.store import served_ranges

    whole = await _in_one_transaction(desk)
    monkeypatch.setattr(served_ranges, "PIECE", 3)
    shared.TELL_SLICE = 4
    log: list[str] = []
    held: list[int] = []
    add, tell = ArrivingByCustomer.add, TortoiseUnitOfWork.tell_served

    def added(self: ArrivingByCustomer, piece: Any) -> None:
        add(self, piece)
        log.append("piece")
        held.append(len(self._rows))

    async def told(self: TortoiseUnitOfWork, *args: Any) -> Any:
        log.append("slice")
        return await tell(self, *args)

    monkeypatch.setattr(ArrivingByCustomer, "add", added)
    monkeypatch.setattr(TortoiseUnitOfWork, "tell_served", told)
    assert await desk.tell_pending_serves() == 1
    assert await _told() == whole
    assert log.count("piece") == -(-BACKORDERS // 3) and log.index("slice") < len(log) - log[::-1].index("piece") - 1
    # a slice (at most one customer's backorders if one alone has more) and a piece more, and what they overlap by
    biggest = max(Counter(await t.Backorder.filter(sku=SKU).values_list("customer_email", flat=True)).values())
    assert max(held) <= max(shared.TELL_SLICE, biggest) + biggest + 3 < BACKORDERS, (held, biggest)


async def test_the_range_is_read_back_for_its_fan_out_outside_a_transaction_only(desk: BackorderDesk) -> None:
    """The fan-out's read holds a connection of its own (SQLite: another connection to the file) for as long as the
    telling: asked inside a unit of work's transaction, it says so instead of failing on that transaction's
    connection."""
    [record_id] = await t.QueueServe.filter(sku=SKU).values_list("id", flat=True)
    async with _uow() as uow:
        served = await uow.untold_served(record_id)
        assert served is not None
        with pytest.raises(RuntimeError, match="outside the unit of work's transaction"):
            await anext(uow.served_by_customer(served))
    assert await t.QueueServe.filter(sku=SKU, told=False).count() == 1  # nothing told
