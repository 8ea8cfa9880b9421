"""Under FAIR_SHARE the ETA projection follows the allocation policy: each purchase order, received on its date,
is shared across the queue by the same allocation function the real receipt runs, so a backorder's projected
ETA is the day the receipt that completes it arrives (it was projected in strict queue order, which promised
the first in line the next PO when a fair share would give it only part of it)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.allocation import AllocationPolicy
from domain.causes import Actor, Cause, CauseKind
from domain.eta import Confidence, EtaSource, InboundSupply, Need, SupplyOutlook, project, project_shared
from domain.model import Money, Product
from tests.unit.support import NOW, TODAY, inventory, place


def fair(minimum: int | None = None, cap: int | None = None) -> Product:
    return Product(sku="MUG-01", name="Mug", price=Money.of("10.00", "EUR"),
                   allocation_policy=AllocationPolicy.FAIR_SHARE, fair_share_minimum=minimum,
                   customer_cap_per_receipt=cap)


def po(reference: str, days: int, quantity: int) -> InboundSupply:
    return InboundSupply(reference, TODAY + timedelta(days=days), quantity)


def test_the_worked_example_a_po_of_6_for_three_backorders_of_4_completes_none_of_them():
    inv = inventory(product_=fair(), inbound=[po("PO-1", 5, 6), po("PO-2", 9, 6)])
    a, b, c = (place(inv, 4, minutes=i, email=f"c{i}@example.com")[2] for i in range(3))
    assert a and b and c
    # PO-1 gives 2/2/2, PO-2 the last 2 each: all three complete with PO-2 (in queue order, a would have
    # been promised PO-1 and c the lead time)
    assert [(x.eta.reference, x.eta.date) for x in (a, b, c) if x.eta] == [("PO-2", TODAY + timedelta(days=9))] * 3


def test_priority_products_are_still_projected_in_queue_order():
    inv = inventory(inbound=[po("PO-1", 5, 6), po("PO-2", 9, 6)])
    a, b, c = (place(inv, 4, minutes=i, email=f"c{i}@example.com")[2] for i in range(3))
    assert a and b and c and a.eta and b.eta and c.eta
    assert [a.eta.reference, b.eta.reference, c.eta.reference] == ["PO-1", "PO-2", "PO-2"]


def test_project_shared_hands_each_lot_out_by_the_split_and_beyond_every_po_uses_the_lead_time():
    def halves(units: int, ordered, waiting, day):  # the first waiting gets half of each lot, the next the rest
        first, *rest = ordered
        give = {first: min(waiting[first], (units + 1) // 2)}
        left = units - give[first]
        for key in rest:
            give[key] = min(waiting[key], left)
            left -= give[key]
        return {k: v for k, v in give.items() if v}

    etas = project_shared([Need("ready", 0), Need("a", 3), Need("b", 3), Need("c", 9)],
                          SupplyOutlook(2, [po("PO-1", 3, 4)], TODAY, 14), split=halves)
    assert etas["ready"].source is EtaSource.ALLOCATED
    # now: a 1, b 1; PO-1 (4): a 2 (done), b 2 (done)
    assert (etas["a"].reference, etas["b"].reference) == ("PO-1", "PO-1")
    assert etas["c"].source is EtaSource.LEAD_TIME and etas["c"].confidence is Confidence.MEDIUM
    assert etas["c"].date == TODAY + timedelta(days=14)


# -- the property: projected ETAs are what the receipts then do ---------------------------------------
@st.composite
def scenarios(draw: st.DrawFn):
    backorders = draw(st.lists(st.tuples(st.integers(1, 6), st.sampled_from("abc")), min_size=1, max_size=6))
    pos = draw(st.lists(st.tuples(st.integers(1, 20), st.integers(1, 10)), max_size=4))
    minimum = draw(st.none() | st.integers(1, 3))
    cap = draw(st.none() | st.integers(1, 4))
    return backorders, pos, minimum, cap


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_projected_etas_are_when_the_receipts_complete_each_backorder(scenario):
    backorders, pos, minimum, cap = scenario
    inbound = [po(f"PO-{i}", days, quantity) for i, (days, quantity) in enumerate(pos)]
    inv = inventory(product_=fair(minimum, cap), inbound=inbound)
    placed = [place(inv, units, minutes=i, email=f"{who}@example.com")[2] for i, (units, who) in enumerate(backorders)]
    projected = {b.id: b.eta for b in placed if b is not None}

    completed_by: dict[str, str] = {}
    for supply in sorted(inbound, key=lambda s: (s.expected_date, s.reference)):  # each PO arrives on its date
        arrival = datetime.combine(supply.expected_date, time(12), tzinfo=NOW.tzinfo)
        inv.inbound = [s for s in inv.inbound if s.reference != supply.reference]
        cause = Cause(kind=CauseKind.PO_RECEIVED, actor=Actor.AGENT, reference=supply.reference)
        inv.receive("MAIN", supply.quantity, arrival, cause)
        inv.settle(arrival, cause)
        for b in placed:
            if b is not None and b.id not in completed_by and b.waiting_quantity == 0:
                completed_by[b.id] = supply.reference
        inv.check_invariants()

    for backorder_id, eta in projected.items():
        assert eta is not None
        if backorder_id in completed_by:
            assert eta.source is EtaSource.PURCHASE_ORDER and eta.reference == completed_by[backorder_id], (
                backorder_id, eta, completed_by)
        else:
            assert eta.source is EtaSource.LEAD_TIME, (backorder_id, eta)
    # and so the order of the projected dates is the order in which the receipts complete the backorders
    dates = {b: projected[b].date for b in completed_by if projected[b] is not None}  # type: ignore[union-attr]
    by_receipt = sorted(completed_by, key=lambda b: [s.reference for s in sorted(
        inbound, key=lambda s: (s.expected_date, s.reference))].index(completed_by[b]))
    assert [dates[b] for b in by_receipt] == sorted(dates.values())


@given(st.dates(min_value=date(9999, 1, 1)), st.integers(0, 400))
def test_a_lead_time_past_the_calendars_end_is_held_at_its_last_day_as_in_queue_order(today, lead_time_days):
    # project (in queue order) held it there already; project_shared added the days itself and raised OverflowError
    def nothing(units, ordered, waiting, day):
        return {}

    outlook = SupplyOutlook(0, [], today, lead_time_days)
    etas = project_shared([Need("a", 1)], outlook, split=nothing)
    assert etas == project([Need("a", 1)], outlook)
    assert etas["a"].date == min(date.max, today + timedelta(days=min(lead_time_days, (date.max - today).days)))

