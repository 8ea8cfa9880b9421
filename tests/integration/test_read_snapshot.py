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


async def test_a_statement_the_database_refuses_leaves_the_snapshot_reading(desk: BackorderDesk) -> None:
    """graphql-core runs a query's sibling fields concurrently in its one snapshot; on PostgreSQL a statement the
    database refuses aborts the snapshot's transaction ("current transaction is aborted"), and every later field
    failed with it. The snapshot rolls back to a savepoint taken after its BEGIN (domain.store.transactions)."""
    # given: a product, and a snapshot that asked whether a range is pending
    await s.product(desk, "LAMP")
    async with current.snapshot():
        assert current.nothing_pending()
        # when: the database refuses one of its statements
        with pytest.raises(Exception, match="no_such_column"):
            await t.Order._meta.db.execute_query('SELECT no_such_column FROM "orders"')  # (SQLite too: unquoted)
        # then: its later statements still read, in the same snapshot
        assert list(await queries.products_by_sku(["LAMP"])) == ["LAMP"]


async def test_gathered_reads_end_before_the_snapshot_does_when_one_fails(desk: BackorderDesk) -> None:
    """`current.all_of`: a query's gathered reads share its snapshot's connection. `asyncio.gather` raised a read's
    failure at once, while a sibling's statement was still on that connection; the snapshot then ended (on
    PostgreSQL its driver refused: "another operation is in progress", the answer that error, not the read's)."""
    from domain.errors import InvalidInput

    # given: a product, and two reads gathered in a snapshot: one that fails once the other's statement is on the
    # snapshot's connection
    await s.product(desk, "LAMP")
    on_the_connection = asyncio.Event()
    ended: list[str] = []

    async def sibling() -> object:
        on_the_connection.set()  # (its statement is sent before this task next yields)
        found = await queries.products_by_sku(["LAMP"])
        ended.append("sibling")
        return found

    async def failing() -> object:
        await on_the_connection.wait()
        raise InvalidInput("refused")

    # when: the failure reaches the snapshot's block
    at_the_failure: list[str] | None = None
    with pytest.raises(InvalidInput):
        async with current.snapshot():
            try:
                await current.all_of(sibling(), failing())
            except InvalidInput:
                at_the_failure = list(ended)
                raise

    # then: the sibling had ended by then, so the snapshot ended with nothing on its connection; the read's own
    # failure is what came out (pytest.raises)
    assert at_the_failure == ["sibling"]


async def test_a_snapshot_leaves_nothing_for_the_cyclic_collector(db_url: str) -> None:
    """A query's snapshot (PostgreSQL: a read-only transaction wrapper of its own) is freed by reference counting
    when it ends, like every object a request makes (tests/api/test_request_garbage.py): under load the cyclic
    collector's passes took a seventh of the portal's CPU. The pool keeps no timer on its idle connections here
    (`max_inactive_connection_lifetime=0`): asyncpg's timer keeps the context it was set in, with the transaction's
    wrapper, for minutes, so a cycle through the wrapper showed up in the request test only when the loop happened
    to drop that timer during the request (1 run in 6 on PostgreSQL)."""
    import gc

    from domain.store.db import is_postgres, open_database

    async def read() -> None:
        async with current.snapshot():
            await queries.products_by_sku(["LAMP"])

    async with open_database(db_url + ("?max_inactive_connection_lifetime=0" if is_postgres(db_url) else ""),
                             apply_migrations=False):
        await asyncio.create_task(read())  # anything made once (plans, caches) made before
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            # when: a snapshot reads and ends
            await asyncio.create_task(read())
            gc.collect()
            garbage = sorted({f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage
                              if type(o).__module__.split(".")[0] in {"domain", "tortoise", "asyncpg"}})
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        # then: nothing of it was left for the cyclic collector
        assert garbage == [], garbage
