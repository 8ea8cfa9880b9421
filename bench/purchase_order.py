"""A container arrives: one purchase order of 1,000 lines (SKUs), each SKU with customers waiting, received
in one `receive_purchase_order`. Timed against the same 1,000 SKUs received as 1,000 one-line purchase
orders (the use case per SKU, as an integration posting line by line would do): the cost of a receipt
should grow with the work, not with a statement count per line. Also: creating the 1,000-line PO.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bench.allocation import seed_queue
from bench.common import QUICK, Figure, Timer, per_dialect, report, scratch_database
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.services import BackorderDesk, LineRequest
from domain.store import models as t
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork

LINES = 200 if QUICK else 1_000
WAITING = 3  # backorders per SKU
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def run(kind: str) -> None:
    async with scratch_database(kind) as url, open_database(url):
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(NOW))
        supplier = await desk.upsert_supplier(None, "Container Line", 30)
        groups = {"one": [f"A{n:05d}" for n in range(LINES)], "each": [f"B{n:05d}" for n in range(LINES)]}
        await t.Product.bulk_create([t.Product(sku=sku, name=sku, price=Decimal("1.00"), currency="GBP",
                                               supplier_id=supplier.id)
                                     for skus in groups.values() for sku in skus], batch_size=1000)
        for skus in groups.values():
            for sku in skus:
                await seed_queue(sku, WAITING)
        due = date(2026, 3, 20)
        with Timer() as created:
            big = await desk.create_purchase_order(supplier.id, due, [LineRequest(s, WAITING) for s in groups["one"]])
        small = [await desk.create_purchase_order(supplier.id, due + timedelta(days=1), [LineRequest(s, WAITING)])
                 for s in groups["each"]]

        with Timer() as one:
            await desk.receive_purchase_order(big.id)
        with Timer() as each:
            for po in small:
                await desk.receive_purchase_order(po.id)
        served = await t.Backorder.filter(status="ALLOCATED").count()
        assert served == 2 * LINES * WAITING, served

        report(Figure("purchase_order", f"receive one {LINES:,}-line PO ({kind})", one.seconds, "s",
                      baseline=each.seconds, baseline_name=f"{LINES:,} one-line POs",
                      note=f"{WAITING} backorders waiting per SKU, all served"))
        report(Figure("purchase_order", f"create one {LINES:,}-line PO ({kind})", created.seconds, "s",
                      note="validate, lock, re-project every SKU's ETAs"))


if __name__ == "__main__":
    per_dialect(sys.argv[1:], run)
