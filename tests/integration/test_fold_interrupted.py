"""A receipt recorded as a range (issue 15, `shared.LEDGER_FROM`) whose fold into the rows is cut short leaves the
range pending from its last committed chunk, and the next start's round (`fold_pending_serves`) folds the rest into
exactly what a fold never interrupted writes: a process killed (SIGKILL) in the middle of a chunk's transaction,
a desk closed at shut-down while it folds (`BackorderDesk.close`: the fold cancelled), and the service's own
shut-down (`api.app` lifespan), which once closed the database under the desk's background fold. Two SKUs get the
same queue and receipt; one is interrupted, the other folded whole; their rows, history, stock and counts must be
equal. Runs on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from api.app import create_app
from api.settings import Settings
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from tests.outcome import sku_outcome
from tests.waiting import PATIENCE

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BACKORDERS = 24
CHUNK = 5
COLUMNS = ("quantity", "allocated_quantity", "status", "reserved", "eta_date", "eta_confidence", "eta_source",
           "queue_position", "allocation_reason", "updated_at", "version")

# a fold in a process of its own: `whole` chunks committed, then one more written and, before its commit, the
# process waits to be killed (what a crash or kill -9 in the middle of a chunk leaves)
FOLD_UNTIL_KILLED = """
import asyncio, sys
from domain.bus import InProcessBus
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork

async def main(url, sku, chunk, whole):
    async with open_database(url, apply_migrations=False):
        for _ in range(whole):
            async with TortoiseUnitOfWork(InProcessBus()) as uow:
                await uow.fold_serves(sku, chunk)
                await uow.commit()
        async with TortoiseUnitOfWork(InProcessBus()) as uow:
            await uow.fold_serves(sku, chunk)
            print("mid-chunk", flush=True)
            await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""


@pytest.fixture
def ledger_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)  # recorded whole on SQLite too, not staged


async def _queue_received(desk: BackorderDesk, clock: FixedClock, sku: str) -> list[str]:
    """BACKORDERS backorders of three customers (some of 2 units, some put first by an agent), then a receipt
    serving all but the last whole: one range recorded, not yet folded. Returns the backorders in the order placed
    (and keeps their orders' numbers, drawn at random, to be named alike in the comparison)."""
    clock.set(START)
    await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("1.00")))
    ids, units = [], 0
    for n in range(BACKORDERS):
        clock.advance(timedelta(seconds=1))
        quantity = 2 if n % 5 == 2 else 1
        order = await desk.place_order(CustomerDetails(f"{'abc'[n % 3]}@example.com"), Channel.ONLINE,
                                       [LineRequest(sku, quantity)])
        backorder_id = order.lines[0].backorder_id
        assert backorder_id is not None
        ids.append(backorder_id)
        numbers.append(order.number)
        units += quantity if n < BACKORDERS - 1 else 0
        if n % 7 == 4:
            await desk.reprioritize_backorder(backorder_id, 3, "VIP", "agent Sam")
    clock.advance(timedelta(days=1))
    await desk.receive_stock(sku, units)
    assert await _pending(sku) == BACKORDERS - 1, "the receipt recorded its range"
    return ids


numbers: list[str] = []


async def _pending(sku: str) -> int:
    return sum(count - folded for count, folded in await t.QueueServe.filter(sku=sku).values_list(
        "served_count", "folded_count"))


async def _outcome(sku: str, ids: list[str]) -> dict[str, str]:
    return await sku_outcome(sku, ids, 0, [], COLUMNS, numbers)


async def test_a_fold_killed_mid_chunk_is_folded_by_the_next_start_as_if_never_interrupted(
        db_url: str, ledger_on: None) -> None:
    # given two SKUs with the same queue and receipt, each recorded as a range
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock, fold_in_background=False)
    async with open_database(db_url, apply_migrations=False):
        killed, whole = await _queue_received(desk, clock, "KILLED"), await _queue_received(desk, clock, "WHOLE")
    # when a process folding the first is killed in the middle of its third chunk, two committed
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", FOLD_UNTIL_KILLED, db_url, "KILLED", str(CHUNK),
                                                 "2", cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    assert child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), PATIENCE)
        assert line == b"mid-chunk\n", line
    finally:
        child.kill()
        await child.wait()
    assert child.returncode == -9
    # then the range is pending from its two committed chunks on: the third was rolled back
    async with open_database(db_url, apply_migrations=False):
        assert await _pending("KILLED") == BACKORDERS - 1 - 2 * CHUNK
        # and the next start's round folds the rest (and the other SKU whole): the same outcome for both
        assert sorted(await BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock).fold_pending_serves()) \
            == ["KILLED", "WHOLE"]
        assert await _pending("KILLED") == await _pending("WHOLE") == 0
        assert await _outcome("KILLED", killed) == await _outcome("WHOLE", whole)


async def test_a_desk_closed_while_it_folds_leaves_the_range_pending_for_the_next_start(
        db: str, ledger_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "FOLD_CHUNK", 1)  # a transaction a backorder: the fold is cut short between many
    clock = FixedClock(START)
    whole = await _queue_received(BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock,
                                                fold_in_background=False), clock, "WHOLE")
    # given a receipt whose range the desk began folding in the background
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock)
    cut = await _queue_received(desk, clock, "CUT")
    # when the desk is closed at once (shut-down past its wait)
    await desk.close(wait_seconds=0)
    # then its fold ended (cancelled), nothing more is started, and the range is left pending
    assert not [task for task in asyncio.all_tasks() if task.get_name().startswith("fold-")]
    left = await _pending("CUT")
    assert 0 < left <= BACKORDERS - 1
    # and the next start's round folds it into what a fold never interrupted writes
    await BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock).fold_pending_serves()
    assert await _pending("CUT") == await _pending("WHOLE") == 0
    assert await _outcome("CUT", cut) == await _outcome("WHOLE", whole)


async def test_the_service_shut_down_ends_the_desk_folds_before_it_closes_the_database(
        db_url: str, ledger_on: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(shared, "FOLD_CHUNK", 1)  # many transactions: still folding when the shut-down begins
    clock = FixedClock(START)
    app = create_app(Settings(database_url=db_url, development=False, inprocess_worker=False), clock=clock)
    desk: BackorderDesk = app.state.desk
    # given the service running, a receipt recorded as a range and its background fold just started
    with caplog.at_level(logging.WARNING):
        async with app.router.lifespan_context(app):
            ids = await _queue_received(desk, clock, "SHUT")
            assert [task for task in asyncio.all_tasks() if task.get_name() == "fold-SHUT"]
        # when the service shuts down, then no fold outlives the database, and none failed
        assert not [task for task in asyncio.all_tasks() if task.get_name().startswith("fold-")]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    # and what it folded (all of it, the wait being long enough here) is what a fold never interrupted writes
    async with open_database(db_url, apply_migrations=False):
        assert await _pending("SHUT") == 0
        whole = await _queue_received(BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock,
                                                    fold_in_background=False), clock, "WHOLE")
        await BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock).fold_pending_serves()
        assert await _outcome("SHUT", ids) == await _outcome("WHOLE", whole)

