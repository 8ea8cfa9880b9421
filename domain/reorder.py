"""Reorder advice per SKU: how fast it sells, how long its supplier takes, and how much to order now. Pure.

- **Demand rate**: Croston's method (J. D. Croston, 1972) on the units ordered per day over a window of
  history: one simple exponential smoothing of the non-zero daily demands and one of the intervals (in days)
  between them; the rate is size / interval. Backordered goods sell intermittently (many days with none), where
  plain exponential smoothing of the daily series drifts towards zero after every quiet day; when there is
  demand every day the intervals are all 1 and Croston's rate *is* simple exponential smoothing of the series.
- **Demand variability**: the population standard deviation of the daily units over the same window.
- **Lead time**: mean and standard deviation in days: the supplier's stated lead time with no spread, or what
  its deliveries showed (`LeadTime.learned`).
- **Safety stock** = z x sigma of demand over the lead time, z the standard normal quantile of the service level,
  sigma = sqrt(L x sigma_d^2 + d^2 x sigma_L^2) (demand and lead time both uncertain, independent).
- **Reorder point** = ceil(d x L) + safety stock.
- **Inventory position** = available on hand + units being put away (a staged receipt's) + on order - units the
  waiting backorders still need.
- **Suggested quantity** = max(0, reorder point - inventory position): it covers the waiting backorders plus the
  expected demand over the lead time plus the safety stock, minus what is on hand and on order.
- **Bounds**: every whole-number figure is worked out in full, then given within +/-MAX_UNITS (2,147,483,647: a
  32-bit count, GraphQL's Int, and more than any purchase order can hold): absurd data (a 3,650-day lead time
  of million-unit orders) reads as that cap, never as an error. Whether the SKU is below its reorder point is
  decided before the cap.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from domain.delays import DelayHistory, EtaLearning, delay_variability, lead_time_variability
from domain.errors import InvalidInput, not_found
from domain.limits import MAX_UNITS

METHOD = "CROSTON"
DEFAULT_SERVICE_LEVEL = 0.95
DEFAULT_SMOOTHING = 0.2
DEFAULT_HISTORY_DAYS = 90
_EPSILON = 1e-9  # float noise must not add a unit when a figure is a whole number


@dataclass(frozen=True)
class ReorderPolicy:
    """What the planner chose: the share of lead times that should end without a stock-out, the smoothing
    constant of Croston's two smoothings, and how many days of orders the demand is read from."""

    service_level: float = DEFAULT_SERVICE_LEVEL
    smoothing: float = DEFAULT_SMOOTHING
    history_days: int = DEFAULT_HISTORY_DAYS

    def validate(self) -> ReorderPolicy:
        if isinstance(self.service_level, bool) or not 0.5 <= self.service_level < 1:
            raise InvalidInput("the service level is a share from 0.5 up to (not including) 1", field="service_level")
        if isinstance(self.smoothing, bool) or not 0 < self.smoothing <= 1:
            raise InvalidInput("the smoothing constant is above 0 and at most 1", field="smoothing")
        if isinstance(self.history_days, bool) or not 7 <= self.history_days <= 3650:
            raise InvalidInput("the history is 7 to 3650 days", field="history_days")
        return self

    @property
    def z(self) -> float:
        return statistics.NormalDist().inv_cdf(self.service_level)


@dataclass(frozen=True)
class LeadTime:
    mean_days: float
    std_days: float = 0.0
    learned: bool = False  # False: the supplier's (or product's) stated lead time, taken as certain

    @staticmethod
    def stated(days: int) -> LeadTime:
        return LeadTime(float(days), 0.0, learned=False)

    @staticmethod
    def of(stated_days: int, history: DelayHistory, supplier_id: str | None, sku: str,
           rule: EtaLearning = EtaLearning()) -> LeadTime:
        """What the supplier's deliveries say, once there are `rule.min_history` of them (the SKU's own after
        `rule.min_sku_history`, as the ETAs learn): the mean and spread of actual lead times (ordered to
        received); where only delays past the promised date are known (imported history has no ordering
        date), the stated lead time plus the mean delay (never below 0) with the delays' spread; otherwise
        the stated lead time with no spread."""
        if supplier_id is None:
            return LeadTime.stated(stated_days)
        for learned, base in ((lead_time_variability(history, supplier_id, sku, min_sku_history=rule.min_sku_history),
                               0.0),
                              (delay_variability(history, supplier_id, sku, min_sku_history=rule.min_sku_history),
                               float(stated_days))):
            if learned is not None and learned.deliveries >= rule.min_history:
                return LeadTime(max(0.0, base + learned.mean_days), learned.stdev_days, learned=True)
        return LeadTime.stated(stated_days)


@dataclass(frozen=True)
class SkuFacts:
    """What the store knows of one SKU today."""

    sku: str
    supplier_id: str | None
    daily_demand: Sequence[int]  # units ordered per day, oldest first, every day of the window (zeros too)
    available: int  # on hand, not allocated, not safety stock, over every location
    on_order: int  # units on open purchase orders not yet received
    waiting: int  # units the waiting backorders still need
    lead_time: LeadTime
    # units received and still being put away to those backorders (a staged receipt's): neither on hand nor on
    # order, yet they cover that many of `waiting`
    being_put_away: int = 0


@dataclass(frozen=True)
class ReorderSuggestion:
    sku: str
    supplier_id: str | None
    demand_per_day: float
    demand_std_per_day: float
    lead_time: LeadTime
    lead_time_demand: float
    safety_stock: int
    reorder_point: int
    available: int
    on_order: int
    waiting: int
    inventory_position: int
    being_put_away: int
    suggested_quantity: int

    @property
    def below_reorder_point(self) -> bool:
        return self.suggested_quantity > 0  # decided on the figures before the cap: the same as position < point


def croston_rate(daily_demand: Sequence[int], smoothing: float) -> float:
    """Units per day by Croston's method; 0 when nothing was ordered. The first interval is counted from the
    start of the window, so a lone order on the window's last day reads as one order in the whole window."""
    size: float | None = None
    interval = 0.0
    gap = 1
    for units in daily_demand:
        if units > 0:
            if size is None:
                size, interval = float(units), float(gap)
            else:
                size += smoothing * (units - size)
                interval += smoothing * (gap - interval)
            gap = 1
        else:
            gap += 1
    return 0.0 if size is None else size / interval


def _ceil(value: float) -> int:
    return max(0, math.ceil(value - _EPSILON))


def suggest(facts: SkuFacts, policy: ReorderPolicy) -> ReorderSuggestion:
    rate = croston_rate(facts.daily_demand, policy.smoothing)
    spread = statistics.pstdev(facts.daily_demand) if facts.daily_demand else 0.0
    lead = facts.lead_time
    lead_time_demand = rate * lead.mean_days
    sigma = math.sqrt(lead.mean_days * spread**2 + rate**2 * lead.std_days**2)
    safety_stock = _ceil(policy.z * sigma)
    reorder_point = _ceil(lead_time_demand) + safety_stock
    position = facts.available + facts.being_put_away + facts.on_order - facts.waiting
    return ReorderSuggestion(
        sku=facts.sku, supplier_id=facts.supplier_id, demand_per_day=rate, demand_std_per_day=spread,
        lead_time=lead, lead_time_demand=lead_time_demand, safety_stock=_capped(safety_stock),
        reorder_point=_capped(reorder_point), available=_capped(facts.available), on_order=_capped(facts.on_order),
        waiting=_capped(facts.waiting), inventory_position=_capped(position),
        being_put_away=_capped(facts.being_put_away),
        suggested_quantity=_capped(max(0, reorder_point - position)))


def _capped(units: int) -> int:
    """A whole number of units within +/-MAX_UNITS (the module's Bounds)."""
    return max(-MAX_UNITS, min(MAX_UNITS, units))


def by_supplier(suggestions: Sequence[ReorderSuggestion]) -> dict[str | None, list[ReorderSuggestion]]:
    """The suggestions to order, one purchase order's worth per supplier (SKUs in order)."""
    out: dict[str | None, list[ReorderSuggestion]] = {}
    for s in sorted(suggestions, key=lambda s: s.sku):
        if s.suggested_quantity > 0:
            out.setdefault(s.supplier_id, []).append(s)
    return out


def purchase_lines(skus: Sequence[str], suggestions: Mapping[str, ReorderSuggestion], supplier_id: str,
                   already: Collection[str] = ()) -> list[tuple[str, int]]:
    """The lines a purchase order to `supplier_id` takes from the reorder suggestions of `skus`: each SKU with
    its suggested quantity. Refused, naming `from_suggestions`: a SKU listed twice or also among the order's own
    lines (`already`), an unknown product, one supplied by another supplier, one with nothing to order."""
    lines: list[tuple[str, int]] = []
    seen = set(already)
    for sku in skus:
        if sku in seen:
            raise InvalidInput(f"SKU {sku} is listed twice", field="from_suggestions")
        seen.add(sku)
        found = suggestions.get(sku)
        if found is None:
            raise not_found("product", sku, field="from_suggestions")
        if found.supplier_id != supplier_id:
            raise InvalidInput(f"SKU {sku} is not bought from this supplier", field="from_suggestions")
        if found.suggested_quantity <= 0:
            raise InvalidInput(f"nothing to order for SKU {sku}: it is not below its reorder point",
                               field="from_suggestions")
        lines.append((sku, found.suggested_quantity))
    return lines
