"""GraphQL for planning (staff only): what a receipt of stock or a reprioritisation would do, before anyone acts
on it; reorder advice per SKU; the KPIs over time."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from api import types as gt
from api.ids import decode_id
from api.permissions import IsStaff
from api.schema.common import Ctx, staff_name
from domain import kpi_series as kpi
from domain import model as m
from domain import reorder
from domain.errors import DomainError, InvalidInput, not_found
from domain.services import AllocationPreviewLine as PreviewLine
from domain.store import kpi_history as kpi_store
from domain.store import planning as planning_store


@strawberry.type(description="What a receipt would do to one backorder that waits for units.")
class AllocationPreviewLine:
    _line: strawberry.Private[PreviewLine]
    allocated_quantity: int = strawberry.field(description="The units this receipt would give the backorder.")
    status: gt.BackorderStatus  # type: ignore[valid-type]
    queue_position: int | None = strawberry.field(description="Its place afterwards; null once nothing waits.")
    eta: gt.Eta | None = strawberry.field(description="Its ETA afterwards; null once nothing waits.")

    @strawberry.field(description="The backorder as it is now (the receipt has not happened).")
    async def backorder(self, info: Ctx) -> gt.Backorder | None:
        return gt.Backorder.maybe(await info.context.loaders.backorder_by_id.load(self._line.backorder_id))

    @staticmethod
    def of(line: PreviewLine) -> AllocationPreviewLine:
        e = line.eta
        return AllocationPreviewLine(
            _line=line, allocated_quantity=line.allocated_quantity, status=line.status,
            queue_position=line.queue_position,
            eta=gt.Eta(date=e.date, confidence=e.confidence, source=e.source, _purchase_order_number=e.reference)
            if e is not None else None)


@strawberry.type(description="What a receipt or a reprioritisation would do, computed by its own code and not saved.")
class AllocationPreview:
    lines: list[AllocationPreviewLine] = strawberry.field(
        default_factory=list, description="Every backorder waiting before the change, in the order it was served.")
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.field(permission_classes=[IsStaff],
                  description="What a receipt of `quantity` units of `sku` at `location` (one the shop has set up; "
                              "else UNKNOWN_LOCATION) would do, without doing it.")
async def preview_allocation(info: Ctx, sku: str, quantity: int,
                             location: str = m.DEFAULT_LOCATION) -> AllocationPreview:
    try:
        lines = await info.context.desk.preview_receipt(sku, quantity, location)
    except DomainError as error:  # a query has no payload wrapper; its arguments are the fields errors name
        return AllocationPreview(user_errors=[gt.UserError.of(error)])
    return AllocationPreview(lines=[AllocationPreviewLine.of(line) for line in lines])


@strawberry.field(permission_classes=[IsStaff],
                  description="What reprioritizeBackorder with this priority would do to the queue, without doing it.")
async def preview_reprioritization(info: Ctx, backorder_id: strawberry.ID, priority: int) -> AllocationPreview:
    try:
        key = decode_id("Backorder", backorder_id, "backorderId")
        lines = await info.context.desk.preview_reprioritization(key, priority, staff_name(info))
    except DomainError as error:
        return AllocationPreview(user_errors=[gt.UserError.of(error)])  # backorder_id: the backorderId argument
    return AllocationPreview(lines=[AllocationPreviewLine.of(line) for line in lines])


# -- reorder advice ---------------------------------------------------------------------------
@strawberry.input(description="Which SKUs to advise on; all products when empty.")
class ReorderSuggestionFilter:
    skus: list[str] | None = strawberry.field(default=None, description="Only these SKUs.")
    supplier_id: strawberry.ID | None = strawberry.field(default=None, description="Only this supplier's SKUs.")
    only_below_reorder_point: bool = strawberry.field(
        default=False, description="Only SKUs whose inventory position is below their reorder point.")


@strawberry.type(description=(
    "Reorder advice for one SKU. Demand rate by Croston's method: simple exponential smoothing of the non-zero "
    "daily units ordered and, separately, of the days between them; rate = size / interval (equal to simple "
    "exponential smoothing when there is demand every day). Safety stock = z x sqrt(L x sd^2 + d^2 x sL^2) with z "
    "the normal quantile of the service level; reorder point = ceil(d x L) + safety stock; suggested quantity = "
    "max(0, reorder point - inventory position), which covers the waiting backorders plus the expected demand "
    "over the lead time plus the safety stock, minus what is on hand and on order. Whole numbers are worked out in "
    "full and given within 2,147,483,647 either way (a 32-bit Int); belowReorderPoint is decided before that."))
class ReorderSuggestion:
    _s: strawberry.Private[reorder.ReorderSuggestion]
    sku: str
    demand_method: str = strawberry.field(description="How the demand rate was estimated: CROSTON.")
    demand_per_day: float = strawberry.field(description="Expected units ordered per day.")
    demand_std_per_day: float = strawberry.field(description="Standard deviation of the daily units ordered.")
    lead_time_days: float = strawberry.field(description="Mean lead time in days.")
    lead_time_std_days: float = strawberry.field(
        description="Standard deviation of the lead time in days (0 when it is the supplier's stated lead time).")
    lead_time_learned: bool = strawberry.field(
        description=("True when the lead time comes from the supplier's deliveries (once 3 are recorded; the SKU's own "
                     "after 5): the mean and spread of actual lead times, or where only delays past the promised "
                     "date are known, the stated lead time plus the mean delay. False: the stated lead time."))
    lead_time_demand: float = strawberry.field(description="Expected units ordered over the lead time.")
    safety_stock: int
    reorder_point: int
    available: int = strawberry.field(description="Units on hand not allocated (every location).")
    on_order: int = strawberry.field(description="Units on open purchase orders not yet received.")
    waiting: int = strawberry.field(description="Units the waiting backorders still need.")
    being_put_away: int = strawberry.field(description=(
        "Units received and still being put away to the waiting backorders (a receipt for a long queue, served a "
        "chunk at a time): neither on hand nor on order, they cover as many of `waiting`."))
    inventory_position: int = strawberry.field(description="available + beingPutAway + onOrder - waiting.")
    below_reorder_point: bool
    suggested_quantity: int = strawberry.field(description="Units to order from the supplier now (0: none).")

    @strawberry.field
    async def product(self, info: Ctx) -> gt.Product | None:
        return gt.Product.maybe(await info.context.loaders.product_by_sku.load(self.sku))

    @strawberry.field(description="Who to order from; null when the product has no supplier.")
    async def supplier(self, info: Ctx) -> gt.Supplier | None:
        if self._s.supplier_id is None:
            return None
        found = await info.context.loaders.supplier_by_id.load(self._s.supplier_id)
        return gt.Supplier(_s=found) if found else None

    @staticmethod
    def of(s: reorder.ReorderSuggestion) -> ReorderSuggestion:
        return ReorderSuggestion(
            _s=s, sku=s.sku, demand_method=reorder.METHOD, demand_per_day=round(s.demand_per_day, 4),
            demand_std_per_day=round(s.demand_std_per_day, 4), lead_time_days=round(s.lead_time.mean_days, 2),
            lead_time_std_days=round(s.lead_time.std_days, 2), lead_time_learned=s.lead_time.learned,
            lead_time_demand=round(s.lead_time_demand, 2), safety_stock=s.safety_stock,
            reorder_point=s.reorder_point, available=s.available, on_order=s.on_order, waiting=s.waiting,
            being_put_away=s.being_put_away,
            inventory_position=s.inventory_position, below_reorder_point=s.below_reorder_point,
            suggested_quantity=s.suggested_quantity)


@strawberry.type(description="What to order from one supplier now: its SKUs with something to order.")
class SupplierReorder:
    _supplier_id: strawberry.Private[str | None]
    suggestions: list[ReorderSuggestion] = strawberry.field(description="SKU order, each suggestedQuantity > 0.")
    total_units: int

    @strawberry.field(description="Null: products that name no supplier.")
    async def supplier(self, info: Ctx) -> gt.Supplier | None:
        if self._supplier_id is None:
            return None
        found = await info.context.loaders.supplier_by_id.load(self._supplier_id)
        return gt.Supplier(_s=found) if found else None


@strawberry.type(description="Reorder advice: per SKU in SKU order, and what to order per supplier.")
class ReorderAdvice:
    suggestions: list[ReorderSuggestion] = strawberry.field(default_factory=list)
    by_supplier: list[SupplierReorder] = strawberry.field(
        default_factory=list, description="The suggestions with something to order, one purchase order's worth per "
                                          "supplier (createPurchaseOrder's fromSuggestions takes their SKUs).")
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.field(permission_classes=[IsStaff], description=(
    "Reorder advice per SKU from the last `historyDays` days of orders (today included), the stock, the open "
    "purchase orders and the waiting backorders. `serviceLevel`: the share of lead times that should end without "
    "running out (0.5 up to 1); `smoothing`: the constant of Croston's smoothings (above 0, at most 1). Each "
    "left out is the shop's setting (BACKORDER_REORDER_SERVICE_LEVEL, _SMOOTHING, _HISTORY_DAYS; by default "
    "0.95, 0.2 and 90)."))
async def reorder_suggestions(info: Ctx, filter: ReorderSuggestionFilter | None = None,
                              service_level: float | None = None, smoothing: float | None = None,
                              history_days: int | None = None) -> ReorderAdvice:
    f = filter or ReorderSuggestionFilter()
    settings = info.context.settings
    shop = settings.reorder_policy
    try:
        policy = reorder.ReorderPolicy(
            shop.service_level if service_level is None else service_level,
            shop.smoothing if smoothing is None else smoothing,
            shop.history_days if history_days is None else history_days).validate()
        supplier_id = decode_id("Supplier", f.supplier_id, "filter.supplierId") if f.supplier_id else None
        if f.skus is not None and len(f.skus) > settings.page_size_limit:
            raise InvalidInput(f"at most {settings.page_size_limit} SKUs", field="filter.skus")
        for sku in f.skus or []:
            m.check_sku(sku, "filter.skus")
        if supplier_id is not None and await info.context.loaders.supplier_by_id.load(supplier_id) is None:
            raise not_found("supplier", supplier_id, field="filter.supplierId")  # not "it supplies nothing"
    except DomainError as error:
        return ReorderAdvice(user_errors=[gt.UserError.of(error)])
    found = await planning_store.reorder_suggestions(
        info.context.desk.clock.today(), policy, skus=f.skus, supplier_id=supplier_id,
        default_lead_time_days=settings.default_lead_time_days, learning=settings.eta_learning)
    shown = [s for s in found if s.below_reorder_point or not f.only_below_reorder_point]
    return ReorderAdvice(
        suggestions=[ReorderSuggestion.of(s) for s in shown],
        by_supplier=[SupplierReorder(_supplier_id=supplier, suggestions=[ReorderSuggestion.of(s) for s in group],
                                     total_units=sum(s.suggested_quantity for s in group))
                     for supplier, group in reorder.by_supplier(shown).items()])


# -- KPIs over time ---------------------------------------------------------------------------
KpiInterval = strawberry.enum(kpi.Interval, name="KpiInterval",
                              description="DAY; WEEK (ISO, Monday to Sunday); MONTH. The first and last periods are "
                                          "clipped to the range asked for.")


@strawberry.type(description="Backorders still waiting to be served at the end of a period, of one age range.")
class KpiAgeCount:
    label: str
    min_days: int
    max_days: int | None = strawberry.field(description="Null: no upper bound.")
    backorders: int


@strawberry.type(description=(
    "One period's figures (UTC days). Rates and shares are 0..1, null when there was nothing to measure. Served: "
    "first fully allocated (or shipped); a backorder partly allocated by the deadline does not count as filled."))
class KpiPeriod:
    start: date
    end: date = strawberry.field(description="The period's last day (included).")
    order_lines: int = strawberry.field(description="Order lines placed (substitutes' lines left out).")
    backordered_lines: int = strawberry.field(description="Of those, lines backordered at placement.")
    backorder_rate: float | None = strawberry.field(description="backorderedLines / orderLines.")
    units_ordered: int
    fill_rate_at_placement: float | None = strawberry.field(description="Share of units allocated at placement.")
    fill_rate_within_days: float | None = strawberry.field(description=(
        "Share of units allocated at placement or whose backorder was served within `fillWithinDays` days."))
    backorders_opened: int
    backorders_served: int
    backorders_cancelled: int
    ageing: list[KpiAgeCount] = strawberry.field(description="0-7, 8-14, 15-30, >30 days, at the period's end.")
    time_to_fulfil_p50_days: float | None = strawberry.field(
        description="Days from backorder to served, median (nearest rank) over those served in the period.")
    time_to_fulfil_p90_days: float | None
    eta_promises_measured: int = strawberry.field(
        description="Backorders served in the period that had a promised date: what the ETA figures are over.")
    eta_error_p50_days: int | None = strawberry.field(
        description="Day served minus day promised (positive: late), median.")
    eta_error_p90_days: int | None
    eta_missed_share: float | None = strawberry.field(description="Share served after their promised day.")

    @staticmethod
    def of(b: kpi.KpiBucket) -> KpiPeriod:
        return KpiPeriod(
            start=b.start, end=b.end, order_lines=b.order_lines, backordered_lines=b.backordered_lines,
            backorder_rate=b.backorder_rate, units_ordered=b.units_ordered,
            fill_rate_at_placement=b.fill_rate_at_placement, fill_rate_within_days=b.fill_rate_within,
            backorders_opened=b.opened, backorders_served=b.served, backorders_cancelled=b.cancelled,
            ageing=[KpiAgeCount(label=f"{a.min_days}-{a.max_days}" if a.max_days is not None else f">{a.min_days - 1}",
                                min_days=a.min_days, max_days=a.max_days, backorders=a.backorders) for a in b.ageing],
            time_to_fulfil_p50_days=b.time_to_fulfil_p50_days, time_to_fulfil_p90_days=b.time_to_fulfil_p90_days,
            eta_promises_measured=len(b.eta_errors), eta_error_p50_days=b.eta_error_p50_days,
            eta_error_p90_days=b.eta_error_p90_days, eta_missed_share=b.eta_missed_share)


@strawberry.type
class KpiSeries:
    periods: list[KpiPeriod] = strawberry.field(default_factory=list)
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.field(permission_classes=[IsStaff], description=(
    f"The backorder book's KPIs per period from `from` to `to` (UTC days, both included; at most "
    f"{kpi.MAX_BUCKETS} periods), derived from the order lines and the backorders' history."))
async def kpi_series(info: Ctx, from_: Annotated[date, strawberry.argument(name="from")], to: date,
                     interval: KpiInterval = kpi.Interval.DAY,  # type: ignore[valid-type]
                     fill_within_days: int = 7) -> KpiSeries:
    try:
        found = await kpi_store.kpi_buckets(from_, to, interval, fill_within_days=fill_within_days)
    except DomainError as error:
        return KpiSeries(user_errors=[gt.UserError.of(error)])
    return KpiSeries(periods=[KpiPeriod.of(b) for b in found])
