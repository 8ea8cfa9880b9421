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

from collections.abc import Callable, Mapping, Sequence
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
class Need:
    backorder_id: str
    waiting_quantity: int


def project(
    queue: Sequence[Need],
    *,
    available_now: int,
    inbound: Sequence[InboundSupply],
    today: date,
    lead_time_days: int,
    supplier_late: bool = False,
    release_date: date | None = None,
    lead_time_confidence: Confidence | None = None,
) -> dict[str, Eta]:
    """ETA for every backorder in `queue` (already in priority order)."""
    # in the order the supply is expected to come (a PO's learned date, not its stated one)
    supplies = sorted((s for s in inbound if s.quantity > 0), key=lambda s: (s.projected_date, s.reference))
    etas: dict[str, Eta] = {}
    on_hand_left = max(0, available_now)
    po_index = 0
    po_left = supplies[0].quantity if supplies else 0
    last_date = today
    # Etas are values: one per source, shared by every backorder it covers (10k backorders, 20 POs)
    allocated = Eta(today, Confidence.HIGH, EtaSource.ALLOCATED)
    on_hand = Eta(today, Confidence.HIGH, EtaSource.ON_HAND)
    by_po = [Eta(max(s.projected_date, today), _po_confidence(s, today), EtaSource.PURCHASE_ORDER, s.reference)
             for s in supplies]
    beyond = lead_time_confidence or (Confidence.LOW if supplier_late else Confidence.MEDIUM)
    for need in queue:
        if need.waiting_quantity <= 0:
            eta = allocated
        else:
            remaining = need.waiting_quantity
            from_on_hand = min(on_hand_left, remaining)
            on_hand_left -= from_on_hand
            remaining -= from_on_hand
            eta = on_hand
            while remaining > 0 and po_index < len(supplies):
                take = min(po_left, remaining)
                remaining -= take
                po_left -= take
                eta = by_po[po_index]
                if po_left == 0:
                    po_index += 1
                    po_left = supplies[po_index].quantity if po_index < len(supplies) else 0
            if remaining > 0:
                eta = Eta(  # never before a PO that supplies part of it, nor before those ahead
                    max(days_after(today, lead_time_days), last_date, eta.date),
                    beyond,
                    EtaSource.LEAD_TIME,
                )
            last_date = max(last_date, eta.date)
        if release_date is not None and release_date > eta.date:
            eta = Eta(release_date, eta.confidence, EtaSource.RELEASE_DATE, eta.reference)
        etas[need.backorder_id] = eta
    return etas


# How one receipt is shared: (units arriving, the ids of the backorders still waiting in queue order, what each
# still waits for, the day it arrives) -> units per backorder. The allocation policy's own function, so projection
# and receipt agree.
Split = Callable[[int, Sequence[str], Mapping[str, int], date], Mapping[str, int]]


def project_shared(
    queue: Sequence[Need],
    *,
    split: Split,
    available_now: int,
    inbound: Sequence[InboundSupply],
    today: date,
    lead_time_days: int,
    supplier_late: bool = False,
    release_date: date | None = None,
    lead_time_confidence: Confidence | None = None,
) -> dict[str, Eta]:
    """ETA for every backorder in `queue` (in priority order) when each receipt is shared across the queue by
    `split`.

    The lots come in the order they will be received: what is available now (today, ON_HAND), then the open
    purchase orders by projected date (dated and trusted as `project` does). A backorder's ETA is the lot that
    hands it its last unit; one that no known lot completes is expected after the lead time, never before the
    last purchase order (what it waits for comes after every known one)."""
    supplies = sorted((s for s in inbound if s.quantity > 0), key=lambda s: (s.projected_date, s.reference))
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
        beyond = Eta(max(today + timedelta(days=lead_time_days), last_date),
                     lead_time_confidence or (Confidence.LOW if supplier_late else Confidence.MEDIUM),
                     EtaSource.LEAD_TIME)
        for key in order:
            etas[key] = beyond
    allocated = Eta(today, Confidence.HIGH, EtaSource.ALLOCATED)
    result: dict[str, Eta] = {}
    for need in queue:
        eta = etas.get(need.backorder_id, allocated)
        if release_date is not None and release_date > eta.date:
            eta = Eta(release_date, eta.confidence, EtaSource.RELEASE_DATE, eta.reference)
        result[need.backorder_id] = eta
    return result


def _po_confidence(supply: InboundSupply, today: date) -> Confidence:
    if supply.projected_date < today:  # overdue even after the supplier's usual delay: nobody knows when
        return Confidence.LOW
    if supply.confidence is not None:
        return supply.confidence
    return Confidence.LOW if (supply.supplier_late or supply.expected_date < today) else Confidence.HIGH
