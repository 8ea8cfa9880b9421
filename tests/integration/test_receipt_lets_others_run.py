"""A big receipt lets the process's other requests run (issue 15): what a receipt does for every backorder or every
event of a long queue (decoding the rows read, deciding what each is served, cutting the event log's parts and
each customer's part of the outbox, encoding them) runs in worker threads, so the event loop turns meanwhile and
another SKU's order placed in the same process waits for a slice, not for the queue. Checked by where that work
runs (the thread), not by how long it takes; and by a coroutine that only yields, which must be scheduled again
and again while the receipt runs."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.metrics import ReceiptMetrics
from bench.allocation import START, seed_queue
from domain import events as ev
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import SkuInventory
from domain.services import BackorderDesk, ProductInput
from domain.store import collector
from domain.store import models as t
from domain.store import uow as store_uow
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from notifications.outbound_webhooks import WebhookRecorder
from notifications.outbox import OutboxRecorder
from notifications.settings import NotificationSettings

WAITING = 4_000
CUSTOMERS = 300
LONG = 2_000  # rows or entries from which the work is the queue's, not a slice's


def _where(calls: list[tuple[str, int, bool]], what: str, size: Callable[..., int],
           method: Callable[..., Any]) -> Callable[..., Any]:
    loop_thread = threading.get_ident()

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append((what, size(*args), threading.get_ident() == loop_thread))
        return method(*args, **kwargs)
    return recorded


async def test_a_long_receipt_does_its_per_backorder_work_off_the_event_loop(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # the receipt that writes its rows (with the ledger on, as in the service, one serving LEDGER_FROM whole records
    # its range instead and does none of this per-backorder work: test_head_range, test_partial_head_receipt)
    monkeypatch.setattr(shared, "LEDGER_FROM", 10**9)
    clock = FixedClock(START + timedelta(days=1))
    # as `serve` builds it (api.app.make_desk): the outbox, webhook and metrics hooks in the transaction
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus(), before_commit=[
        OutboxRecorder(NotificationSettings(), clock), WebhookRecorder(clock), ReceiptMetrics()]), clock)
    await desk.upsert_product(ProductInput(sku="HOT", name="HOT", price=Decimal("1.00")))
    await seed_queue("HOT", WAITING, customers=CUSTOMERS)
    calls: list[tuple[str, int, bool]] = []
    monkeypatch.setattr(ev.QueueChanged, "part", _where(
        calls, "a part of a QueueChanged cut", lambda self, positions: len(self.entries), ev.QueueChanged.part))
    monkeypatch.setattr(ev.QueueChanged, "to_dict", _where(
        calls, "a QueueChanged encoded", lambda self: len(self.entries), ev.QueueChanged.to_dict))
    monkeypatch.setattr(SkuInventory, "serve_head", _where(
        calls, "the head served", lambda self, rows, *rest: len(rows), SkuInventory.serve_head))
    monkeypatch.setattr(store_uow, "_waiting", _where(
        calls, "rows decoded", lambda raw, *rest: len(raw), store_uow._waiting))

    turns = 0
    done = asyncio.Event()

    async def another_request() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)
    other = asyncio.create_task(another_request())
    await desk.receive_stock("HOT", WAITING - 50)
    done.set()
    await other

    assert await t.Backorder.filter(sku="HOT", status="ALLOCATED").count() == WAITING - 50
    long = [(what, size) for what, size, on_loop in calls if size >= LONG]
    if db.startswith("postgres"):  # one transaction (on SQLite the receipt is put away 200 backorders at a time)
        assert {what for what, _ in long} >= {"a part of a QueueChanged cut", "a QueueChanged encoded",
                                              "the head served", "rows decoded"}
    on_the_loop = sorted({(what, size) for what, size, on_loop in calls if on_loop and size >= LONG})
    assert not on_the_loop, f"a long queue's work on the event loop: {on_the_loop}"
    assert turns > 20, "the other request was not scheduled while the receipt ran"


async def test_a_long_receipt_leaves_the_collector_nothing_of_its_queue(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The collector, held off while the receipt ran (domain.store.collector), comes back on as its unit of work
    ends; its first young collection scans whatever was allocated meanwhile and is still alive. The receipt's events
    (4 tuples a backorder, kept by the unit of work to publish) were, and that collection held the interpreter's
    lock 160-230 ms after a 100k receipt: every other request waited. Freed before the release, they are not."""
    monkeypatch.setattr(shared, "LEDGER_FROM", 10**9)  # the receipt that writes its rows, as above
    clock = FixedClock(START + timedelta(days=1))
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus(), before_commit=[
        OutboxRecorder(NotificationSettings(), clock), WebhookRecorder(clock), ReceiptMetrics()]), clock)
    await desk.upsert_product(ProductInput(sku="HOT", name="HOT", price=Decimal("1.00")))
    await seed_queue("HOT", WAITING, customers=CUSTOMERS)
    monkeypatch.setattr(collector, "HOLD_FROM", LONG)
    left: list[int] = []
    release = collector.release

    def counted() -> None:
        assert not gc.isenabled()
        left.append(len(gc.get_objects(0)))  # young objects: all the hold let live, until it ends
        release()
    monkeypatch.setattr(collector, "release", counted)
    was = gc.isenabled()
    gc.enable()
    gc.collect()
    try:
        await desk.receive_stock("HOT", WAITING - 50)
    finally:
        (gc.enable if was else gc.disable)()

    assert await t.Backorder.filter(sku="HOT", status="ALLOCATED").count() == WAITING - 50
    if db.startswith("postgres"):  # one transaction (on SQLite put away 200 backorders at a time: no hold)
        assert len(left) == 1, "the receipt did not hold the collector off"
    assert all(n < WAITING // 2 for n in left), f"{left} objects alive at the release, for {WAITING} backorders"
