"""How late suppliers deliver, learned from what they did: delivery records, the distribution of delay in
days per supplier (and per SKU where there is enough history), and the ETA shift and confidence read from
it. Pure: the store hands in the history (as records or as a histogram), nothing here touches a database.

Delay is measured against the date as last moved (the date the shop was working to when the goods came;
`EtaLearning` shifts that same date of an open purchase order), so a supplier that warns early and keeps
its new date is not counted late. The delay against the date first promised is kept too
(`DeliveryRecord.delay_from_first_days`) for the supplier's report.

Quantiles are nearest-rank on the sorted values (`quantile`): an actual number of days that happened, never
an interpolated 4.3, which is what a promise date needs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from domain.eta import Confidence, InboundSupply


@dataclass(frozen=True)
class DeliveryRecord:
    """One purchase order line received (a partial receipt is a record of its own)."""

    supplier_id: str
    sku: str
    quantity: int
    first_promised: date
    last_promised: date
    received_on: date
    ordered_on: date | None = None  # unknown for imported history: no lead time is learned from it
    purchase_order: str = ""

    @property
    def delay_days(self) -> int:
        """Days after the date as last moved (negative: early)."""
        return (self.received_on - self.last_promised).days

    @property
    def delay_from_first_days(self) -> int:
        return (self.received_on - self.first_promised).days

    @property
    def lead_days(self) -> int | None:
        return (self.received_on - self.ordered_on).days if self.ordered_on is not None else None

    @property
    def on_time(self) -> bool:
        return self.received_on <= self.last_promised


def delivery_records(*, supplier_id: str, purchase_order: str, first_promised: date, last_promised: date,
                     received: Mapping[str, int], received_on: date,
                     ordered_on: date | None) -> list[DeliveryRecord]:
    """The records of one receipt of a purchase order: a line per SKU received (units > 0)."""
    return [DeliveryRecord(supplier_id, sku, quantity, first_promised, last_promised, received_on, ordered_on,
                           purchase_order) for sku, quantity in sorted(received.items()) if quantity > 0]


def quantile(values: Sequence[int], q: float) -> int:
    """Nearest-rank quantile of sorted `values` (q in [0, 1]): the smallest value with at least q of the
    values at or below it. quantile([1, 2, 3, 4], 0.5) == 2; q == 0 gives the minimum."""
    if not values:
        raise ValueError("quantile of no values")
    if not 0 <= q <= 1:
        raise ValueError("q must be between 0 and 1")
    rank = max(1, math.ceil(q * len(values)))
    return values[rank - 1]


@dataclass(frozen=True)
class Distribution:
    """A distribution of whole days, kept as a histogram (days -> count): compact however long the history."""

    histogram: tuple[tuple[int, int], ...] = ()  # (days, count), days ascending, counts > 0

    @staticmethod
    def of(values: Iterable[int]) -> Distribution:
        counts: dict[int, int] = defaultdict(int)
        for v in values:
            counts[v] += 1
        return Distribution.from_counts(counts)

    @staticmethod
    def from_counts(counts: Mapping[int, int]) -> Distribution:
        return Distribution(tuple(sorted((d, n) for d, n in counts.items() if n > 0)))

    def __add__(self, other: Distribution) -> Distribution:
        counts: dict[int, int] = defaultdict(int)
        for d, n in (*self.histogram, *other.histogram):
            counts[d] += n
        return Distribution.from_counts(counts)

    @property
    def count(self) -> int:
        return sum(n for _, n in self.histogram)

    @property
    def mean(self) -> float:
        total = self.count
        if not total:
            raise ValueError("mean of an empty distribution")
        return sum(d * n for d, n in self.histogram) / total

    @property
    def stdev(self) -> float:
        """Sample standard deviation (0 for a single value)."""
        total = self.count
        if total < 2:
            return 0.0
        mean = self.mean
        return math.sqrt(sum(n * (d - mean) ** 2 for d, n in self.histogram) / (total - 1))

    def quantile(self, q: float) -> int:
        """Nearest-rank, as `quantile` on the values spelled out."""
        total = self.count
        if not total:
            raise ValueError("quantile of an empty distribution")
        if not 0 <= q <= 1:
            raise ValueError("q must be between 0 and 1")
        return self._at_rank(max(1, math.ceil(q * total)))

    def _at_rank(self, rank: int) -> int:
        """The rank-th smallest value (1-based, at most count)."""
        seen = 0
        for days, n in self.histogram:
            seen += n
            if seen >= rank:
                return days
        raise AssertionError("unreachable: rank <= count")

    @property
    def spread(self) -> int:
        """p90 - p10 in days: how far apart the usual outcomes lie."""
        return self.quantile(0.9) - self.quantile(0.1)

    def predictive(self, q: float) -> int:
        """The delay the next delivery stays within with probability q, whatever the distribution: the k-th
        smallest of the n values, k = ceil(q * (n + 1)) (at most n), since a new value falls below the k-th
        of n exchangeable ones with probability k / (n + 1). On few deliveries this is later than the plain
        quantile (the 80% quantile of 5 values covers a sixth only 4 times in 6); on many it is the same."""
        total = self.count
        if not total:
            raise ValueError("no values to predict from")
        if not 0 <= q <= 1:
            raise ValueError("q must be between 0 and 1")
        return self._at_rank(max(1, min(total, math.ceil(q * (total + 1)))))

    def at_least(self, days: int) -> Distribution:
        """The values of `days` or more (the record of the deliveries at least that late)."""
        return Distribution(tuple((d, n) for d, n in self.histogram if d >= days))

    def share_at_most(self, days: int) -> float:
        total = self.count
        return sum(n for d, n in self.histogram if d <= days) / total if total else 0.0


@dataclass(frozen=True)
class EtaLearning:
    """The rule that turns a delay distribution into an ETA shift and a confidence.

    - Below `min_history` records (for the SKU at its supplier, else the supplier) nothing is learned:
      the PO's own date and today's confidence rule stand.
    - The shift is the delay the next delivery stays within with probability `delay_quantile`
      (`Distribution.predictive`: the ceil(q (n + 1))-th smallest of n delays), never below 0 (an early
      supplier does not make us promise before the date it gave).
    - Confidence from the spread (p90 - p10 of delay days) and the amount of history: HIGH with at least
      `high_history` records and a spread of at most `high_spread_days`; LOW with a spread over
      `medium_spread_days`; MEDIUM otherwise (also HIGH-steady suppliers with fewer than `high_history`).
    - Per SKU once its supplier delivered it at least `min_sku_history` times, else the supplier's whole record.
    """

    delay_quantile: float = 0.8
    min_history: int = 3
    min_sku_history: int = 5
    high_history: int = 5
    high_spread_days: int = 2
    medium_spread_days: int = 6

    def __post_init__(self) -> None:
        if not 0 <= self.delay_quantile <= 1:
            raise ValueError("delay_quantile must be between 0 and 1")

    def confidence(self, delays: Distribution) -> Confidence:
        if delays.spread > self.medium_spread_days:
            return Confidence.LOW
        if delays.count >= self.high_history and delays.spread <= self.high_spread_days:
            return Confidence.HIGH
        return Confidence.MEDIUM

    def description(self) -> str:
        return (f"the PO's date moved by the supplier's {self.delay_quantile:.0%} quantile of delay (never earlier; "
                f"per SKU from {self.min_sku_history} deliveries, else the supplier's, from {self.min_history}); "
                f"HIGH with {self.high_history}+ deliveries within {self.high_spread_days} days of each other "
                f"(p90-p10), LOW when spread over {self.medium_spread_days} days, else MEDIUM")


@dataclass(frozen=True)
class DelayEstimate:
    shift_days: int
    confidence: Confidence
    history: int  # records it was learned from
    per_sku: bool  # learned from this SKU's own deliveries


@dataclass
class SupplierRecord:
    """One supplier's learned record: delays (vs the date as last moved) and lead times, overall and per SKU."""

    delays: Distribution = field(default_factory=Distribution)
    delays_by_sku: dict[str, Distribution] = field(default_factory=dict)
    lead_times: Distribution = field(default_factory=Distribution)
    lead_times_by_sku: dict[str, Distribution] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryRow:
    """One histogram cell as the store counts it: `count` deliveries of `sku` by `supplier_id` that came
    `delay_days` after the date as last moved, `lead_days` after ordering (None: not known)."""

    supplier_id: str
    sku: str
    delay_days: int
    lead_days: int | None
    count: int


class DelayHistory:
    """Every supplier's learned record, built from delivery records or from the store's histogram rows."""

    def __init__(self, suppliers: Mapping[str, SupplierRecord] | None = None) -> None:
        self.suppliers: dict[str, SupplierRecord] = dict(suppliers or {})

    @staticmethod
    def from_records(records: Iterable[DeliveryRecord]) -> DelayHistory:
        return DelayHistory.from_rows(HistoryRow(r.supplier_id, r.sku, r.delay_days, r.lead_days, 1) for r in records)

    @staticmethod
    def from_rows(rows: Iterable[HistoryRow], supplier_totals: Iterable[HistoryRow] | None = None) -> DelayHistory:
        """Per-SKU cells; the suppliers' whole record is their sum, unless `supplier_totals` gives it (the store
        then reads per-SKU cells only for the SKUs it loads: a supplier of 5,000 SKUs costs a few rows)."""
        delays: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
        leads: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
        for row in rows:
            delays[row.supplier_id][row.sku][row.delay_days] += row.count
            if row.lead_days is not None:
                leads[row.supplier_id][row.sku][row.lead_days] += row.count
        total_delays: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        total_leads: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for row in supplier_totals or ():
            total_delays[row.supplier_id][row.delay_days] += row.count
            if row.lead_days is not None:
                total_leads[row.supplier_id][row.lead_days] += row.count
        suppliers: dict[str, SupplierRecord] = {}
        for supplier_id in delays.keys() | leads.keys() | total_delays.keys():
            by_sku = {sku: Distribution.from_counts(c) for sku, c in delays[supplier_id].items()}
            lead_by_sku = {sku: Distribution.from_counts(c) for sku, c in leads[supplier_id].items()}
            if supplier_totals is None:
                whole, whole_leads = sum(by_sku.values(), Distribution()), sum(lead_by_sku.values(), Distribution())
            else:
                whole = Distribution.from_counts(total_delays[supplier_id])
                whole_leads = Distribution.from_counts(total_leads[supplier_id])
            suppliers[supplier_id] = SupplierRecord(delays=whole, delays_by_sku=by_sku, lead_times=whole_leads,
                                                    lead_times_by_sku=lead_by_sku)
        return DelayHistory(suppliers)

    def __bool__(self) -> bool:
        return bool(self.suppliers)

    def delays(self, supplier_id: str, sku: str | None = None, *, min_sku_history: int = 1) -> Distribution:
        """The supplier's delays: this SKU's own when it has `min_sku_history` of them, else all of them."""
        record = self.suppliers.get(supplier_id)
        if record is None:
            return Distribution()
        own = record.delays_by_sku.get(sku) if sku is not None else None
        return own if own is not None and own.count >= min_sku_history else record.delays

    def lead_times(self, supplier_id: str, sku: str | None = None, *, min_sku_history: int = 1) -> Distribution:
        """Actual lead times in days (ordered to received), the same way: the SKU's own, else the supplier's."""
        record = self.suppliers.get(supplier_id)
        if record is None:
            return Distribution()
        own = record.lead_times_by_sku.get(sku) if sku is not None else None
        return own if own is not None and own.count >= min_sku_history else record.lead_times


def estimate_delay(history: DelayHistory, supplier_id: str | None, sku: str, rule: EtaLearning, *,
                   late_by: int | None = None) -> DelayEstimate | None:
    """How many days to add to an open PO's date of `supplier_id` for `sku`, and how sure; None: too little known.

    `late_by`: the PO has not come and its date passed that many days ago. The supplier's record then counts
    only the deliveries that were at least that late (what we know now: it is one of those), so a PO already
    3 days late from a supplier that is often on time and sometimes 10 days late is expected in 10, not
    "today"; with no delivery ever that late, nobody knows: today at the earliest, LOW."""
    if supplier_id is None:
        return None
    delays = history.delays(supplier_id, sku, min_sku_history=rule.min_sku_history)
    if delays.count < rule.min_history:
        return None
    per_sku = delays is history.suppliers[supplier_id].delays_by_sku.get(sku)
    if late_by is not None and late_by > 0:
        still = delays.at_least(late_by)
        if not still.count:
            return DelayEstimate(late_by, Confidence.LOW, 0, per_sku)
        confidence = rule.confidence(still) if still.count >= rule.min_history else Confidence.LOW
        return DelayEstimate(still.predictive(rule.delay_quantile), confidence, still.count, per_sku)
    return DelayEstimate(max(0, delays.predictive(rule.delay_quantile)), rule.confidence(delays), delays.count,
                         per_sku)


def estimate_lead_time(history: DelayHistory, supplier_id: str | None, sku: str,
                       rule: EtaLearning) -> DelayEstimate | None:
    """The lead time (days from ordering to receipt) to promise when no PO covers a backorder: the same
    quantile of actual lead times; confidence from their spread. None: too few known."""
    if supplier_id is None:
        return None
    leads = history.lead_times(supplier_id, sku, min_sku_history=rule.min_sku_history)
    if leads.count < rule.min_history:
        return None
    per_sku = leads is history.suppliers[supplier_id].lead_times_by_sku.get(sku)
    return DelayEstimate(max(0, leads.predictive(rule.delay_quantile)), rule.confidence(leads), leads.count, per_sku)


def learned_inbound(inbound: Sequence[InboundSupply], history: DelayHistory, sku: str,
                    rule: EtaLearning, today: date | None = None) -> list[InboundSupply]:
    """The inbound supply with each PO's learned delay and confidence filled in (unchanged where too little
    is known about its supplier); a PO whose date passed before `today` by the supplier's record of deliveries
    at least that late."""
    if not history:
        return list(inbound)
    learned = []
    for supply in inbound:
        late_by = (today - supply.expected_date).days if today is not None else None
        estimate = estimate_delay(history, supply.supplier_id, sku, rule, late_by=late_by)
        if estimate is not None:
            supply = InboundSupply(supply.reference, supply.expected_date, supply.quantity, supply.supplier_late,
                                   supplier_id=supply.supplier_id, delay_days=estimate.shift_days,
                                   confidence=estimate.confidence)
        learned.append(supply)
    return learned


@dataclass(frozen=True)
class LeadTimeVariability:
    """For reorder advice: mean and spread of actual lead times in days, and how many deliveries say so."""

    mean_days: float
    stdev_days: float
    deliveries: int


def lead_time_variability(history: DelayHistory, supplier_id: str, sku: str | None = None, *,
                          min_sku_history: int = 5) -> LeadTimeVariability | None:
    """Mean and standard deviation of the supplier's actual lead times (the SKU's own with enough of them);
    None when none is known. Where ordering dates are unknown (imported history), lead time = stated lead
    time + delay is the caller's fallback: see `delay_variability`."""
    leads = history.lead_times(supplier_id, sku, min_sku_history=min_sku_history)
    if not leads.count:
        return None
    return LeadTimeVariability(leads.mean, leads.stdev, leads.count)


def delay_variability(history: DelayHistory, supplier_id: str, sku: str | None = None, *,
                      min_sku_history: int = 5) -> LeadTimeVariability | None:
    """Mean and standard deviation of the supplier's delay past the promised date; None when none is known."""
    delays = history.delays(supplier_id, sku, min_sku_history=min_sku_history)
    if not delays.count:
        return None
    return LeadTimeVariability(delays.mean, delays.stdev, delays.count)


@dataclass(frozen=True)
class SupplierPerformance:
    """A supplier's deliveries over a period: on-time rate (received by the date as last moved), delay."""

    supplier_id: str
    lines_received: int
    on_time_rate: float
    on_time_rate_as_first_promised: float
    mean_delay_days: float
    p50_delay_days: int
    p90_delay_days: int


@dataclass(frozen=True)
class DelayCount:
    """`count` lines of `supplier_id` received `delay_days` after the date as last moved and
    `delay_from_first_days` after the date first promised (how the store counts them, in one query)."""

    supplier_id: str
    delay_days: int
    delay_from_first_days: int
    count: int


def supplier_performance(counts: Iterable[DelayCount]) -> list[SupplierPerformance]:
    """Per supplier (in id order) over the given counts; suppliers without deliveries are left out."""
    by_supplier: dict[str, list[DelayCount]] = defaultdict(list)
    for c in counts:
        if c.count > 0:
            by_supplier[c.supplier_id].append(c)
    report = []
    for supplier_id in sorted(by_supplier):
        mine = by_supplier[supplier_id]
        delays = Distribution.from_counts(_summed((c.delay_days, c.count) for c in mine))
        total = delays.count
        report.append(SupplierPerformance(
            supplier_id=supplier_id, lines_received=total,
            on_time_rate=delays.share_at_most(0),
            on_time_rate_as_first_promised=sum(c.count for c in mine if c.delay_from_first_days <= 0) / total,
            mean_delay_days=delays.mean, p50_delay_days=delays.quantile(0.5), p90_delay_days=delays.quantile(0.9)))
    return report


def delay_counts(records: Iterable[DeliveryRecord]) -> list[DelayCount]:
    """Records counted as the store counts them (for tests and in-memory stores)."""
    counts: dict[tuple[str, int, int], int] = defaultdict(int)
    for r in records:
        counts[(r.supplier_id, r.delay_days, r.delay_from_first_days)] += 1
    return [DelayCount(s, d, f, n) for (s, d, f), n in sorted(counts.items())]


def _summed(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for days, n in pairs:
        out[days] += n
    return out
