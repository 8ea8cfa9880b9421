"""Profile one receipt as `serve` runs it: `python -m bench.receipt_profile sqlite|postgres` (or run the file
by path from another checkout's directory, to time that checkout's code: it imports from the working
directory first). The set-up of bench/allocation.py (make_desk with its hooks, the server's GC tuning, a queue
of one-unit backorders from 5,000 customers), without the naive loop or concurrent orders.

RECEIPT_QUEUE: backorders served (default 10,000). RECEIPT_PROFILE=1: cProfile, the top 45 by cumulative
time. RECEIPT_STATEMENTS=1: the time of each SQL statement on PostgreSQL (asyncpg's execute and COPY wrapped).
RECEIPT_LEDGER=1: the range served whole recorded (`shared.LEDGER_FROM`, off in the service until reads derive
a pending range; on SQLite instead of staged, `shared.RECORD_STAGED`, when the demand index finds it) and folded in
afterwards by the desk's background task: its time to fully folded printed too.
RECEIPT_KEPT=1: the seeded queue projected once before the receipt (a purchase order created: a whole settle, which
keeps the SKU's projection and demand index, as the service has them; seed_queue alone leaves neither), so that the
receipt may find its range by the demand index. RECEIPT_RANGE_BY_DEMAND=0: it never does (`shared.RANGE_BY_DEMAND`:
the running sum over the queue, as before 3 December), for before/after in one checkout. RECEIPT_UNITS: units
received (default the queue's size: all of it served). RECEIPT_ORIGIN=N: `uow.ORIGIN_FROM` = N
(migration 0029; unset: the service's): the SKU's place origin moves, and the rows behind the served head are not
rewritten, when that spares N rows their write (1: whenever it spares one; 1000000000: never, as before 3 December).
Prints the receipt's time (and the CPU time this process spent in it: a figure that holds on a loaded machine) and the
process's peak RSS (ru_maxrss: seeding included).
"""

from __future__ import annotations

import asyncio
import collections
import cProfile
import os
import pstats
import resource
import sys
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

sys.path.insert(0, os.getcwd())  # the checkout in the working directory, when run by path from another one

from bench.allocation import START, seed_queue  # noqa: E402
from bench.common import scratch_database  # noqa: E402
from domain.bus import InProcessBus  # noqa: E402
from domain.clock import FixedClock  # noqa: E402
from domain.services import LineRequest, ProductInput  # noqa: E402
from domain.store import models as t  # noqa: E402
from domain.store.db import open_database  # noqa: E402

QUEUE = int(os.environ.get("RECEIPT_QUEUE", "10000"))
LEDGER = bool(os.environ.get("RECEIPT_LEDGER"))
KEPT = os.environ.get("RECEIPT_KEPT", "") not in ("", "0")
UNITS = int(os.environ.get("RECEIPT_UNITS", str(QUEUE)))
SPENT: dict[str, float] = collections.defaultdict(float)
CALLS: collections.Counter[str] = collections.Counter()


def time_statements() -> None:
    import asyncpg.connection as c

    def wrap(name: str, key: Any) -> None:
        original = getattr(c.Connection, name)

        async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            if name == "execute" and len(args) > 1:  # with arguments `execute` runs `_execute`: timed there, once
                return await original(self, *args, **kwargs)
            start = time.perf_counter()
            try:
                return await original(self, *args, **kwargs)
            finally:
                what = key(args)
                SPENT[what] += time.perf_counter() - start
                CALLS[what] += 1

        setattr(c.Connection, name, timed)

    wrap("_execute", lambda a: " ".join(str(a[0]).split())[:90])
    wrap("execute", lambda a: " ".join(str(a[0]).split())[:90])
    wrap("copy_records_to_table", lambda a: f"COPY {a[0]}")


async def run(kind: str) -> None:
    from api.app import make_desk, tune_gc
    from api.settings import Settings
    from notifications.service import Notifications

    async with scratch_database(kind) as url, open_database(url):
        clock = FixedClock(START + timedelta(days=1))
        settings = Settings()
        bus = InProcessBus(maxsize=10)
        desk = make_desk(settings, bus, Notifications(settings.notifications, clock), clock)
        tune_gc()
        from domain.use_cases import shared

        if LEDGER:
            shared.LEDGER_FROM = 1  # readers see a pending range by themselves (domain.store.current)
            shared.RECORD_STAGED = True  # on SQLite recorded, not staged, when the demand index finds the range
        if hasattr(shared, "tell_pending_serves"):  # a checkout with the fan-out: timed whenever a range is told
            _time_fan_out(shared, kind)
        await desk.upsert_product(ProductInput(sku="HOT", name="HOT", price=Decimal("1.00")))
        await desk.receive_stock("HOT", 1)
        await desk.adjust_stock("HOT", -1, "bench set-up")
        await seed_queue("HOT", QUEUE)
        if os.environ.get("RECEIPT_ORIGIN", ""):
            from domain.store import uow

            # the rows a save must spare their write for the SKU's origin to move instead (1: always; 10**9: never)
            uow.ORIGIN_FROM = int(os.environ["RECEIPT_ORIGIN"])
        if os.environ.get("RECEIPT_RANGE_BY_DEMAND") == "0":
            from domain.use_cases import shared

            shared.RANGE_BY_DEMAND = False
        if KEPT:
            supplier = await desk.upsert_supplier(None, "Supplier HOT", 14)
            await desk.create_purchase_order(supplier.id, START.date() + timedelta(days=60), [LineRequest("HOT", 1)],
                                             number="PO-KEEP-HOT")
            kept = await t.Product.filter(sku="HOT").values_list("eta_projection", flat=True)
            print(f"{kind} {QUEUE} projection kept: {bool(kept and kept[0])}", flush=True)
        profile = cProfile.Profile() if os.environ.get("RECEIPT_PROFILE") else None
        SPENT.clear()
        CALLS.clear()
        start, cpu = time.perf_counter(), time.process_time()
        if profile:
            profile.enable()
        with bus.subscribe() as stream:
            await desk.receive_stock("HOT", UNITS)
            _told.extend(stream.queue.get_nowait() for _ in range(stream.queue.qsize()))
        if profile:
            profile.disable()
        receipt = time.perf_counter() - start
        # the process's CPU (its threads' too): what the receipt's Python cost, whatever else ran on the machine
        print(f"{kind} {QUEUE} receipt of {UNITS} {receipt:.3f} s ({time.process_time() - cpu:.3f} s CPU)", flush=True)
        # a range the receipt recorded (RECEIPT_LEDGER, or the service's LEDGER_FROM) folded in before the database
        # closes
        if LEDGER or (hasattr(t, "QueueServe") and await t.QueueServe.filter(sku="HOT").exists()):
            await desk.folded()
            print(f"{kind} {QUEUE} folded {time.perf_counter() - start:.3f} s after the receipt began "
                  f"({time.perf_counter() - start - receipt:.3f} s after it returned)", flush=True)
            await _read_back(kind, bus)
        for what, seconds in sorted(SPENT.items(), key=lambda item: -item[1])[:14]:
            print(f"{seconds:8.3f} s {CALLS[what]:5d}x  {what}")
        if profile:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB", flush=True)


_told: list[Any] = []  # what the receipt published


def _time_fan_out(shared: Any, kind: str) -> None:
    """The fan-out after the receipt's commit (the outbox's customer parts and digests; the webhooks', none here, as
    the bench has no endpoint) timed as the desk's background task runs it before the fold. Only where the checkout
    tells ranges after the commit (`shared.tell_pending_serves`); before, the receipt's own time includes it."""
    tell = getattr(shared, "tell_pending_serves", None)
    if tell is None:
        return

    from domain.store.uow import TortoiseUnitOfWork

    steps: dict[str, list[float]] = {}  # the fan-out's transactions' work, each timed (where it tells in slices)

    def timing(name: str) -> None:
        step = getattr(TortoiseUnitOfWork, name, None)
        if step is None:
            return

        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await step(self, *args, **kwargs)
            finally:
                steps.setdefault(name, []).append(time.perf_counter() - start)

        setattr(TortoiseUnitOfWork, name, call)

    for name in ("tell_served",):
        timing(name)

    async def timed(*args: Any, **kwargs: Any) -> int:
        steps.clear()
        start = time.perf_counter()
        told = int(await tell(*args, **kwargs))
        if told:
            print(f"{kind} {QUEUE} fan-out: {told} range(s) told in {time.perf_counter() - start:.3f} s", flush=True)
            for name, times in steps.items():
                print(f"  {name}: {len(times)} call(s), longest {max(times) * 1000:.0f} ms, "
                      f"total {sum(times):.3f} s", flush=True)
        return told

    shared.tell_pending_serves = timed


async def _read_back(kind: str, bus: Any) -> None:
    """A consumer reading the receipt's range back as per-backorder events once folded (`ports.ServedRanges`): the
    time of the read a fan-out after the commit makes. Only where the checkout has QueueServed."""
    from domain import events as ev

    served = [e for e in _told if type(e).__name__ == "QueueServed"]
    if not served:
        print(f"{kind} {QUEUE} no QueueServed published", flush=True)
        return
    from domain.store.served_ranges import StoredServedRanges

    start = time.perf_counter()
    told = await StoredServedRanges().backorder_events(served[0])
    read = time.perf_counter() - start
    folded = ev.compact(told, 1)
    print(f"{kind} {QUEUE} range read back after the fold: {len(told)} events in {read:.3f} s "
          f"(+{time.perf_counter() - start - read:.3f} s folded into a QueueChanged)", flush=True)
    assert len(folded) == 1


if __name__ == "__main__":
    if os.environ.get("RECEIPT_STATEMENTS"):
        time_statements()
    asyncio.run(run(sys.argv[1] if len(sys.argv) > 1 else "sqlite"))
