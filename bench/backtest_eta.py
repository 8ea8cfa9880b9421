"""Backtest of ETAs (issue 14): today's rule (a PO's own date) against the rule that learns from suppliers.

The real order stream (`../shared/data/online-retail-sample.csv.gz`, the first BENCH_INVOICES invoices; 0:
all) is replayed in time order through the real use cases (`BackorderDesk` on a scratch SQLite database,
the clock moved to each invoice's time). Every SKU belongs to one of five suppliers (a stable hash of the
SKU) and starts with START_SHARE of the demand it will see; each supplier's purchase order comes every
EVERY_DAYS days, created LEAD_DAYS before its date, and brings what its SKUs sell in the EVERY_DAYS before it.
Each delivery is late by that supplier's known, noisy pattern (`PATTERNS`, drawn from a seeded generator,
the same draws for both rules): one is prompt, one mostly prompt, one rarely late by a week, one reliably
about 5 days late, one erratic. Before each day's orders the deliveries due that day are received
(`receive_purchase_order`) and time-overtaken ETAs are re-projected (`refresh_stale_etas`, as the worker does).
After the last invoice the remaining deliveries still come, so nearly every backorder is served.

Measured per backorder: the date the customer was told when it was created (`promised_date`) against the
date it became fully allocated. Reported for each rule: ETA error in days (actual - promised: mean, p50,
p90), the share of customers told a date that was then missed (served after it, or never served and the
date passed), and the median promise (days from the order to the date told). Targets: missed promises at
least halved; the median promise no more than 2 days later.

`python -m bench backtest_eta` (BENCH_INVOICES=0 for the whole year; BENCH_ETA_QUANTILE for the rule's
quantile, default the service's 0.8).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bench.common import QUICK, Figure, Timer, report, scratch_database
from bench.order_stream import Invoice, read_stream

INVOICES = int(os.environ.get("BENCH_INVOICES") or (600 if QUICK else 4_000)) or 1_000_000
QUANTILE = float(os.environ.get("BENCH_ETA_QUANTILE") or 0.8)
START_SHARE, EVERY_DAYS, LEAD_DAYS = 0.10, 4, 14
SEED = 14

# days late per delivery, by supplier (negative: early)
PATTERNS: dict[str, Callable[[random.Random], int]] = {
    "Prompt Packaging": lambda r: r.choice([-1, 0, 0, 0, 0, 0]),
    "Mostly Prompt Ltd": lambda r: r.choice([0, 0, 0, 0, 1, 2]),
    "Rarely Late Co": lambda r: 7 if r.random() < 0.15 else 0,
    "Steady Freight": lambda r: 5 + r.choice([-1, 0, 0, 0, 1]),
    "Erratic Imports": lambda r: r.choice([0, 0, 1, 2, 3, 5, 8, 12]),
}


@dataclass(frozen=True)
class Delivery:
    supplier: str
    due: date  # the date on the PO
    arrives: date  # when it really comes
    ordered: date  # when the PO is created
    lines: dict[str, int]


def supplier_of(sku: str) -> str:
    names = list(PATTERNS)
    return names[zlib.crc32(sku.encode()) % len(names)]


def restock_plan(stream: list[Invoice]) -> tuple[dict[str, int], list[Delivery]]:
    """Supply follows demand, as a planner with a good forecast would order it: each supplier's PO brings what
    its SKUs will sell in the EVERY_DAYS before its date, so a customer who finds the shelf empty waits for
    the next PO (or, when that PO is not ordered yet, for the lead time): the ETA is wrong only by how late
    the supplier is and by the queue's ordering, which both rules share."""
    demand: dict[str, int] = defaultdict(int)
    by_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for inv in stream:
        for sku, qty in inv.lines.items():
            demand[sku] += qty
            by_day[inv.at.date()][sku] += qty
    start = {sku: int(d * START_SHARE) for sku, d in demand.items()}
    first, last = stream[0].at.date(), stream[-1].at.date()
    rng = random.Random(SEED)
    deliveries = []
    for index, supplier in enumerate(PATTERNS):
        offset = index % EVERY_DAYS  # suppliers' POs fall on different days
        due = first + timedelta(days=offset + 1)
        while due - timedelta(days=EVERY_DAYS) <= last:
            lines: dict[str, int] = defaultdict(int)
            for day in (due - timedelta(days=EVERY_DAYS - k) for k in range(EVERY_DAYS)):
                for sku, qty in by_day.get(day, {}).items():
                    if supplier_of(sku) == supplier:
                        lines[sku] += qty
            if lines:
                deliveries.append(Delivery(supplier, due, due + timedelta(days=PATTERNS[supplier](rng)),
                                           max(first - timedelta(days=1), due - timedelta(days=LEAD_DAYS)),
                                           dict(lines)))
            due += timedelta(days=EVERY_DAYS)
    return start, deliveries


async def replay(url: str, stream: list[Invoice], start: dict[str, int], deliveries: list[Delivery],
                 learning: Any) -> dict[str, Any]:
    from domain.bus import InProcessBus
    from domain.clock import FixedClock
    from domain.model import Channel
    from domain.services import BackorderDesk, CustomerDetails, LineRequest
    from domain.store import models as t
    from domain.store.db import open_database
    from domain.store.uow import TortoiseUnitOfWork

    first = stream[0].at.date()
    clock = FixedClock(datetime.combine(first - timedelta(days=1), time(6), UTC))
    async with open_database(url):
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus(), default_lead_time_days=LEAD_DAYS,
                                                        eta_learning=learning), clock)
        suppliers = {name: (await desk.upsert_supplier(None, name, LEAD_DAYS)).id for name in PATTERNS}
        now = clock.now()
        products = {sku for inv in stream for sku in inv.lines}
        await t.Product.bulk_create([
            t.Product(sku=sku, name=sku, price=1, currency="GBP", backorder_policy="ALLOW", substitutes=[],
                      supplier_id=suppliers[supplier_of(sku)], created_at=now, updated_at=now, version=1)
            for sku in sorted(products)], batch_size=1000)
        await t.StockLevel.bulk_create([t.StockLevel(sku=sku, location="MAIN", on_hand=qty)
                                        for sku, qty in start.items() if qty], batch_size=1000)
        to_create = sorted(deliveries, key=lambda d: (d.ordered, d.due, d.supplier))
        to_receive: list[tuple[date, str]] = []  # (arrives, po id)
        days: dict[date, list[Invoice]] = defaultdict(list)
        for inv in stream:
            days[inv.at.date()].append(inv)
        last_day = max(max(days), max(d.arrives for d in deliveries))
        day = first - timedelta(days=1)
        while day <= last_day:
            clock.set(datetime.combine(day, time(6), UTC))
            while to_create and to_create[0].ordered <= day:
                d = to_create.pop(0)
                po = await desk.create_purchase_order(suppliers[d.supplier], d.due,
                                                      [LineRequest(s, q) for s, q in sorted(d.lines.items())])
                to_receive.append((d.arrives, po.id))
            to_receive.sort()
            while to_receive and to_receive[0][0] <= day:
                await desk.receive_purchase_order(to_receive.pop(0)[1])
            await desk.refresh_stale_etas()
            for inv in days.get(day, []):
                clock.set(inv.at)
                await desk.place_order(CustomerDetails(inv.customer), Channel.ONLINE,
                                       [LineRequest(s, q) for s, q in inv.lines.items()], idempotency_key=inv.number)
            day += timedelta(days=1)
        db = t.Backorder._meta.db
        rows = await db.execute_query_dict(
            'SELECT b.id, b.sku, b.ordered_at, b.promised_date, b.status, MIN(h.at) AS allocated_at '
            'FROM "backorders" b LEFT JOIN "backorder_history" h ON h.backorder_id = b.id AND h.kind = \'STATUS\' '
            "AND h.new_value = 'ALLOCATED' GROUP BY b.id, b.sku, b.ordered_at, b.promised_date, b.status")
    return {"rows": rows, "end": last_day}


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date() if "T" in str(value) or " " in str(value) \
        else date.fromisoformat(str(value))


@dataclass(frozen=True)
class Outcome:
    backorders: int
    served: int
    errors: list[int]  # actual - promised, days, served backorders
    missed: int
    horizons: list[int]  # promised - ordered, days
    by_supplier: dict[str, tuple[int, int]]  # supplier -> (missed, told)

    @property
    def missed_share(self) -> float:
        return self.missed / self.backorders if self.backorders else float("nan")


def outcome(result: dict[str, Any]) -> Outcome:
    errors, horizons = [], []
    missed = served = 0
    by_supplier: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in result["rows"]:
        if row["promised_date"] is None:
            continue
        promised = _day(row["promised_date"])
        horizons.append((promised - _day(row["ordered_at"])).days)
        tally = by_supplier[supplier_of(row["sku"])]
        tally[1] += 1
        if row["allocated_at"] is not None:
            served += 1
            error = (_day(row["allocated_at"]) - promised).days
            errors.append(error)
            late = error > 0
        else:
            late = promised < result["end"]
        missed += late
        tally[0] += late
    return Outcome(len(horizons), served, errors, missed, horizons,
                   {s: (m, n) for s, (m, n) in sorted(by_supplier.items())})


def _q(values: list[int], q: float) -> int:
    from domain.delays import quantile

    return quantile(sorted(values), q)


async def run() -> None:
    from domain.delays import EtaLearning

    stream, _ = read_stream(INVOICES)
    start, deliveries = restock_plan(stream)
    results = {}
    for name, learning in (("today's rule", None), (f"learning rule (q={QUANTILE:g})", EtaLearning(QUANTILE))):
        async with scratch_database("sqlite") as url:
            with Timer() as took:
                results[name] = outcome(await replay(url, stream, start, deliveries, learning))
        print(f"   {name}: replayed in {took.seconds:.0f} s", flush=True)
    (today_name, today), (learn_name, learned) = results.items()
    span = f"{len(stream):,} invoices {stream[0].at:%Y-%m-%d} to {stream[-1].at:%Y-%m-%d}, {len(deliveries)} deliveries"
    for name, o in results.items():
        report(Figure("backtest_eta", f"ETA error, mean ({name})", statistics.fmean(o.errors), "days",
                      note=f"actual - promised over {o.served:,} served of {o.backorders:,} backorders; "
                           f"p50 {_q(o.errors, 0.5)}, p90 {_q(o.errors, 0.9)}, mean |error| "
                           f"{statistics.fmean(abs(e) for e in o.errors):.1f}"))
        report(Figure("backtest_eta", f"ETA error, p90 ({name})", _q(o.errors, 0.9), "days",
                      note=f"p50 {_q(o.errors, 0.5)}"))
        report(Figure("backtest_eta", f"median promise ({name})", statistics.median(o.horizons), "days",
                      note="order to the date told"))
        print("   missed by supplier: " + ", ".join(f"{s} {m}/{n}" for s, (m, n) in o.by_supplier.items()))
    report(Figure("backtest_eta", "customers told a date then missed", learned.missed_share * 100, "%",
                  baseline=today.missed_share * 100, baseline_name=today_name,
                  target="at most half of today's", met=learned.missed_share <= today.missed_share / 2,
                  note=f"{learned.missed:,} of {learned.backorders:,} against {today.missed:,} of "
                       f"{today.backorders:,}; {span}"))
    added = statistics.median(learned.horizons) - statistics.median(today.horizons)
    report(Figure("backtest_eta", "days added to the median promise", added, "days",
                  target="<= 2", met=added <= 2,
                  note=f"{statistics.median(today.horizons)} -> {statistics.median(learned.horizons)}"))


if __name__ == "__main__":
    import asyncio

    if sys.argv[1:] not in ([], ["sqlite"]):
        raise SystemExit("backtest_eta runs on SQLite only: it measures ETAs, not the database")
    asyncio.run(run())
