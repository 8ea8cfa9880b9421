"""ETA projection: walk the queue in priority order against the supply that will come.

Stock available now is consumed first, then open purchase orders in expected-date order; each
backorder gets the date of the supply that covers its last unit. Beyond all purchase orders the date
is today + the supplier's lead time (never earlier than the last covering PO, so ETAs never decrease
down the queue). Confidence: HIGH when a PO covers it, MEDIUM from lead time, LOW when the supplier has
been late or the PO is already overdue. Once a supplier has a record (`domain.delays`), a PO's date is
shifted by its learned delay and the confidence is the learned one (`InboundSupply.delay_days`,
`.confidence`), and beyond every PO the lead time is the learned one (`lead_time_confidence`).

That walk is exact for a policy that serves the queue strictly in order (PRIORITY). A policy that shares each
receipt across the queue (FAIR_SHARE) is projected by `project_shared` instead: every lot of supply (what is
available now, then each open purchase order, received as one receipt on its date) is handed out by the same
split the real receipt will use, and a backorder's ETA is the date of the lot that completes it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum


class Confidence(str, Enum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class EtaSource(str, Enum):
    ALLOCATED = "ALLOCATED"  # units are set aside: ready to ship
    ON_HAND = "ON_HAND"
    PURCHASE_ORDER = "PURCHASE_ORDER"
    LEAD_TIME = "LEAD_TIME"
    RELEASE_DATE = "RELEASE_DATE"


@dataclass(frozen=True)
class Eta:
    date: date
    confidence: Confidence
    source: EtaSource
    reference: str | None = None  # the purchase order number that covers it, when there is one


@dataclass(frozen=True)
class InboundSupply:
    reference: str
    expected_date: date
    quantity: int
    supplier_late: bool = False
    supplier_id: str | None = None
    # learned from the supplier's deliveries (`domain.delays.learned_inbound`): days to add to the PO's date,
    # and the confidence that replaces today's rule; 0 and None while too little is known
    delay_days: int = 0
    confidence: Confidence | None = None

    @property
    def projected_date(self) -> date:
        return days_after(self.expected_date, self.delay_days)


def days_after(day: date, days: int) -> date:
    """`day` moved by `days`, held at the calendar's ends: a purchase order may be expected on 9999-12-31 (a
    "some day" date) and its supplier's learned delay must not carry its ETA past the last date there is."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


@dataclass(frozen=True)
class SupplyOutlook:
    """What a projection of one SKU's queue depends on besides the queue: the units available now, the open
    purchase orders, today, the lead time beyond them (and how far to trust it: learned, or LOW when the supplier
    has been late), and a pre-order's release date, before which nothing is expected."""

    available_now: int
    inbound: Sequence[InboundSupply]
    today: date
    lead_time_days: int
    supplier_late: bool = False
    release_date: date | None = None
    lead_time_confidence: Confidence | None = None

    def beyond(self, last_date: date) -> Eta:
        """The ETA of what no known supply covers: after the lead time, never before `last_date` (the last
        purchase order's: what it waits for comes after every known one)."""
        return Eta(max(days_after(self.today, self.lead_time_days), last_date),
                   self.lead_time_confidence or (Confidence.LOW if self.supplier_late else Confidence.MEDIUM),
                   EtaSource.LEAD_TIME)

    def released(self, eta: Eta) -> Eta:
        """`eta`, or the release date when that is later: a pre-order is not served before it."""
        if self.release_date is not None and self.release_date > eta.date:
            return Eta(self.release_date, eta.confidence, EtaSource.RELEASE_DATE, eta.reference)
        return eta


@dataclass(frozen=True)
class Need:
    backorder_id: str
    waiting_quantity: int


def project(queue: Sequence[Need], outlook: SupplyOutlook) -> dict[str, Eta]:
    """ETA for every backorder in `queue` (already in priority order): the step of `eta_steps` its cumulative
    demand falls in, so a slice of the queue can be projected alone (`EtaSteps.at`) with the same result."""
    return dict(eta_steps(outlook).walk((need.backorder_id, need.waiting_quantity) for need in queue))


@dataclass(frozen=True)
class EtaSteps:
    """A first-come projection as a function of the queue's cumulative demand: the backorder whose waiting units
    bring the demand of the queue up to it (its own included) to `demand` is expected `at(demand)`. Step k
    covers demand in (bounds[k-1], bounds[k]] (what is available now, then each purchase order by projected
    date); past the last bound every backorder waits for the lead time (`beyond`). One fully allocated gets
    `allocated`. A change of the inbound supply moves only the ETAs whose demand falls where two step
    functions differ (`differing`): that slice is all a re-projection has to read and write."""

    bounds: tuple[int, ...]
    etas: tuple[Eta, ...]
    beyond: Eta
    allocated: Eta

    def at(self, demand: int) -> Eta:
        step = bisect_left(self.bounds, demand)
        return self.etas[step] if step < len(self.bounds) else self.beyond

    def walk(self, queue: Iterable[tuple[str, int]], demand: int = 0) -> Iterator[tuple[str, Eta]]:
        """(backorder id, ETA) for each (backorder id, units waiting) of a queue in order, behind `demand` units
        waiting ahead of it: one pass over the queue and the steps (demand only grows down the queue)."""
        bounds, etas, beyond, allocated = self.bounds, self.etas, self.beyond, self.allocated
        step, last = bisect_left(bounds, demand + 1), len(bounds)
        for key, waiting in queue:
            if waiting <= 0:
                yield key, allocated
                continue
            demand += waiting
            while step < last and bounds[step] < demand:
                step += 1
            yield key, etas[step] if step < last else beyond

    def differing(self, other: EtaSteps) -> list[tuple[int, int | None]]:
        """The ranges of cumulative demand, (after, up_to] (up_to None: no end), where `self` and `other` give
        different ETAs, adjacent ones merged. Both are constant between two consecutive bounds of either."""
        ranges: list[tuple[int, int | None]] = []
        after = 0
        for up_to in sorted(set(self.bounds) | set(other.bounds)):
            if up_to > after:
                if self.at(up_to) != other.at(up_to):
                    _merge(ranges, after, up_to)
                after = up_to
        if self.beyond != other.beyond:
            _merge(ranges, after, None)
        return ranges

    def shifted(self, units: int) -> EtaSteps:
        """These steps as the queue behind its first `units` of demand sees them once those are served: the
        backorder `at(d + units)` before is `at(d)` now. A receipt at the head compares this with the steps after it
        (`differing`): every backorder behind, its demand `units` lower, keeps its ETA where the two agree."""
        kept = [(bound - units, eta) for bound, eta in zip(self.bounds, self.etas, strict=True) if bound > units]
        return EtaSteps(tuple(b for b, _ in kept), tuple(e for _, e in kept), self.beyond, self.allocated)

    def agrees_up_to(self, other: EtaSteps, demand: int) -> bool:
        """Whether every backorder of a queue of `demand` units waiting that follows `self` (each waiting one's ETA
        `at` its cumulative demand, each fully allocated one's `allocated` or one set aside earlier) also follows
        `other`: the two give the same ETA at every demand up to `demand`, and keep the allocated ones alike."""
        return self.keeps_allocated_alike(other.allocated) and all(
            after >= demand for after, _ in self.differing(other))

    def keeps_allocated_alike(self, allocated: Eta) -> bool:
        """Whether a fully allocated backorder given `allocated` (by earlier steps) follows these steps too: the same
        ETA, or both "allocated" (its date the day it was set aside, not re-dated)."""
        return self.allocated == allocated or self.allocated.source is EtaSource.ALLOCATED is allocated.source


def _merge(ranges: list[tuple[int, int | None]], after: int, up_to: int | None) -> None:
    if ranges and ranges[-1][1] == after:
        ranges[-1] = (ranges[-1][0], up_to)
    else:
        ranges.append((after, up_to))


def eta_steps(outlook: SupplyOutlook) -> EtaSteps:
    """The projection of a queue served in order, as steps of cumulative demand (see `EtaSteps`).

    Stock available now is consumed first (ON_HAND), then open purchase orders in projected-date order; a
    backorder gets the date of the supply that covers its last unit. Beyond all of them: today + the lead time,
    never before the last purchase order (what it waits for comes after every known one). A release date
    later than any of these replaces it."""
    today = outlook.today
    # in the order the supply is expected to come (a PO's learned date, not its stated one)
    supplies = sorted((s for s in outlook.inbound if s.quantity > 0), key=lambda s: (s.projected_date, s.reference))
    bounds: list[int] = []
    etas: list[Eta] = []
    covered = max(0, outlook.available_now)
    if covered:
        bounds.append(covered)
        etas.append(Eta(today, Confidence.HIGH, EtaSource.ON_HAND))
    last_date = today
    for s in supplies:
        covered += s.quantity
        bounds.append(covered)
        etas.append(Eta(max(s.projected_date, today), _po_confidence(s, today), EtaSource.PURCHASE_ORDER,
                        s.reference))
        last_date = etas[-1].date  # supplies in date order, each dated no earlier than today
    released = outlook.released
    return EtaSteps(tuple(bounds), tuple(released(eta) for eta in etas), released(outlook.beyond(last_date)),
                    released(Eta(today, Confidence.HIGH, EtaSource.ALLOCATED)))


# How one receipt is shared: (units arriving, the ids of the backorders still waiting in queue order, what each
# still waits for, the day it arrives) -> units per backorder. The allocation policy's own function, so projection
# and receipt agree.
Split = Callable[[int, Sequence[str], Mapping[str, int], date], Mapping[str, int]]


def project_shared(queue: Sequence[Need], outlook: SupplyOutlook, *, split: Split) -> dict[str, Eta]:
    """ETA for every backorder in `queue` (in priority order) when each receipt is shared across the queue by
    `split`.

    The lots come in the order they will be received: what is available now (today, ON_HAND), then the open
    purchase orders by projected date (dated and trusted as `project` does). A backorder's ETA is the lot that
    hands it its last unit; one that no known lot completes is expected after the lead time, never before the
    last purchase order (what it waits for comes after every known one)."""
    today, available_now = outlook.today, outlook.available_now
    supplies = sorted((s for s in outlook.inbound if s.quantity > 0), key=lambda s: (s.projected_date, s.reference))
    lots: list[tuple[int, Eta]] = []
    if available_now > 0:
        lots.append((available_now, Eta(today, Confidence.HIGH, EtaSource.ON_HAND)))
    lots += [(s.quantity, Eta(max(s.projected_date, today), _po_confidence(s, today), EtaSource.PURCHASE_ORDER,
                              s.reference)) for s in supplies]
    waiting = {need.backorder_id: need.waiting_quantity for need in queue if need.waiting_quantity > 0}
    order = [need.backorder_id for need in queue if need.waiting_quantity > 0]  # queue order, kept
    etas: dict[str, Eta] = {}
    last_date = today
    for units, lot in lots:
        if not order:
            break
        given = split(units, order, waiting, lot.date)
        if sum(given.values()) > units or any(not 0 <= qty <= waiting.get(key, 0) for key, qty in given.items()):
            raise AssertionError("a split handed out more than arrived or than was waited for")
        last_date = max(last_date, lot.date)
        for key, qty in given.items():
            waiting[key] -= qty
            if waiting[key] == 0:
                etas[key] = lot
        order = [key for key in order if waiting[key] > 0]
    if order:
        beyond = outlook.beyond(last_date)
        for key in order:
            etas[key] = beyond
    allocated = Eta(today, Confidence.HIGH, EtaSource.ALLOCATED)
    return {need.backorder_id: outlook.released(etas.get(need.backorder_id, allocated)) for need in queue}


def _po_confidence(supply: InboundSupply, today: date) -> Confidence:
    if supply.projected_date < today:  # overdue even after the supplier's usual delay: nobody knows when
        return Confidence.LOW
    if supply.confidence is not None:
        return supply.confidence
    return Confidence.LOW if (supply.supplier_late or supply.expected_date < today) else Confidence.HIGH
