"""What customers' "cancel if not by" dates cost the aggregate: settling a SKU with 10k waiting backorders and
20 open purchase orders (allocate, check every date against its projected ETA, re-project), every backorder
dated (none due for cancelling, so nothing else changes), against the same settle with no dates, in the same
run. Pure domain: no database. Target: the dates cost at most as much again as the settle (ratio >= 0.5x).
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from bench.common import QUICK, Figure, report
from domain.causes import Cause, CauseKind
from domain.eta import InboundSupply
from domain.model import Backorder, Channel, CustomerTier, Money, Product, SkuInventory, StockLevel

QUEUE = 2_000 if QUICK else 10_000
POS = 20
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3" if QUICK else "7"))
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def inventory(dated: bool) -> SkuInventory:
    product = Product(sku="PREF", name="Pref", price=Money.of("1.00", "EUR"))
    queue = [Backorder(id=f"b{n:06d}", order_id=f"o{n}", order_line_id=f"l{n}", sku="PREF",
                       customer_email=f"c{n % 500}@example.com", customer_tier=CustomerTier.STANDARD,
                       channel=Channel.ONLINE, ordered_at=NOW - timedelta(minutes=QUEUE - n), quantity=1,
                       original_quantity=1, cancel_if_not_by=date(2027, 1, 1) if dated else None)
             for n in range(QUEUE)]
    per_po = QUEUE // POS
    inbound = [InboundSupply(f"PO-{n}", date(2026, 3, 10) + timedelta(days=7 * n), per_po) for n in range(POS)]
    return SkuInventory(product, [StockLevel("PREF", "MAIN")], queue, inbound=inbound)


def settle_ms(dated: bool) -> float:
    inv = inventory(dated)
    cause = Cause(kind=CauseKind.PO_CHANGED)
    inv.settle(NOW, cause)  # the first projection: every ETA is new
    inv.events = []
    started = time.perf_counter()
    inv.settle(NOW, cause)  # as a use case that moved nothing settles again
    elapsed = (time.perf_counter() - started) * 1000
    assert not [e for e in inv.events if e.kind == "BackorderCancelled"]
    return elapsed


def main() -> None:
    # alternated, so that a busy neighbour on a shared machine slows both sides alike
    plain_samples, dated_samples = [], []
    for _ in range(ROUNDS):
        plain_samples.append(settle_ms(False))
        dated_samples.append(settle_ms(True))
    plain, dated = statistics.median(plain_samples), statistics.median(dated_samples)
    report(Figure("preferences", f"settle, {QUEUE // 1000}k waiting, every one dated", dated, "ms",
                  baseline=plain, baseline_name="the same settle, no dates", target=">= 0.5x (dates at most double)",
                  met=plain / dated >= 0.5, note=f"median of {ROUNDS}, alternated; pure domain, {POS} POs"))


if __name__ == "__main__":
    main()
