"""SQLite's write-ahead log as the service opens a database file: WAL, and the log kept up to WAL_KEPT after a
checkpoint instead of truncated to tortoise's 16 KiB (which made the transactions after each checkpoint grow the
file again: a staged receipt's slow chunks, bench/README.md "Slow chunks"); checkpointed beside the writer, from a
connection of its own (domain.store.checkpoints), never in a commit of the service's connection below the bound,
where every other request of the process waited for it."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import checkpoints
from domain.store import models as t
from domain.store.checkpoints import WAL_BOUND_PAGES, Checkpointer
from domain.store.db import WAL_KEPT, open_database
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from tests.waiting import eventually

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_a_sqlite_file_keeps_its_write_ahead_log_after_a_checkpoint(tmp_path: Path) -> None:
    async with open_database(f"sqlite://{tmp_path / 'shop.db'}"):
        conn = t.Product._meta.db
        [[mode]] = (await conn.execute_query("PRAGMA journal_mode"))[1]
        [[kept]] = (await conn.execute_query("PRAGMA journal_size_limit"))[1]
        [[bound]] = (await conn.execute_query("PRAGMA wal_autocheckpoint"))[1]
    assert (str(mode).lower(), kept, bound) == ("wal", WAL_KEPT, WAL_BOUND_PAGES)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _log_frames(path: Path, page_size: int) -> int:
    """Frames in the write-ahead log of a database no checkpoint has started over (a header, then frames)."""
    return (Path(f"{path}-wal").stat().st_size - 32) // (page_size + 24)


async def test_no_commit_of_the_services_connection_checkpoints_and_another_skus_order_waits_for_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Left to SQLite, the commit that takes the log past 1,000 pages copies them into the database file and syncs
    it while the process's one connection, so every other request, waits (65-170 ms under load). Here the
    checkpointer is held as long as a staged receipt writes well past 1,000 pages of log and orders for another SKU
    are placed: the orders complete meanwhile, and no commit has written the database file; once released, the
    checkpointer copies the log into it. (With the service's connection checkpointing at SQLite's 1,000 pages the
    file changes during the receipt; with the receipt one transaction, STAGE_CHUNK above its queue, one order
    completes meanwhile, the one that began before it: both fail here.)"""
    held, looking = threading.Event(), threading.Event()
    checkpoint = Checkpointer.checkpoint

    def held_checkpoint(self: Checkpointer, conn: sqlite3.Connection) -> tuple[int, int, int]:
        looking.set()
        held.wait()
        return checkpoint(self, conn)

    monkeypatch.setattr(Checkpointer, "checkpoint", held_checkpoint)
    monkeypatch.setattr(checkpoints, "CHECKPOINT_EVERY", 0.01)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 100)  # staged as the service stages on SQLite
    path = tmp_path / "shop.db"
    async with open_database(f"sqlite://{path}"):
        try:
            await eventually(looking.is_set, what="the checkpointer started its first checkpoint")
            before = _digest(path)  # migrated, and checkpointed when the migration's connection closed
            desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(START))
            for sku in ("LONG", "OTHER"):
                await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("1.00")))
            await desk.receive_stock("OTHER", 1_000)
            await t.Backorder.bulk_create([t.Backorder(
                id=f"LONG{n:016d}", order_id=f"o{n:015d}", order_line_id=f"l{n:015d}", sku="LONG",
                customer_email=f"c{n % 50}@example.com", customer_tier="STANDARD", channel="ONLINE",
                ordered_at=START + timedelta(seconds=n), quantity=1, original_quantity=1, status="WAITING",
                queue_position=n + 1, created_at=START, updated_at=START) for n in range(3_000)], batch_size=1000)
            await t.Product.filter(sku="LONG").update(waiting_count=3_000, waiting_units=3_000)
            # when a staged receipt is put away and orders for another SKU are placed meanwhile
            receipt = asyncio.create_task(desk.receive_stock("LONG", 3_000))
            during = 0
            while not receipt.done():
                await desk.place_order(CustomerDetails("o@example.com"), Channel.ONLINE, [LineRequest("OTHER", 1)])
                during += not receipt.done()
            await receipt
            # then orders completed while it was put away
            assert await t.Backorder.filter(sku="LONG", status="ALLOCATED").count() == 3_000
            assert during >= 3
            # and the log passed SQLite's 1,000 pages of its default checkpoint, which no commit ran
            [[page]] = (await t.Product._meta.db.execute_query("PRAGMA page_size"))[1]
            assert 1_000 < _log_frames(path, page) < WAL_BOUND_PAGES
            assert _digest(path) == before
        finally:
            held.set()
        # and the checkpointer, released, copies the log into the database file beside the service's connection
        await eventually(lambda: _digest(path) != before, what="the log checkpointed into the database file")
