"""GraphQL for suppliers' record (staff only): how each supplier delivered over a period, read from the
delivery records every receipt of a purchase order line leaves (one grouped query; supplier names through
the per-request DataLoader)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from api import types as gt
from api.permissions import IsStaff
from api.schema.common import Ctx
from domain.delays import SupplierPerformance as Performance
from domain.errors import DomainError


@strawberry.type(description=(
    "One supplier's purchase order lines received in the period. Delay is in days after the expected date as "
    "last moved (the date the shop was working to when the goods came; negative: early). Percentiles are "
    "nearest-rank: a number of days that happened."))
class SupplierPerformance:
    _p: strawberry.Private[Performance]
    lines_received: int = strawberry.field(description="Purchase order lines received (a partial receipt counts).")
    on_time_rate: float = strawberry.field(
        description="Share of those lines received on or before the expected date as last moved (0-1).")
    on_time_rate_as_first_promised: float = strawberry.field(
        description="Share received on or before the date the supplier first promised (0-1).")
    mean_delay_days: float
    p50_delay_days: int
    p90_delay_days: int

    @strawberry.field
    async def supplier(self, info: Ctx) -> gt.Supplier | None:
        s = await info.context.loaders.supplier_by_id.load(self._p.supplier_id)
        return gt.Supplier(_s=s) if s else None

    @staticmethod
    def of(p: Performance) -> SupplierPerformance:
        return SupplierPerformance(
            _p=p, lines_received=p.lines_received, on_time_rate=p.on_time_rate,
            on_time_rate_as_first_promised=p.on_time_rate_as_first_promised, mean_delay_days=p.mean_delay_days,
            p50_delay_days=p.p50_delay_days, p90_delay_days=p.p90_delay_days)


@strawberry.type(description="Suppliers' deliveries over a period, one entry per supplier that delivered in it.")
class SupplierPerformanceReport:
    suppliers: list[SupplierPerformance] = strawberry.field(default_factory=list)
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.field(permission_classes=[IsStaff], description=(
    "Per supplier: on-time rate, mean delay, p50/p90 delay and lines received, over the lines received between "
    "`from` and `to` (inclusive; either left out: unbounded)."))
async def supplier_performance(
    info: Ctx,
    from_: Annotated[date | None, strawberry.argument(name="from")] = None,
    to: date | None = None,
) -> SupplierPerformanceReport:
    try:
        report = await info.context.desk.supplier_performance(from_, to)
    except DomainError as error:  # a query has no payload wrapper; its arguments are the fields errors name
        return SupplierPerformanceReport(user_errors=[gt.UserError.of(error, {"received_from": "from",
                                                                               "received_to": "to"})])
    return SupplierPerformanceReport(suppliers=[SupplierPerformance.of(p) for p in report])
