"""A slice of the fold of a recorded range reads the queue-order index for the backorders it folds, not for the whole
queue left (issue 15, "the fold set-based"): on PostgreSQL the slice's ORDER BY named the id in code point order
(`COLLATE "C"`), which the index's id column (the database's collation) cannot give, so every slice read and sorted
every waiting backorder of the agent priority: 100k folded in 200 slices read 10M index entries, and the fold took
14-16 s on a quiet machine. Counted by PostgreSQL for the fold's own transaction (`pg_stat_get_xact_tuples_returned` of the index), so it
holds whatever the machine's load. PostgreSQL only (SQLite's index orders ids by code point itself)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bench.allocation import seed_queue
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.services import BackorderDesk, ProductInput
from domain.store import models as t
from domain.store import uow as store
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared

QUEUE = 3_000
SLICE = 50


@pytest.fixture
def ledger_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)
    monkeypatch.setattr(store, "FOLD_SLICE", SLICE)


async def _index_entries_read(uow: TortoiseUnitOfWork) -> int:
    assert uow.conn is not None
    rows = await uow.conn.execute_query_dict(
        "SELECT pg_stat_get_xact_tuples_returned('backorders_waiting_queue'::regclass) AS n")
    return int(rows[0]["n"])


async def test_a_fold_slice_reads_the_index_entries_it_folds_not_the_queue_left(db: Any, ledger_on: None) -> None:
    if t.Product._meta.db.capabilities.dialect != "postgres":
        pytest.skip("PostgreSQL's plan: SQLite's index gives code point order itself")
    # given a queue of QUEUE one-unit backorders served whole by a receipt recorded as a range, not folded
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC)),
                         fold_in_background=False)
    await desk.upsert_product(ProductInput(sku="SLICED", name="SLICED", price=Decimal("1.00")))
    await seed_queue("SLICED", QUEUE)
    await desk.receive_stock("SLICED", QUEUE)
    assert await t.QueueServe.filter(sku="SLICED", folded_count=0).count() == 1
    async with TortoiseUnitOfWork(InProcessBus()) as uow:
        before = await _index_entries_read(uow)
        # when one slice of it is folded
        left = await uow.fold_serves("SLICED", SLICE)
        # then the queue-order index gave that slice about its own backorders (and the probes' few), not the QUEUE
        # still waiting (the entries of rows folded by committed transactions before it are read once each, dead,
        # by whichever scan meets them first: so the first slice is the one that shows what a slice reads)
        read = await _index_entries_read(uow) - before
        assert left == QUEUE - SLICE
        assert read <= 2 * SLICE, read
        await uow.commit()
