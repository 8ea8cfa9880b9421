"""A reader reads in one snapshot, in which whether a receipt's served range is pending was asked first
(`domain.store.current.snapshot`, issue 15): a receipt that commits meanwhile is not half seen, whatever it records.
Runs on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from domain.services import BackorderDesk
from domain.store import current, queries
from domain.store import models as t
from domain.use_cases import shared
from tests.api import support as s

pytestmark = pytest.mark.db


async def test_a_receipt_committed_during_a_snapshot_is_not_seen_in_it(
        desk: BackorderDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: receipts at the head record what they serve whole as a range, folded later (not in the background)
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)
    monkeypatch.setattr(desk, "_fold_in_background", False)
    await s.product(desk, "LAMP")
    ids = [(await s.order(desk, f"c{n}@example.com", ("LAMP", 1))).lines[0].backorder_id for n in range(3)]

    # when: a snapshot has asked (nothing pending) and read once, and a receipt serving two commits meanwhile (a
    # task started in the context the snapshot was opened in: one started in the snapshot's shares its transaction)
    async with current.snapshot():
        assert current.nothing_pending()
        before = await queries.backorders_by_id(ids)
        receipt = asyncio.create_task(desk.receive_stock("LAMP", 2), context=current.for_a_task())
        # (PostgreSQL: it commits now; SQLite: it waits for the snapshot's read transaction to end)
        await asyncio.wait({receipt}, timeout=2)
        # then: the snapshot's later reads see the shop as it was when it began: stock and backorders alike
        stock = (await queries.stock_by_sku(["LAMP"]))["LAMP"]
        again = await queries.backorders_by_id(ids)
        assert sum(level.on_hand for level in stock) == 0
        assert {key: b.status.value for key, b in again.items()} == {
            key: b.status.value for key, b in before.items()} == dict.fromkeys(ids, "WAITING")
    await receipt
    assert await t.QueueServe.filter(sku="LAMP", folded_count=0).count() == 1, "the receipt recorded a range"

    # then: a read after it sees the two served, the range still pending, as a fold will write them
    after = await queries.backorders_by_id(ids)
    assert sorted(b.status.value for b in after.values()) == ["ALLOCATED", "ALLOCATED", "WAITING"]
    await desk.fold_pending_serves()
    assert {key: b.status.value for key, b in (await queries.backorders_by_id(ids)).items()} == {
        key: b.status.value for key, b in after.items()}


async def test_a_unit_of_work_inside_a_snapshot_reads_as_a_writer(desk: BackorderDesk) -> None:
    """A unit of work opened inside a query's snapshot (the allocation previews) reads as any writer: through the
    views, whatever the snapshot answered. Its own transaction (READ COMMITTED on PostgreSQL) is not the snapshot in
    which "nothing pending" was asked: a range recorded between two of its statements would be read as waiting."""
    from domain.bus import InProcessBus
    from domain.store.uow import TortoiseUnitOfWork

    await s.product(desk, "LAMP")
    async with current.snapshot():
        assert current.backorders() == '"backorders_placed"'  # nothing pending: the table, its places shown
        async with TortoiseUnitOfWork(InProcessBus()) as uow:
            assert (current.backorders(), current.history()) == ('"backorders_now"', '"backorder_history_now"')
            assert await uow.get_product("LAMP") is not None
        assert current.backorders() == '"backorders_placed"'  # the snapshot's answer again after it
