"""ETA projection: a SKU with 10k waiting backorders and 20 open purchase orders; one PO's date moves.

Figures: the projection itself (the domain walking the queue against the inbound supply), and the whole
use case (`BackorderDesk.update_purchase_order`: lock, load the SKU, re-project, write only the
backorders whose date moved, their history and `EtaChanged` events, commit), against a naive version
that recomputes every backorder's ETA with the ORM and saves every row. Target (issue 5): under 50 ms.
The desk is built as `serve` builds it (`api.app.make_desk`: notification outbox, webhook and metrics
hooks in the transaction) with the server's GC tuning (`api.app.tune_gc`).
BENCH_QUEUE sets the queue (default 10,000) for the scaling curve (1k, 10k, 100k).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bench.allocation import seed_queue
from bench.common import QUICK, Figure, Timer, per_dialect, report, scratch_database
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.services import LineRequest, ProductInput
from domain.store import models as t
from domain.store.db import open_database
from domain.store.uow import ACTIVE, TortoiseUnitOfWork

QUEUE = int(os.environ.get("BENCH_QUEUE", "2000" if QUICK else "10000"))  # 1000 | 10000 | 100000: the curve
POS = 20
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
        # each sample moves the 6th PO a month later, then back: the same slice of ETAs moves every time
        projections: list[float] = []
        changed = 0
        for n in range(REPEATS * 2):
            slip = timedelta(days=30 if n % 2 == 0 else 0)
            inventory.inbound[5] = type(moved)(moved.reference, moved.expected_date + slip, moved.quantity,
                                               moved.supplier_late)
            inventory.events = []
            started = time.perf_counter()
            inventory.reproject(NOW, "bench")
            projections.append((time.perf_counter() - started) * 1000)
            changed = max(changed, sum(1 for e in inventory.events if e.kind == "EtaChanged"))

        # the whole use case: the 6th PO (a slice in the middle of the queue) slips by a month, then back
        before = await t.BackorderHistory.filter(kind="ETA").count()
        wholes: list[float] = []
        for n in range(REPEATS * 2):
            slip = timedelta(days=30 if n % 2 == 0 else 0)
            with Timer() as whole:
                await desk.update_purchase_order(pos[5].id, pos[5].expected_date + slip)
            wholes.append(whole.seconds * 1000)
        moved_rows = (await t.BackorderHistory.filter(kind="ETA").count() - before) // (REPEATS * 2)

        with Timer() as naive:
            await naive_reproject("ETA")

        projection, use_case = statistics.median(projections), statistics.median(wholes)
        report(Figure("eta", f"re-projection, domain only ({QUEUE / 1000:g}k, {POS} POs, {kind})",
                      projection, "ms",
                      baseline=naive.seconds * 1000, baseline_name="naive ORM re-projection",
                      target="< 50 ms", met=projection < 50,
                      note=f"median of {len(projections)}, spread {min(projections):.1f}-{max(projections):.1f} ms; "
                           f"{changed} ETAs moved each time; naive: one run"))
        report(Figure("eta", f"PO date change, whole use case ({QUEUE / 1000:g}k, {kind})", use_case, "ms",
                      baseline=naive.seconds * 1000, baseline_name="naive ORM re-projection",
                      target="< 50 ms", met=use_case < 50,
                      note=f"median of {len(wholes)}, spread {min(wholes):.1f}-{max(wholes):.1f} ms; load "
                           f"{QUEUE / 1000:g}k, project, write the ~{moved_rows} that moved, commit; machine load "
                           f"{os.getloadavg()[0]:.1f}"))

if __name__ == "__main__":
    per_dialect(sys.argv[1:], run)
