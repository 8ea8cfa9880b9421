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

The receipt takes the path the service's setting gives it (`shared.LEDGER_FROM`: a receipt at the head recording
the range it served whole, its rows folded in after the commit): `BENCH_LEDGER=1` forces the recorded path,
`BENCH_LEDGER=0` the rows written in the receipt (staged on SQLite). Each queue is projected once before its receipt
(a purchase order on the way), as a queue grown by orders is in the service (its projection and demand index kept:
what lets a receipt find its range by the index); `BENCH_KEPT=0` leaves it unprojected as `seed_queue` makes it.
After the receipt returns, the work the desk left to the background (a recorded range told and folded) is waited
for, and timed, with the other SKU's orders still running. Memory: the process's peak resident set during the
receipt (the kernel's high-water mark, reset once the seeding's freed memory went back to the system), and during
the background work after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import statistics
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.common import QUICK, Figure, Timer, per_dialect, report, scratch_database
from bench.loop_lag import LoopLag
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.bulk import is_postgres
from domain.store.db import open_database
from domain.store.uow import ACTIVE

QUEUE = int(os.environ.get("BENCH_QUEUE", "10000" if QUICK else "100000"))  # the scaling curve: 1k, 10k, 100k
NAIVE_QUEUE = min(QUEUE, 1_000 if QUICK else 5_000)
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))  # receipts timed, each on a fresh queue; the median is the figure
# backorders a staged receipt serves a transaction (`domain.use_cases.shared.STAGE_CHUNK`); unset: the service's
STAGE_CHUNK = int(os.environ["BENCH_STAGE_CHUNK"]) if os.environ.get("BENCH_STAGE_CHUNK") else None
# BENCH_LAG=ms: each stretch of a receipt that held the event loop longer than that, and where (bench.loop_lag)
LAG_MS = float(os.environ["BENCH_LAG"]) if os.environ.get("BENCH_LAG") else None
# BENCH_LEDGER=1|0: the range recorded (`shared.LEDGER_FROM` = 1, and on SQLite instead of staged:
# `shared.RECORD_STAGED`) or never (10**9); unset: the service's settings
LEDGER = os.environ.get("BENCH_LEDGER", "")
KEPT = os.environ.get("BENCH_KEPT", "1") != "0"  # each queue projected once before its receipt, as the service's are
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def seed_queue(sku: str, size: int, customers: int = 5000) -> None:
    """`size` waiting backorders of one unit each, one a second apart (as if placed over a day), from `customers`
    customers in turn. The tests seed their long queues with it too (bench never imports tests).
    The first is made by the ORM (every default of the model as the service writes it), the rest copied from it by
    the database with their own keys, customer, times and place (`INSERT ... SELECT` over a series): 100k ORM objects
    made in the process left their memory mapped, and the process's resident set after seeding (153-189 MiB, growing
    with each queue seeded) was what the receipt's peak measured, not the receipt (+0 over it)."""
    if size <= 0:
        return
    await t.Backorder.create(**_seeded(sku, 0, customers))
    if size > 1:
        db = t.Backorder._meta.db
        columns = list(t.Backorder._meta.fields_db_projection.values())
        postgres = is_postgres(db)
        pad = "lpad(s.n::text, {w}, '0')" if postgres else "substr('{zeros}' || s.n, -{w}, {w})"
        later = ("f.\"{c}\" + s.n * interval '1 second'" if postgres else
                 "strftime('%Y-%m-%d %H:%M:%S', f.\"{c}\", '+' || s.n || ' seconds') || '+00:00'")
        varying = {
            "id": f"'{sku[:8]}' || " + pad.format(w=16, zeros="0" * 16),
            "order_id": "'o' || " + pad.format(w=15, zeros="0" * 15),
            "order_line_id": "'l' || " + pad.format(w=15, zeros="0" * 15),
            "customer_email": f"'c' || (s.n % {int(customers)}) || '@example.com'",
            "queue_position": "s.n + 1",
            **{c: later.format(c=c) for c in ("ordered_at", "created_at", "updated_at")},
        }
        series = ("generate_series(1, $2::int) AS s(n)" if postgres else
                  "(WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < ?) SELECT n FROM r) AS s")
        listed = ", ".join(f'"{c}"' for c in columns)
        made = ", ".join(varying.get(c, f'f."{c}"') for c in columns)
        first = "$1" if postgres else "?"
        first_id = f"{sku[:8]}{0:016d}"
        values = [first_id, size - 1] if postgres else [size - 1, first_id]  # SQLite's marks in text order
        await db.execute_query(f'INSERT INTO "backorders" ({listed}) SELECT {made} FROM "backorders" AS f '
                               f'CROSS JOIN {series} WHERE f."id" = {first}', values)
    # the queue's counts, as the service keeps them on the product (a receipt reads them to choose its path)
    waiting = await t.Backorder.filter(sku=sku, status__in=["WAITING", "PARTIALLY_ALLOCATED"]).count()
    await t.Product.filter(sku=sku).update(waiting_count=waiting, waiting_units=waiting)


def _seeded(sku: str, n: int, customers: int) -> dict[str, Any]:
    """The fields of `seed_queue`'s backorder `n` (what the database copies for the rest, by the same rules)."""
    at = START + timedelta(seconds=n)
    return dict(id=f"{sku[:8]}{n:016d}", order_id=f"o{n:015d}", order_line_id=f"l{n:015d}", sku=sku,
                customer_email=f"c{n % customers}@example.com", customer_tier="STANDARD", channel="ONLINE",
                ordered_at=at, quantity=1, original_quantity=1, status="WAITING", queue_position=n + 1,
                created_at=at, updated_at=at)


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


def fresh_high_water() -> float:
    """The process's resident set now (MiB), after giving back to the system what the seeding freed (glibc's
    `malloc_trim`) and resetting the kernel's high-water mark to it (`/proc/self/clear_refs` 5, Linux): what
    `high_water()` reads afterwards is the peak of what ran since, sampling or not."""
    import ctypes

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _rss_mib()


def high_water() -> float:
    """The kernel's high-water mark of the process's resident set (VmHWM, MiB) since `fresh_high_water`."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def ledger_from() -> int:
    """`shared.LEDGER_FROM` as BENCH_LEDGER asks (set), or as the service has it; the value the receipts run with."""
    from domain.use_cases import shared

    if LEDGER in ("1", "on"):
        shared.LEDGER_FROM = 1
        shared.RECORD_STAGED = True  # on SQLite too: recorded, not staged, when the demand index finds the range
    elif LEDGER in ("0", "off"):
        shared.LEDGER_FROM = 10**9
    return shared.LEDGER_FROM


async def project(desk: BackorderDesk, sku: str) -> bool:
    """A purchase order on the way for `sku`: its queue projected whole once (settled), which keeps the SKU's
    projection and demand index as a queue grown by orders has them. Returns whether the projection is kept."""
    supplier = await desk.upsert_supplier(None, f"Supplier {sku}", 14)
    await desk.create_purchase_order(supplier.id, START.date() + timedelta(days=60), [LineRequest(sku, 1)],
                                     number=f"PO-KEEP-{sku}")
    kept = await t.Product.filter(sku=sku).values_list("eta_projection", flat=True)
    return bool(kept and kept[0])


# BENCH_SERVED=0: the other SKU's orders as bare `place_order` calls (one turn on SQLite's connection), as before 3
# December; by default as a served placeOrder uses the connection: the request marked in flight (what api.turns does),
# its agent token read, its transaction, its order read back (the payload)
SERVED = os.environ.get("BENCH_SERVED", "1") != "0"


def _in_flight() -> Any:
    """An HTTP request in flight (domain.store.turns), or nothing on code from before it (a "before" run)."""
    try:
        from domain.store import turns
    except ImportError:
        return contextlib.nullcontext()
    return turns.request()


async def one_order(desk: BackorderDesk, n: int, secret: str | None) -> None:
    """A one-unit order for the in-stock SKU; with `secret` (an agent's token) as it is served."""
    if secret is None:
        await desk.place_order(CustomerDetails(f"other{n % 50}@example.com"), Channel.ONLINE, [LineRequest("OTHER", 1)])
        return
    from domain.store import tokens

    with _in_flight():
        assert await tokens.verify_token(secret) is not None
        order = await desk.place_order(CustomerDetails(f"other{n % 50}@example.com"), Channel.ONLINE,
                                       [LineRequest("OTHER", 1)])
        assert await t.Order.filter(id=order.id).exists()


async def other_sku_orders(desk: BackorderDesk, done: asyncio.Event, latencies: list[float],
                           secret: str | None, ended: list[float] | None = None) -> None:
    """Place one-unit orders for another SKU back to back (in stock: allocated at once) until `done`, as other
    shoppers do while a receipt is being written: how long does each wait? (`ended`: when each ended.)"""
    n = 0
    while not done.is_set():
        n += 1
        with Timer() as one:
            await one_order(desk, n, secret)
        latencies.append(one.seconds)
        if ended is not None:
            ended.append(one.start + one.seconds)
        await asyncio.sleep(0.01)


def time_chunks() -> list[float]:
    """The seconds of each transaction that puts away a chunk of a staged receipt (none before chunks existed)."""
    from domain.use_cases import shared

    chunks: list[float] = []
    put_away = getattr(shared, "_put_away_chunk", None)
    if put_away is None:
        return chunks
    if STAGE_CHUNK is not None:
        shared.STAGE_CHUNK = STAGE_CHUNK  # type: ignore[attr-defined]

    async def timed(*args: object) -> bool:
        TRACE.clear()
        with Timer() as one:
            more = await put_away(*args)
        chunks.append(one.seconds)
        if TRACING:
            traces.append((one.seconds, list(TRACE)))
        return bool(more)
    shared._put_away_chunk = timed  # type: ignore[attr-defined]
    return chunks


# BENCH_TRACE=1: each chunk's statements (aiosqlite's calls, their wait for its thread included) and the
# collector's pauses, to tell what a slow chunk spent its time on; the slowest are printed after each receipt
TRACING = bool(os.environ.get("BENCH_TRACE"))
TRACE: list[tuple[str, float]] = []
traces: list[tuple[float, list[tuple[str, float]]]] = []


def trace_statements() -> None:
    import time

    import aiosqlite

    def timed(name: str, method: Any) -> Any:
        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await method(self, *args, **kwargs)
            finally:
                sql = str(args[0]) if args and isinstance(args[0], str) else ""
                TRACE.append((f"{name} {' '.join(sql.split())[:90]}", time.perf_counter() - started))
        return call

    for name in ("execute", "executemany", "execute_fetchall", "execute_insert", "commit", "rollback"):
        setattr(aiosqlite.Connection, name, timed(name, getattr(aiosqlite.Connection, name)))
    gc_started: list[float] = []

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[:] = [time.perf_counter()]
        elif gc_started:
            TRACE.append((f"gc generation {info.get('generation')}", time.perf_counter() - gc_started[0]))
    gc.callbacks.append(on_gc)


def print_traces(top: int = 5) -> None:
    if not traces:
        return
    median = statistics.median(seconds for seconds, _ in traces)
    print(f"  chunk traces: {len(traces)} chunks, median {median * 1000:.0f} ms; the {top} slowest:")
    for seconds, steps in sorted(traces, key=lambda trace: -trace[0])[:top]:
        gc_time = sum(took for what, took in steps if what.startswith("gc"))
        sql_time = sum(took for what, took in steps if not what.startswith("gc"))
        print(f"    {seconds * 1000:.0f} ms: {len(steps)} calls, SQL {sql_time * 1000:.0f} ms, "
              f"GC {gc_time * 1000:.0f} ms")
        for what, took in sorted(steps, key=lambda step: -step[1])[:4]:
            print(f"      {took * 1000:7.1f} ms  {what}")
    traces.clear()


async def run(kind: str) -> None:
    from api.app import make_desk, tune_gc
    from api.settings import Settings
    from notifications.service import Notifications

    chunks = time_chunks()
    ledger = ledger_from()
    print(f"  LEDGER_FROM {ledger:,} ({'BENCH_LEDGER=' + LEDGER if LEDGER else 'the service' + chr(39) + 's'}); "
          f"queues {'projected once' if KEPT else 'not projected'}", flush=True)
    if TRACING:
        trace_statements()

    async with scratch_database(kind) as url, open_database(url):
        clock = FixedClock(START + timedelta(days=1))
        settings = Settings()
        desk = make_desk(settings, InProcessBus(), Notifications(settings.notifications, clock), clock)
        tune_gc()
        if os.environ.get("BENCH_SWITCH_MS"):  # experiment: the interpreter's thread switch interval
            sys.setswitchinterval(float(os.environ["BENCH_SWITCH_MS"]) / 1000)
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

        secret = None
        if SERVED:
            from domain.store import tokens

            _, secret = await tokens.create_token("shop front", "agent")
            await tokens.verify_token(secret)  # its use recorded: a read only from now on
        alone: list[float] = []  # another SKU's order with nothing else going on: the baseline
        for n in range(20):
            with Timer() as one:
                await one_order(desk, n, secret)
            alone.append(one.seconds)

        times, peaks, growth, waits, after, after_waits, after_peaks = [], [], [], [], [], [], []
        for sku in hot:  # the receipt REPEAT times, each on a fresh queue of QUEUE backorders
            await seed_queue(sku, QUEUE)
            kept = await project(desk, sku) if KEPT else False
            base = fresh_high_water()
            chunks.clear()
            done, latencies, ended = asyncio.Event(), [], []
            others = asyncio.create_task(other_sku_orders(desk, done, latencies, secret, ended))
            await asyncio.sleep(0.05)
            latencies.clear()
            ended.clear()
            lag = LoopLag(LAG_MS / 1000) if LAG_MS is not None else None
            async with lag or contextlib.nullcontext():
                with PeakRss() as rss, Timer() as ours, _in_flight() if SERVED else contextlib.nullcontext():
                    inventory = await desk.receive_stock(sku, QUEUE)  # served: a receiveStock request
            peak = max(high_water(), rss.peak)
            recorded = await t.QueueServe.filter(sku=sku).count()
            # what the desk left to the background (a recorded range told, then folded a chunk a transaction), the
            # other SKU's orders still running: until then the receipt's backorders are not all ALLOCATED in rows
            fresh_high_water()
            if lag is not None:
                print(lag.report(), flush=True)
            lag = LoopLag(LAG_MS / 1000) if LAG_MS is not None else None  # the background work's stretches apart
            async with lag or contextlib.nullcontext():
                with Timer() as background:
                    await desk.folded()
            after_peak = high_water()
            done.set()
            await others
            served = await t.Backorder.filter(sku=sku, status="ALLOCATED").count()
            assert served == QUEUE and inventory.allocated == QUEUE, (served, inventory.allocated)
            times.append(ours.seconds)
            peaks.append(peak)
            growth.append(peak - base)
            # the orders begun before the receipt returned waited for it; those begun while the background work ran,
            # for that
            returned = ours.start + ours.seconds
            during = [one for one, at in zip(latencies, ended, strict=True) if at - one < returned]
            latencies[:] = [one for one, at in zip(latencies, ended, strict=True)
                            if returned <= at - one < background.start + background.seconds]
            waits.append(max(during, default=0.0))
            after.append(background.seconds)
            after_waits.append(max(latencies, default=0.0))
            after_peaks.append(after_peak)
            print(f"  receipt {len(times)}/{REPEAT}: {ours.seconds:.3f} s "
                  f"({'range recorded' if recorded else 'rows written'}; projection "
                  f"{'kept' if kept else 'not kept'}), RSS peak {peak:.0f} MiB (+{peak - base:.0f} over "
                  f"{base:.0f}), another SKU's order waited at most {waits[-1] * 1000:.0f} ms "
                  f"({len(during)} placed meanwhile)" + (
                      f"; {len(chunks)} chunk transactions after the first, longest {max(chunks) * 1000:.0f} ms, "
                      f"median {statistics.median(chunks) * 1000:.0f} ms" if chunks else ""), flush=True)
            if recorded:
                print(f"    then told and folded in the background: {background.seconds:.3f} s, RSS peak "
                      f"{after_peak:.0f} MiB, another SKU's order waited at most {after_waits[-1] * 1000:.0f} ms "
                      f"({len(latencies)} placed meanwhile)", flush=True)
            print_traces()
            if lag is not None:
                print("    the background work's:", flush=True)
                print(lag.report(), flush=True)

        median, spread = statistics.median(times), f"{min(times):.3f}-{max(times):.3f} s"
        target_s = 1.0 if kind == "postgres" else None
        report(Figure("allocation", f"{QUEUE // 1000}k backorders served ({kind})", median, "s",
                      baseline=naive_scaled, baseline_name="naive ORM loop",
                      target=(">= 50x naive" + (", < 1 s" if target_s else "")),
                      met=naive_scaled / median >= 50 and (target_s is None or median < target_s),
                      note=f"median of {REPEAT} ({spread}); as serve runs it (outbox, webhook and metrics hooks, "
                           f"server GC tuning); naive measured on {NAIVE_QUEUE:,} ({naive_time.seconds:.2f} s), "
                           "scaled linearly"))
        report(Figure("allocation", f"peak RSS of a {QUEUE // 1000}k receipt ({kind})", statistics.median(peaks),
                      "MiB", target="< 150 MiB at 100k", met=statistics.median(peaks) < 150,
                      note=f"the process's high-water mark during the receipt, reset after the seeding, median of "
                           f"{REPEAT} ({', '.join(f'{p:.0f}' for p in peaks)} MiB); added over the resident set "
                           f"before it {', '.join(f'{g:.0f}' for g in growth)} MiB"))
        if any(after):
            report(Figure("allocation", f"a {QUEUE // 1000}k receipt's background work ({kind})",
                          statistics.median(after), "s",
                          note=f"after the receipt returned: its range told and folded, median of {REPEAT} "
                               f"({min(after):.3f}-{max(after):.3f} s); peak RSS meanwhile "
                               f"{', '.join(f'{p:.0f}' for p in after_peaks)} MiB; another SKU's longest wait "
                               f"meanwhile {', '.join(f'{w * 1000:.0f}' for w in after_waits)} ms"))
        if any(after):
            report(Figure("allocation", f"another SKU's order during a {QUEUE // 1000}k receipt's background work "
                          f"({kind})", statistics.median(after_waits) * 1000, "ms",
                          baseline=statistics.median(alone) * 1000, baseline_name="the same order alone",
                          target="< 100 ms extra",
                          met=statistics.median(after_waits) - statistics.median(alone) < 0.1,
                          note=f"the longest wait while the range was told and folded, median of {REPEAT} "
                               f"({', '.join(f'{w * 1000:.0f}' for w in after_waits)} ms)"))
        report(Figure("allocation", f"another SKU's order during a {QUEUE // 1000}k receipt ({kind})",
                      statistics.median(waits) * 1000, "ms", baseline=statistics.median(alone) * 1000,
                      baseline_name="the same order alone", target="< 100 ms extra",
                      met=statistics.median(waits) - statistics.median(alone) < 0.1,
                      note=f"the longest wait, median of {REPEAT} receipts; same process and event loop, as serve; "
                           + ("as served: in flight, token read, transaction, read back" if SERVED
                              else "place_order alone")))


if __name__ == "__main__":
    per_dialect(sys.argv[1:], run)
