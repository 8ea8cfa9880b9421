"""Allocation: stock arrives for a SKU with 100k waiting backorders; all are served.

The project's way (`BackorderDesk.receive_stock`: one transaction, the SKU locked, the queue loaded in
one query, allocated in memory by the priority policy, written back in bulk with history and events) is
timed against a naive per-row ORM loop (fetch each backorder object, update it, save it, one history row
each), on SQLite and PostgreSQL. The naive loop is timed on a 5k queue and its per-backorder cost scaled
to 100k: running it on 100k would take minutes and tell nothing more, it is linear.

Targets (issue 5): 100k served in under 1 s on PostgreSQL, and at least 50x the naive loop.

The receipt is measured as `serve` runs it (issue 15): the desk built by `api.app.make_desk` with the
notification outbox, outbound-webhook and receipt-metrics hooks in the transaction, and the server's GC
tuning (`api.app.tune_gc`). Without them the figure was about half of what the service really takes.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench.common import QUICK, Figure, Timer, per_dialect, report, scratch_database
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.db import open_database
from domain.store.uow import ACTIVE

QUEUE = int(os.environ.get("BENCH_QUEUE", "10000" if QUICK else "100000"))  # the scaling curve: 1k, 10k, 100k
NAIVE_QUEUE = min(QUEUE, 1_000 if QUICK else 5_000)
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))  # receipts timed, each on a fresh queue; the median is the figure
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def seed_queue(sku: str, size: int) -> None:
    """`size` waiting backorders of one unit each, one a second apart (as if placed over a day)."""
    rows = []
    for n in range(size):
        at = START + timedelta(seconds=n)
        rows.append(t.Backorder(
            id=f"{sku[:8]}{n:016d}", order_id=f"o{n:015d}", order_line_id=f"l{n:015d}", sku=sku,
            customer_email=f"c{n % 5000}@example.com", customer_tier="STANDARD", channel="ONLINE", ordered_at=at,
            quantity=1, original_quantity=1, status="WAITING", queue_position=n + 1, created_at=at, updated_at=at))
    await t.Backorder.bulk_create(rows, batch_size=5000)
    # the queue's counts, as the service keeps them on the product (a receipt reads them to choose its path)
    waiting = await t.Backorder.filter(sku=sku, status__in=["WAITING", "PARTIALLY_ALLOCATED"]).count()
    await t.Product.filter(sku=sku).update(waiting_count=waiting, waiting_units=waiting)


async def naive(sku: str, units: int) -> None:
    """What a first version would write: the ORM object by object."""
    from tortoise.transactions import in_transaction

    async with in_transaction():
        stock = await t.StockLevel.get(sku=sku, location="MAIN")
        stock.on_hand += units
        for backorder in await t.Backorder.filter(sku=sku, status__in=ACTIVE).order_by("ordered_at", "id"):
            give = min(units, backorder.quantity - backorder.allocated_quantity)
            if give <= 0:
                break
            backorder.allocated_quantity += give
            backorder.reserved = {"MAIN": backorder.allocated_quantity}
            full = backorder.allocated_quantity == backorder.quantity
            backorder.status = "ALLOCATED" if full else "PARTIALLY_ALLOCATED"
            await backorder.save()
            await t.BackorderHistory.create(backorder_id=backorder.id, at=START, kind="STATUS", old_value="WAITING",
                                            new_value=backorder.status, cause="stock received")
            stock.allocated += give
            units -= give
        await stock.save()


class PeakRss:
    """The process's resident memory, sampled every few milliseconds in a thread while the block runs: the
    peak of the receipt itself (ru_maxrss would report the seeding's peak, which comes first)."""

    def __enter__(self) -> PeakRss:
        import threading

        self.before = self.peak = _rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_mib())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mib())


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def other_sku_orders(desk: BackorderDesk, done: asyncio.Event, latencies: list[float]) -> None:
    """Place one-unit orders for another SKU back to back (in stock: allocated at once) until `done`, as other
    shoppers do while a receipt is being written: how long does each wait?"""
    n = 0
    while not done.is_set():
        n += 1
        with Timer() as one:
            await desk.place_order(CustomerDetails(f"other{n % 50}@example.com"), Channel.ONLINE,
                                   [LineRequest("OTHER", 1)])
        latencies.append(one.seconds)
        await asyncio.sleep(0.01)


async def run(kind: str) -> None:
    from api.app import make_desk, tune_gc
    from api.settings import Settings
    from notifications.service import Notifications

    async with scratch_database(kind) as url, open_database(url):
        clock = FixedClock(START + timedelta(days=1))
        settings = Settings()
        desk = make_desk(settings, InProcessBus(), Notifications(settings.notifications, clock), clock)
        tune_gc()
        hot = [f"HOT{n}" for n in range(REPEAT)]
        for sku in (*hot, "NAIVE", "OTHER"):
            await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
            await desk.receive_stock(sku, 1)  # a stock row exists, as in a live shop
            await desk.adjust_stock(sku, -1, "bench set-up")
        await desk.receive_stock("OTHER", 100_000)
        await seed_queue("NAIVE", NAIVE_QUEUE)

        with Timer() as naive_time:
            await naive("NAIVE", NAIVE_QUEUE)
        naive_scaled = naive_time.seconds / NAIVE_QUEUE * QUEUE
        assert await t.Backorder.filter(sku="NAIVE", status="ALLOCATED").count() == NAIVE_QUEUE

        alone: list[float] = []  # another SKU's order with nothing else going on: the baseline
        for _ in range(20):
            with Timer() as one:
                await desk.place_order(CustomerDetails("alone@example.com"), Channel.ONLINE, [LineRequest("OTHER", 1)])
            alone.append(one.seconds)

        times, peaks, growth, waits = [], [], [], []
        for sku in hot:  # the receipt REPEAT times, each on a fresh queue of QUEUE backorders
            await seed_queue(sku, QUEUE)
            gc.collect()
            done, latencies = asyncio.Event(), []
            others = asyncio.create_task(other_sku_orders(desk, done, latencies))
            await asyncio.sleep(0.05)
            latencies.clear()
            with PeakRss() as rss, Timer() as ours:
                inventory = await desk.receive_stock(sku, QUEUE)
            done.set()
            await others
            served = await t.Backorder.filter(sku=sku, status="ALLOCATED").count()
            assert served == QUEUE and inventory.allocated == QUEUE, (served, inventory.allocated)
            times.append(ours.seconds)
            peaks.append(rss.peak)
            growth.append(rss.peak - rss.before)
            waits.append(max(latencies, default=0.0))
            print(f"  receipt {len(times)}/{REPEAT}: {ours.seconds:.3f} s, RSS peak {rss.peak:.0f} MiB "
                  f"(+{rss.peak - rss.before:.0f}), another SKU's order waited at most {waits[-1] * 1000:.0f} ms "
                  f"({len(latencies)} placed meanwhile)", flush=True)

        median, spread = statistics.median(times), f"{min(times):.3f}-{max(times):.3f} s"
        target_s = 1.0 if kind == "postgres" else None
        report(Figure("allocation", f"{QUEUE // 1000}k backorders served ({kind})", median, "s",
                      baseline=naive_scaled, baseline_name="naive ORM loop",
                      target=(">= 50x naive" + (", < 1 s" if target_s else "")),
                      met=naive_scaled / median >= 50 and (target_s is None or median < target_s),
                      note=f"median of {REPEAT} ({spread}); as serve runs it (outbox, webhook and metrics hooks, "
                           f"server GC tuning); naive measured on {NAIVE_QUEUE:,} ({naive_time.seconds:.2f} s), "
                           "scaled linearly"))
        report(Figure("allocation", f"memory a {QUEUE // 1000}k receipt adds ({kind})", statistics.median(growth),
                      "MiB", target="< 150 MiB at 100k", met=statistics.median(growth) < 150,
                      note=f"peak RSS during the receipt over RSS before it, median of {REPEAT}; the process's "
                           f"peaks {', '.join(f'{p:.0f}' for p in peaks)} MiB (receipts in turn; Python keeps "
                           "what it freed)"))
        report(Figure("allocation", f"another SKU's order during a {QUEUE // 1000}k receipt ({kind})",
                      statistics.median(waits) * 1000, "ms", baseline=statistics.median(alone) * 1000,
                      baseline_name="the same order alone", target="< 100 ms extra",
                      met=statistics.median(waits) - statistics.median(alone) < 0.1,
                      note=f"the longest wait, median of {REPEAT} receipts; same process and event loop, as serve"))


if __name__ == "__main__":
    per_dialect(sys.argv[1:], run)
