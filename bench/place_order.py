"""Placing one order behind 0, 1k, 10k and 100k waiting backorders of its SKU (issue 15).

Target: an order costs the same behind 100k waiting as behind none, within 2x. A new backorder joins the
queue's tail from its summary (`SkuInventory.can_append`: the counts kept on the product row and the
queue's two ends, read by index), so its cost should not grow with the queue. For comparison, the same
placement with the queue loaded whole (the way every placement worked before) is timed in the same run.

Each queue is seeded in bulk, then one order is placed on it, which loads and re-projects it whole (the
seeded rows have no ETA yet, as a queue does once a day when its lead-time ETAs move); then ROUNDS rounds
each place one order on every SKU in turn, and the median per queue length is compared with the median
behind an empty queue, measured in the same rounds.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench.allocation import seed_queue
from bench.common import QUICK, Figure, Timer, per_dialect, report, scratch_database
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork

SIZES = [0, 1_000, 10_000] if QUICK else [0, 1_000, 10_000, 100_000]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7" if QUICK else "15"))
WHOLE_ROUNDS = 3  # the old way behind 100k takes seconds a time
START = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)  # after the last seeded backorder (100k a second apart)


class WholeQueueUnitOfWork(TortoiseUnitOfWork):
    """The placement as it was before: the SKU's whole queue loaded, ranked and re-projected."""

    async def load_inventories(self, skus: Sequence[str], *, appending_at: datetime | None = None) -> None:
        await super().load_inventories(skus)


def sku_for(size: int) -> str:
    return f"Q{size:07d}"


async def run(kind: str) -> None:
    async with scratch_database(kind) as url, open_database(url):
        clock = FixedClock(START)
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), clock)
        whole = BackorderDesk(lambda: WholeQueueUnitOfWork(InProcessBus()), clock)
        for size in SIZES:
            sku = sku_for(size)
            await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00"), lead_time_days=20))
            await seed_queue(sku, size)
        count = 0

        async def place(on: BackorderDesk, sku: str) -> float:
            nonlocal count
            count += 1
            clock.advance(timedelta(seconds=1))
            with Timer() as took:
                await on.place_order(CustomerDetails(f"bench{count % 500}@example.com"), Channel.ONLINE,
                                     [LineRequest(sku, 1)])
            return took.seconds

        warm = {size: await place(desk, sku_for(size)) for size in SIZES}  # loads each queue whole once
        times: dict[int, list[float]] = {size: [] for size in SIZES}
        whole_times: dict[int, list[float]] = {size: [] for size in SIZES}
        for round_ in range(ROUNDS):
            for size in SIZES:
                times[size].append(await place(desk, sku_for(size)))
                if round_ < WHOLE_ROUNDS:
                    whole_times[size].append(await place(whole, sku_for(size)))
        empty = statistics.median(times[0]) * 1000
        for size in SIZES[1:]:
            ms = [t_ * 1000 for t_ in times[size]]
            median = statistics.median(ms)
            report(Figure("place_order", f"cost behind {size:,} waiting / behind none ({kind})", median / empty, "x",
                          target="<= 2x", met=median <= 2 * empty,
                          note=f"median {median:.1f} ms (of {len(ms)}, spread {min(ms):.1f}-{max(ms):.1f}) against "
                               f"{empty:.1f} ms behind none, same rounds"))
        for size in SIZES:
            old = statistics.median(whole_times[size]) * 1000
            ours = statistics.median(times[size]) * 1000
            report(Figure("place_order", f"one order behind {size:,} waiting ({kind})", ours, "ms",
                          baseline=old, baseline_name="queue loaded whole, as before",
                          note=f"median of {len(times[size])}; whole: median of {len(whole_times[size])}; the first "
                               f"order on the seeded queue (loads and projects it whole) {warm[size] * 1000:.0f} ms"))

if __name__ == "__main__":
    per_dialect(sys.argv[1:], run)
