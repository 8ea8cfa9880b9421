"""The backorders a receipt at the head reaches, found two ways (issue 15, step 5): `python -m bench.range_end
sqlite|postgres`. Seeds the one-unit queue of bench/allocation.py (`RANGE_END_QUEUE`, default 100k, 5,000
customers), has the desk project it once (a purchase order created: a whole settle, which keeps the SKU's projection
and its demand index), then, in a transaction rolled back, alternately reads the head the units reach
(`RANGE_END_UNITS`, default the whole queue) by the running sum over the queue (`waiting_head` without an origin)
and by the demand index (with the SKU's stored origin: one probe for the end, then the index range), `RANGE_END_ROUNDS`
times each (default 7); checks both read the same rows; prints medians with min-max, and each statement's plan.
RANGE_END_UNITS=1000 shows a receipt that serves the head of a long queue: the sum still reads the whole queue.
RANGE_END_ANALYZE=1: `ANALYZE "backorders"` before the reads (the seeded rows' statistics, as autovacuum would have
them on PostgreSQL by then; without them PostgreSQL estimated one row and walked the queue-order index for the probe).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal

sys.path.insert(0, os.getcwd())  # the checkout in the working directory, when run by path from another one

from bench.allocation import START, seed_queue  # noqa: E402
from bench.common import Figure, report, scratch_database  # noqa: E402
from domain.bus import InProcessBus  # noqa: E402
from domain.clock import FixedClock  # noqa: E402
from domain.services import BackorderDesk, LineRequest, ProductInput  # noqa: E402
from domain.store.db import open_database  # noqa: E402
from domain.store.uow import TortoiseUnitOfWork  # noqa: E402

QUEUE = int(os.environ.get("RANGE_END_QUEUE", "100000"))
UNITS = int(os.environ.get("RANGE_END_UNITS", str(QUEUE)))
ROUNDS = int(os.environ.get("RANGE_END_ROUNDS", "7"))
ANALYZE = os.environ.get("RANGE_END_ANALYZE", "") not in ("", "0")


async def keep_projection(desk: BackorderDesk, sku: str) -> None:
    """The seeded queue projected once, as the service would have it (seed_queue writes rows without ETAs or demand
    index): a purchase order created for the SKU settles the whole queue, which keeps its projection."""
    supplier = await desk.upsert_supplier(None, f"Supplier {sku}", 14)
    await desk.create_purchase_order(supplier.id, START.date() + timedelta(days=60), [LineRequest(sku, 1)],
                                     number=f"PO-KEEP-{sku}")


async def run(kind: str) -> None:
    async with scratch_database(kind) as url, open_database(url):
        bus = InProcessBus()
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), FixedClock(START + timedelta(days=1)))
        await desk.upsert_product(ProductInput(sku="HOT", name="HOT", price=Decimal("1.00")))
        await seed_queue("HOT", QUEUE)
        started = time.perf_counter()
        await keep_projection(desk, "HOT")
        print(f"{kind}: the queue projected in {time.perf_counter() - started:.1f} s", flush=True)
        if ANALYZE:  # the planner's statistics as autovacuum would have them by now (PostgreSQL), or SQLite's
            async with TortoiseUnitOfWork(bus) as uow:
                assert uow.conn is not None
                await uow.conn.execute_script('ANALYZE "backorders"')
                await uow.commit()
        timings: dict[str, list[float]] = {"running sum": [], "demand index": []}
        async with TortoiseUnitOfWork(bus) as uow:  # rolled back
            await uow.lock_skus(["HOT"])
            head = await uow.queue_head("HOT", 0)
            assert head is not None and head.stored_origin is not None and head.stored_steps is not None, \
                "the projection was not kept"
            origin = head.stored_origin
            found = {}
            for _ in range(ROUNDS):
                for name, given in (("running sum", None), ("demand index", origin)):
                    start = time.perf_counter()
                    rows, count = await uow.waiting_head("HOT", UNITS, origin=given)
                    timings[name].append((time.perf_counter() - start) * 1000)
                    found[name] = ([r.id for r in rows], count)
            assert found["running sum"] == found["demand index"], "the two reads differ"
            assert uow.conn is not None
            seen: list[tuple[str, list[object]]] = []
            fetch = uow._fetch

            async def recorded(sql: str, values: list[object]) -> object:
                seen.append((sql, values))
                return await fetch(sql, values)

            uow._fetch = recorded  # type: ignore[method-assign]
            await uow.waiting_head("HOT", UNITS, origin=origin)
            await uow.waiting_head("HOT", UNITS)
            explain = "EXPLAIN" if kind == "postgres" else "EXPLAIN QUERY PLAN"
            for (sql, values), name in zip(seen, ("demand index", "running sum"), strict=True):
                plan = await uow.conn.execute_query(f"{explain} {sql}", values)
                print(f"{name}, plan:", *(" | ".join(str(v) for v in dict(r).values()) for r in plan[1]), sep="\n  ")
        served = len(found["demand index"][0])
        sum_ms, probe_ms = statistics.median(timings["running sum"]), statistics.median(timings["demand index"])
        report(Figure("range_end", f"head reached by the demand index ({QUEUE / 1000:g}k, {UNITS:,} units)", probe_ms,
                      "ms", baseline=sum_ms, baseline_name="the running sum",
                      note=f"{served:,} rows each; demand index {min(timings['demand index']):.1f}-"
                           f"{max(timings['demand index']):.1f} ms, running sum {min(timings['running sum']):.1f}-"
                           f"{max(timings['running sum']):.1f} ms, medians of {ROUNDS}, alternated"))


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1] if len(sys.argv) > 1 else "sqlite"))
