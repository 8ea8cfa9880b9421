"""ETA projection: a SKU with 10k waiting backorders and 20 open purchase orders; one PO's date moves.

Figures (issue 15), each the median of several samples with its spread and the machine's load:
- the domain's re-projection of the slice whose ETAs can change (`SkuInventory.reproject_slice`, CPU time),
  against re-projecting the whole queue (`reproject`) in the same loop;
- the whole use case (`BackorderDesk.update_purchase_order`: lock, compare the SKU's stored projection with the
  one before the change, read the slice, write the backorders whose ETA moved, their history and `EtaChanged`
  events, record the new projection, commit), alternating with the
  same use case made to load and settle the whole queue (what it did before the slice); the naive ORM
  re-projection (every row read and saved) once;
- the same two ways for a change whose slice does not grow with the queue: a PO's quantity +10 and back.
  Target (issue 15): under 50 ms.
The desk is built as `serve` builds it (`api.app.make_desk`: notification outbox, webhook and metrics
hooks in the transaction) with the server's GC tuning (`api.app.tune_gc`).
BENCH_QUEUE sets the queue (default 10,000) for the scaling curve (1k, 10k, 100k).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from unittest import mock

from bench.allocation import seed_queue
from bench.common import QUICK, Figure, Timer, per_dialect, report, scratch_database
from domain.bus import InProcessBus
from domain.causes import Cause, CauseKind
from domain.clock import FixedClock
from domain.eta import InboundSupply
from domain.model import QueueAhead, SkuInventory
from domain.services import LineRequest, ProductInput
from domain.store import models as t
from domain.store.db import open_database
from domain.store.uow import ACTIVE, TortoiseUnitOfWork
from domain.use_cases import purchasing

QUEUE = int(os.environ.get("BENCH_QUEUE", "2000" if QUICK else "10000"))  # 1000 | 10000 | 100000: the curve
POS = 20
DATE_CHANGE = os.environ.get("BENCH_ETA_DATE", "1") != "0"  # 0: only the quantity change
REPEATS = int(os.environ.get("BENCH_ROUNDS", "2" if QUICK else "4"))  # samples: twice this (a slip, then back)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def naive_reproject(sku: str) -> None:
    """Recompute every ETA row by row: inbound in date order, each backorder covered in queue order."""
    from tortoise.transactions import in_transaction

    async with in_transaction():
        supply = []
        for line in await t.PurchaseOrderLine.filter(sku=sku):
            po = await t.PurchaseOrder.get(id=line.purchase_order_id)
            supply.append([po.expected_date, line.quantity - line.received_quantity])
        supply.sort()
        for backorder in await t.Backorder.filter(sku=sku, status__in=ACTIVE).order_by("ordered_at", "id"):
            need = backorder.quantity - backorder.allocated_quantity
            eta = None
            while supply and need > 0:
                take = min(need, supply[0][1])
                need -= take
                supply[0][1] -= take
                eta = supply[0][0]
                if supply[0][1] == 0:
                    supply.pop(0)
            backorder.eta_date = eta if need == 0 else NOW.date() + timedelta(days=14)
            await backorder.save(update_fields=["eta_date"])


async def run(kind: str) -> None:
    from api.app import make_desk, tune_gc
    from api.settings import Settings
    from notifications.service import Notifications

    async with scratch_database(kind) as url, open_database(url):
        # the use case as `serve` runs it (issue 15): its hooks in the transaction and its GC tuning
        clock, settings = FixedClock(NOW), Settings()
        desk = make_desk(settings, InProcessBus(), Notifications(settings.notifications, clock), clock)
        tune_gc()
        supplier = await desk.upsert_supplier(None, "Slow Boat Ltd", 21)
        await desk.upsert_product(ProductInput(sku="ETA", name="ETA", price=Decimal("1.00"), supplier_id=supplier.id))
        per_po = QUEUE // POS
        pos = [await desk.create_purchase_order(supplier.id, date(2026, 3, 10) + timedelta(days=7 * n),
                                                [LineRequest("ETA", per_po)]) for n in range(POS)]
        await seed_queue("ETA", QUEUE)
        await desk.update_purchase_order(pos[-1].id, date(2026, 8, 1))  # first projection of the seeded queue

        # the projection alone, on the aggregate as the use case loads it
        uow = TortoiseUnitOfWork(InProcessBus())
        async with uow:
            inventory = await uow.inventory("ETA")
        inventory.inbound = sorted(inventory.inbound, key=lambda s: (s.expected_date, s.reference))  # 6th by date
        moved = inventory.inbound[5]
        today = NOW.date()
        # each sample moves the 6th PO a month later, then back: the same slice of ETAs moves every time
        projections: list[float] = []
        slices: list[float] = []
        changed = 0
        for n in range(REPEATS * 2 if DATE_CHANGE else 0):
            slip = timedelta(days=30 if n % 2 == 0 else 0)
            before = list(inventory.inbound)
            inventory.inbound[5] = replace(moved, expected_date=moved.expected_date + slip)
            # the bounded path's domain work on a copy of the slice: the steps before and after, the ranges that
            # differ, the slice's ETAs, history and events (the store's part, finding the slice, is not in it)
            sliced = _slice_of(inventory, before, today)  # the store's part: the slice, each with its demand
            started = time.process_time()
            old_steps, new_steps = sliced.eta_steps(today, before), sliced.eta_steps(today)
            assert old_steps is not None and new_steps is not None
            old_steps.differing(new_steps)  # the ranges `_slice_of` cut the slice by
            assert sliced.reproject_slice(NOW, CAUSE, new_steps, sliced.demand)
            slices.append((time.process_time() - started) * 1000)
            inventory.events = []
            started = time.process_time()
            inventory.reproject(NOW, CAUSE)
            projections.append((time.process_time() - started) * 1000)
            changed = max(changed, sum(1 for e in inventory.events if e.kind == "EtaChanged"))
            assert len(sliced.events) == changed, (len(sliced.events), changed)

        # the whole use case: the 6th PO (a slice in the middle of the queue) slips by a month, then back; the
        # whole settle (what ran before the slice) alternates with the sliced one, so both see the same load
        before_rows = await t.BackorderHistory.filter(kind="ETA").count()
        wholes: dict[str, list[float]] = {"slice": [], "whole": []}
        for n in range(REPEATS * 4 if DATE_CHANGE else 0):
            slip = timedelta(days=30 if n % 2 == 0 else 0)
            way = "slice" if n % 4 < 2 else "whole"
            with mock.patch.object(purchasing, "SLICE_FROM", 1 if way == "slice" else 10**9), Timer() as whole:
                await desk.update_purchase_order(pos[5].id, pos[5].expected_date + slip)
            wholes[way].append(whole.seconds * 1000)
        moved_rows = (await t.BackorderHistory.filter(kind="ETA").count() - before_rows) // (REPEATS * 4)

        # a change whose slice does not grow with the queue: the 6th PO brings 10 more units, then 10 fewer again
        # (every backorder within 10 units of a later PO's last one moves a PO earlier, or back)
        before_rows = await t.BackorderHistory.filter(kind="ETA").count()
        quantities: dict[str, list[float]] = {"slice": [], "whole": []}
        for n in range(REPEATS * 4):
            units = per_po + (10 if n % 2 == 0 else 0)
            way = "slice" if n % 4 < 2 else "whole"
            with mock.patch.object(purchasing, "SLICE_FROM", 1 if way == "slice" else 10**9), Timer() as whole:
                await desk.update_purchase_order(pos[5].id, quantities=[LineRequest("ETA", units)])
            quantities[way].append(whole.seconds * 1000)
        moved_by_quantity = (await t.BackorderHistory.filter(kind="ETA").count() - before_rows) // (REPEATS * 4)
        load = f"load {os.getloadavg()[0]:.1f}"
        in_slice, in_whole = statistics.median(quantities["slice"]), statistics.median(quantities["whole"])
        report(Figure("eta", f"PO quantity +10, whole use case ({QUEUE / 1000:g}k, {kind})", in_slice, "ms",
                      baseline=in_whole, baseline_name="the same with the whole queue loaded and settled",
                      target="< 50 ms", met=in_slice < 50,
                      note=f"median of {len(quantities['slice'])}, spread {min(quantities['slice']):.1f}-"
                           f"{max(quantities['slice']):.1f} ms (whole: {min(quantities['whole']):.1f}-"
                           f"{max(quantities['whole']):.1f}); ~{moved_by_quantity} ETAs moved each time; {load}"))
        if not DATE_CHANGE:
            return
        with Timer() as naive:
            await naive_reproject("ETA")
        projection, sliced_ms = statistics.median(projections), statistics.median(slices)
        report(Figure("eta", f"re-projection of the slice, domain CPU ({QUEUE / 1000:g}k, {POS} POs, {kind})",
                      sliced_ms, "ms", baseline=projection, baseline_name="the whole queue re-projected, CPU",
                      target="< 50 ms", met=sliced_ms < 50,
                      note=f"median of {len(slices)}, spread {min(slices):.1f}-{max(slices):.1f} ms; whole: "
                           f"{min(projections):.1f}-{max(projections):.1f} ms; {changed} ETAs moved each time; "
                           f"{load}"))
        use_case, before_ms = statistics.median(wholes["slice"]), statistics.median(wholes["whole"])
        report(Figure("eta", f"PO date change, whole use case ({QUEUE / 1000:g}k, {kind})", use_case, "ms",
                      baseline=before_ms, baseline_name="the same with the whole queue loaded and settled",
                      target="< 50 ms", met=use_case < 50,
                      note=f"median of {len(wholes['slice'])}, spread {min(wholes['slice']):.1f}-"
                           f"{max(wholes['slice']):.1f} ms (whole: {min(wholes['whole']):.1f}-"
                           f"{max(wholes['whole']):.1f}); read the slice, write the ~{moved_rows} that moved with "
                           f"history and events, commit; naive ORM re-projection {naive.seconds * 1000:,.0f} ms "
                           f"(one run); {load}"))


CAUSE = Cause(kind=CauseKind.PO_CHANGED, reference="bench")


def _within(demand: int, ranges: list[tuple[int, int | None]]) -> bool:
    return any(after < demand and (up_to is None or demand <= up_to) for after, up_to in ranges)


class _Slice(SkuInventory):
    demand: dict[str, int]


def _slice_of(inventory: SkuInventory, inbound: list[InboundSupply], today: date) -> _Slice:
    """A copy of the aggregate holding the slice of its waiting queue whose ETAs the move changes, each with its
    cumulative demand, as the store hands it over (`load_slice`); `inbound`: the supply before the move."""
    sliced = _Slice(inventory.product, list(inventory.stock.values()), [], inbound=inventory.inbound,
                    supplier=inventory.supplier, policy=inventory.policy, delays=inventory.delays,
                    eta_learning=inventory.eta_learning, default_lead_time_days=inventory.default_lead_time_days)
    old_steps, new_steps = inventory.eta_steps(today, inbound), inventory.eta_steps(today)
    assert old_steps is not None and new_steps is not None
    ranges = old_steps.differing(new_steps)
    ranked = inventory.ranked_queue(today)
    sliced.queue, sliced.demand = {}, {}
    for backorder, demand in zip(ranked, accumulate(b.waiting_quantity for b in ranked), strict=True):
        if _within(demand, ranges):
            sliced.queue[backorder.id] = replace(backorder, history=[], new_history=[])
            sliced.demand[backorder.id] = demand
    sliced.ahead = QueueAhead(len(ranked) - len(sliced.queue), 0)
    return sliced


if __name__ == "__main__":
    per_dialect(sys.argv[1:], run)
