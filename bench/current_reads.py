"""What reading through the views costs (`domain.store.current`, migration 0026): `python -m bench.current_reads
sqlite|postgres`.

A scratch database with a queue of `CURRENT_QUEUE` one-unit backorders (default 100,000; 5,000 customers) and the
reads the portal and the agent console make most (a page of 20 backorders with their places, their history; a
customer's backorders listed and counted; the SKU's waiting ones filtered and counted; the KPIs), each timed
`CURRENT_ROUNDS` times (default 30) through the views and through the tables, alternately, with nothing pending
(the common case). Then a receipt of half the queue is recorded as a range (`shared.LEDGER_FROM`) and the same
reads are timed through the views while it is pending (what a reader pays until the fold). Prints the medians.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench.allocation import START, seed_queue
from bench.common import scratch_database
from domain.allocation import FIRST_COME_FIRST_SERVED
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.services import BackorderDesk, ProductInput
from domain.store import current, kpis, queries
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared

QUEUE = int(os.environ.get("CURRENT_QUEUE", "100000"))
ROUNDS = int(os.environ.get("CURRENT_ROUNDS", "30"))


def _reads(sku: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    page = [f"{sku[:8]}{n:016d}" for n in range(QUEUE - 20, QUEUE)]  # the queue's last 20: behind any range
    head = [f"{sku[:8]}{n:016d}" for n in range(20)]  # its first 20: inside a range served
    today = (START + timedelta(days=1)).date()
    return {
        "page of 20 (tail) with places": lambda: queries.backorders_with_turns(page),
        "page of 20 (head) with places": lambda: queries.backorders_with_turns(head),
        "history of 20": lambda: queries.history_by_backorder(page),
        "a customer's backorders, counted": lambda: queries.list_backorders(
            queries.BackorderFilter(customer_email="c7@example.com"), 50, None),
        "the SKU's waiting, first 50, counted": lambda: queries.list_backorders(
            queries.BackorderFilter(sku=sku, statuses=["WAITING"]), 50, None),
        "KPIs": lambda: kpis.kpis(today),
    }


async def _time(read: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await read()
    return time.perf_counter() - start


async def run(kind: str) -> None:
    async with scratch_database(kind) as url, open_database(url):
        clock = FixedClock(START + timedelta(days=1))
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock, fold_in_background=False)
        await desk.upsert_product(ProductInput(sku="HOT", name="HOT", price=Decimal("1.00")))
        await seed_queue("HOT", QUEUE)
        queries.queues_ranked_by(FIRST_COME_FIRST_SERVED)  # as the service ranks queues by default
        reads = _reads("HOT")
        for name, read in reads.items():
            views: list[float] = []
            tables: list[float] = []
            for _ in range(ROUNDS):
                with current.through(True):
                    views.append(await _time(read))
                with current.through(False):
                    tables.append(await _time(read))
            print(f"{kind} {QUEUE} nothing pending  {name:40s} views {statistics.median(views) * 1000:8.2f} ms  "
                  f"tables {statistics.median(tables) * 1000:8.2f} ms  "
                  f"ratio {statistics.median(views) / statistics.median(tables):.2f}", flush=True)
        shared.SERVE_HEAD_FROM, shared.LEDGER_FROM, shared.STAGE_CHUNK = 0, 1, 10**9
        await desk.receive_stock("HOT", QUEUE // 2)
        for name, read in reads.items():
            with current.through(True):
                pending = [await _time(read) for _ in range(max(3, ROUNDS // 5))]
            print(f"{kind} {QUEUE} {QUEUE // 2} pending  {name:40s} views {statistics.median(pending) * 1000:8.2f} ms",
                  flush=True)


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1] if len(sys.argv) > 1 else "sqlite"))
