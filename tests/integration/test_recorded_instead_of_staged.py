"""On a single writer (SQLite: one connection, every writer of any SKU waits for a transaction), a long queue's receipt
whose range the demand index finds records it instead of staging it (`shared.RECORD_STAGED`): one transaction that
reads none of the backorders it serves, then the range told and folded in short transactions after the commit. An
unrelated writer (another SKU's orders, placed over and over) is not held for the whole receipt: orders complete
between the fold's transactions, each waiting for a few of them. (That the recorded receipt leaves what staging or
the domain's path leaves is the "RECSTAGED" path of tests/integration/test_receipt_at_head.py.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bench.allocation import seed_queue
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_another_skus_orders_complete_while_a_recorded_receipt_is_folded(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not db.startswith("sqlite"):
        pytest.skip("on PostgreSQL a receipt is never staged (row locks: other SKUs' writers do not wait for it)")
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "RECORD_STAGED", True)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 100)  # staged otherwise: 30 chunks
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock)
    supplier = await desk.upsert_supplier(None, "Supplier", 14)
    for sku in ("LONG", "OTHER"):
        await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("1.00"), supplier_id=supplier.id))
    await desk.receive_stock("OTHER", 1_000)
    await seed_queue("LONG", 3_000)
    # projected once, as a queue grown by orders is: its projection kept, so the demand index finds the range
    await desk.create_purchase_order(supplier.id, START.date() + timedelta(days=60), [LineRequest("LONG", 1)])
    assert (await t.Product.get(sku="LONG")).eta_projection
    clock.advance(timedelta(days=1))
    # what happened, in the order it happened: the receipt, each fold transaction, the fan-out, each order
    log: list[tuple[str, int, str]] = []
    fold, tell = TortoiseUnitOfWork.fold_serves, TortoiseUnitOfWork.tell_served

    def logged(what: str, step: Any) -> Any:
        async def call(self: TortoiseUnitOfWork, *args: Any, **kwargs: Any) -> Any:
            n = sum(1 for w, _, when in log if w == what and when == "begun")
            log.append((what, n, "begun"))
            result = await step(self, *args, **kwargs)
            log.append((what, n, "done"))
            return result
        return call

    monkeypatch.setattr(TortoiseUnitOfWork, "fold_serves", logged("fold", fold))
    monkeypatch.setattr(TortoiseUnitOfWork, "tell_served", logged("tell", tell))
    monkeypatch.setattr(TortoiseUnitOfWork, "waiting_head", None)  # the covered backorders are never read
    done = asyncio.Event()

    async def orders() -> None:
        n = 0
        while not done.is_set():
            log.append(("order", n, "begun"))
            await desk.place_order(CustomerDetails("o@example.com"), Channel.ONLINE, [LineRequest("OTHER", 1)])
            log.append(("order", n, "done"))
            n += 1

    # when another SKU is ordered over and over while a receipt serves a queue of 3,000
    ordering = asyncio.create_task(orders())
    await asyncio.sleep(0)  # a turn of the loop: the orders begin before the receipt does
    log.append(("receipt", 0, "begun"))
    await desk.receive_stock("LONG", 3_000)
    log.append(("receipt", 0, "done"))
    await desk.folded()
    done.set()
    await ordering
    # then the receipt recorded its range in one transaction, nothing staged, and all of it is folded in now
    assert await t.QueueServe.filter(sku="LONG", served_count=3_000, folded_count=3_000).count() == 1
    assert not await t.StagedReceipt.filter(sku="LONG").exists()
    assert await t.Backorder.filter(sku="LONG", status="ALLOCATED").count() == 3_000
    # and orders completed between two of the fold's transactions (told by where they stand in the log, not by a
    # clock), each waiting for a few of them, not for the receipt's whole fold
    fold_ends = [n for n, (what, _, when) in enumerate(log) if what == "fold" and when == "done"]
    assert len(fold_ends) >= 6, log  # shared.FOLD_CHUNK (500) a transaction
    between = [log[n] for n in range(fold_ends[0], fold_ends[-1]) if log[n][0] == "order" and log[n][2] == "done"]
    assert len(between) >= 4, log
    for order in {n for what, n, _ in log if what == "order"}:
        begun = log.index(("order", order, "begun"))
        ended = log.index(("order", order, "done"))
        waited = sum(1 for n in fold_ends if begun < n < ended)
        assert waited <= 2, (order, waited, len(fold_ends))
