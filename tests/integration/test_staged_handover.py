"""A staged receipt's chunks hand the connection over to the requests being served (issue 15, domain.store.turns).

On SQLite every statement of the process takes turns on one connection, first come first served. A served request
takes several turns (its token read, its transaction, the payload's reads) with Python between them; a receipt's
next chunk used to take the first free turn, so the request's next statement waited behind a whole chunk again,
once per statement. Now a request in flight when a chunk asks for its turn has all of its turns first; the
receiveStock request whose receipt is being put away does not wait for itself, nor two receipts for each other;
and a request that never ends slows the receipt down by the bound, never stops it. Orders of events, not times:
SQLite and, with BACKORDER_TEST_POSTGRES_URL, PostgreSQL (where a request's statements do not wait for a chunk's
connection, but its round trips wait for a chunk's Python on the interpreter's lock: the chunks hand over there too).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.events import Event
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store import tokens, turns
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from tests.waiting import PATIENCE, eventually

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def chunked(db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)  # short queues served from their heads' rows
    monkeypatch.setattr(shared, "STAGE_CHUNK", 2)  # two backorders a transaction
    monkeypatch.setattr(shared, "RECORD_STAGED", False)  # staged, not recorded, with the ledger forced on too
    monkeypatch.setattr(shared, "STAGE_ON_EVERY_STORE", True)  # on PostgreSQL too (the service stages on SQLite)
    return db


async def _desk(log: list[str], on_chunk: dict[int, asyncio.Event] | None = None) -> BackorderDesk:
    """A desk whose transactions say in `log` what they commit ("chunk" for the queue's serves, "order" else);
    the n-th chunk (the receipt's own transaction is chunk 1) waits, before it commits, for `on_chunk[n]`."""
    async def told(conn: object, events: Sequence[Event]) -> None:
        skus = {getattr(e, "sku", None) for e in events}
        if "LONG" in skus and any(e.kind in ("QueueChanged", "BackorderAllocated") for e in events):
            log.append("chunk")
            wait = (on_chunk or {}).get(log.count("chunk"))
            if wait is not None:
                await wait.wait()
        else:
            log.append("order")

    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus(), before_commit=[told]), FixedClock(START))
    for sku in ("LONG", "OTHER"):
        await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("1.00")))
    await desk.receive_stock("OTHER", 100)
    for n in range(10):
        await desk.place_order(CustomerDetails(f"c{n % 3}@example.com"), Channel.ONLINE, [LineRequest("LONG", 1)])
    log.clear()
    return desk


async def _served_order(desk: BackorderDesk, secret: str, log: list[str], started: asyncio.Event) -> None:
    """What a served placeOrder does on the connection: its token read, its transaction, its payload read back."""
    with turns.request():
        started.set()
        assert await tokens.verify_token(secret) is not None
        log.append("token read")
        order = await desk.place_order(CustomerDetails("o@example.com"), Channel.ONLINE, [LineRequest("OTHER", 1)])
        assert await t.Order.filter(id=order.id).exists()
        log.append("read back")


async def test_a_request_in_flight_has_all_its_turns_before_the_next_chunk(
        chunked: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not chunked.startswith("sqlite"):
        pytest.skip("on PostgreSQL a request's statements do not wait for a receipt's chunks: no turns to hand over")
    monkeypatch.setattr(turns, "BOUND_SECONDS", PATIENCE)  # however slow the machine: the order of turns decides
    _, secret = await tokens.create_token("shop front", "agent")
    await tokens.verify_token(secret)  # its use recorded: a read only from now on
    log: list[str] = []
    holding, started = asyncio.Event(), asyncio.Event()
    desk = await _desk(log, {2: holding})

    async def receipt() -> None:
        with turns.request():  # the receiveStock request: its own chunks do not wait for it
            await desk.receive_stock("LONG", 10)

    # given a receipt of 10 put away two backorders a transaction, a request for another SKU coming in while the
    # second chunk holds the connection
    receiving = asyncio.create_task(receipt())
    await eventually(lambda: list(log), lambda seen: seen == ["chunk", "chunk"] or receiving.done(),
                     what="the second chunk holds the connection")
    assert log == ["chunk", "chunk"], log
    order = asyncio.create_task(_served_order(desk, secret, log, started))
    await started.wait()
    holding.set()
    # when both end
    await asyncio.wait_for(asyncio.gather(receiving, order), PATIENCE)
    # then the request had its three turns (token, transaction, read) before the third chunk, not one of them
    assert log[:6] == ["chunk", "chunk", "token read", "order", "read back", "chunk"], log
    assert log[5:] == ["chunk"] * 3, log
    assert await t.Backorder.filter(sku="LONG", status="ALLOCATED").count() == 10


async def test_two_receipts_in_requests_do_not_wait_for_each_other(
        chunked: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each receiveStock request is in flight while the other's chunks ask for turns: once put away, neither is a
    request to wait for (a receipt would wait out the bound each chunk, for ever with the bound as long as this)."""
    monkeypatch.setattr(turns, "BOUND_SECONDS", PATIENCE * 10)
    log: list[str] = []
    desk = await _desk(log)
    await desk.upsert_product(ProductInput(sku="TWO", name="Lamp", price=Decimal("1.00")))
    for n in range(10):
        await desk.place_order(CustomerDetails(f"c{n % 3}@example.com"), Channel.ONLINE, [LineRequest("TWO", 1)])

    async def receipt(sku: str) -> None:
        with turns.request():
            await desk.receive_stock(sku, 10)

    await asyncio.wait_for(asyncio.gather(receipt("LONG"), receipt("TWO")), PATIENCE)
    for sku in ("LONG", "TWO"):
        assert await t.Backorder.filter(sku=sku, status="ALLOCATED").count() == 10
    assert turns.in_flight() == 0


async def test_a_request_that_never_ends_slows_a_receipt_down_but_never_stops_it(
        chunked: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turns, "BOUND_SECONDS", 0.01)
    log: list[str] = []
    desk = await _desk(log)
    release, held = asyncio.Event(), asyncio.Event()

    async def endless() -> None:  # a request streaming for longer than the receipt (held until it is put away)
        with turns.request():
            held.set()
            await release.wait()

    streaming = asyncio.create_task(endless())
    await held.wait()
    assert turns.in_flight() == 1
    await asyncio.wait_for(desk.receive_stock("LONG", 10), PATIENCE)
    assert log == ["chunk"] * 5
    # it outlasted one chunk's bounded wait, so no later chunk (nor the next receipt) waits for it again: a stream of
    # minutes delays one chunk by the bound, not each of hundreds of chunks
    assert turns.in_flight() == 0
    release.set()
    await streaming
    assert turns.in_flight() == 0
    assert await t.Backorder.filter(sku="LONG", status="ALLOCATED").count() == 10
