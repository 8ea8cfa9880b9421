"""FAIR_SHARE ETA projection: a SKU with 10k waiting backorders (500 customers) and 20 open purchase orders, projected
as each receipt will share it (`eta.project_shared`: every PO handed out by the allocation policy's own split),
against the same queue projected in strict queue order (PRIORITY, `eta.project`) in the same run. Domain only, no
database. Target: at most twice PRIORITY's time (ratio >= 0.5x); a first version that built a Claim per backorder
per receipt and ran `allocate` (with its reasons) took 6.2 s here against 0.12 s.
BENCH_QUEUE sets the queue (default 10,000).
"""

from __future__ import annotations

import os
import statistics
from datetime import UTC, datetime, timedelta

from bench.common import QUICK, Figure, Timer, report
from domain.allocation import AllocationPolicy
from domain.eta import InboundSupply
from domain.model import (
    DEFAULT_LOCATION,
    Channel,
    Customer,
    Money,
    Order,
    OrderLine,
    Product,
    SkuInventory,
    StockLevel,
)

QUEUE = int(os.environ.get("BENCH_QUEUE", "2000" if QUICK else "10000"))
POS = 20
ROUNDS = 3 if QUICK else 7
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def inventory(policy: AllocationPolicy) -> SkuInventory:
    product = Product(sku="MUG", name="Mug", price=Money.of("10.00", "EUR"), allocation_policy=policy)
    inbound = [InboundSupply(f"PO-{i:02d}", NOW.date() + timedelta(days=3 + i), QUEUE // 25) for i in range(POS)]
    inv = SkuInventory(product, [StockLevel("MUG", DEFAULT_LOCATION)], [], inbound=inbound)
    for i in range(QUEUE):
        placed_at = NOW + timedelta(minutes=i)
        order = Order(id=f"o{i}", number=f"BD-{i}", channel=Channel.ONLINE,
                      customer=Customer(email=f"c{i % 500}@example.com"), placed_at=placed_at)
        line = OrderLine(id=f"l{i}", order_id=order.id, sku="MUG", quantity=1 + i % 3, unit_price=product.price)
        order.lines.append(line)
        inv.place_line(order, line, placed_at)
    return inv


def median_ms(inv: SkuInventory) -> float:
    samples = []
    for _ in range(ROUNDS):
        with Timer() as timer:
            inv.project(NOW.date())
        samples.append(timer.seconds * 1000)
    return statistics.median(samples)


def main() -> None:
    in_order = median_ms(inventory(AllocationPolicy.PRIORITY))
    shared = median_ms(inventory(AllocationPolicy.FAIR_SHARE))
    ratio = in_order / shared
    report(Figure("fair_share_eta", f"FAIR_SHARE projection ({QUEUE:,}, {POS} POs), median of {ROUNDS}", shared, "ms",
                  in_order, "PRIORITY projection, same queue", ">= 0.5x", ratio >= 0.5))


if __name__ == "__main__":
    main()
