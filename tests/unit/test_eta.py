"""ETA projection: the queue walked against stock on hand, then purchase orders by date, then the lead time;
and on the aggregate, an EtaChanged only for the backorders whose date really moved."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events as ev
from domain.causes import Actor, Cause, CauseKind
from domain.eta import Confidence, Eta, EtaSource, InboundSupply, Need, SupplyOutlook, project
from domain.model import BackorderPolicy, Supplier
from tests.unit.support import NOW, TODAY, events_of, inventory, note, place, product, received

LEAD = TODAY + timedelta(days=14)
MAR_10 = date(2026, 3, 10)
MAR_20 = date(2026, 3, 20)
APR_30 = date(2026, 4, 30)


def walk(*needs: tuple[str, int], available_now: int = 0, inbound=(), lead_time_days: int = 14,
         supplier_late: bool = False, release_date: date | None = None) -> dict[str, Eta]:
    return project([Need(b, q) for b, q in needs], SupplyOutlook(
        available_now, list(inbound), TODAY, lead_time_days, supplier_late=supplier_late, release_date=release_date))


def test_stock_on_hand_covers_the_front_of_the_queue_today():
    etas = walk(("a", 2), ("b", 1), ("c", 1), available_now=3)

    assert etas["a"] == Eta(TODAY, Confidence.HIGH, EtaSource.ON_HAND)
    assert etas["b"] == Eta(TODAY, Confidence.HIGH, EtaSource.ON_HAND)
    assert etas["c"] == Eta(LEAD, Confidence.MEDIUM, EtaSource.LEAD_TIME)


def test_purchase_orders_are_used_in_date_order_and_a_backorder_gets_the_po_covering_its_last_unit():
    inbound = [InboundSupply("PO-LATE", MAR_20, 2), InboundSupply("PO-EARLY", MAR_10, 2)]

    etas = walk(("a", 1), ("b", 2), ("c", 1), ("d", 1), inbound=inbound)

    assert etas["a"] == Eta(MAR_10, Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-EARLY")
    assert etas["b"] == Eta(MAR_20, Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-LATE")  # 1 early + 1 late
    assert etas["c"] == Eta(MAR_20, Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-LATE")
    assert etas["d"] == Eta(MAR_20, Confidence.MEDIUM, EtaSource.LEAD_TIME)  # not before PO-LATE (LEAD is 03-16)


def test_stock_on_hand_is_used_before_purchase_orders():
    etas = walk(("a", 3), ("b", 1), available_now=2, inbound=[InboundSupply("PO-1", MAR_10, 5)])

    assert etas["a"] == Eta(MAR_10, Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-1")  # 2 on hand + 1 on PO-1
    assert etas["b"] == Eta(MAR_10, Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-1")


def test_beyond_every_purchase_order_the_date_is_today_plus_lead_time_with_medium_confidence():
    etas = walk(("a", 1), ("b", 1), inbound=[InboundSupply("PO-1", MAR_10, 1)], lead_time_days=21)

    assert etas["b"] == Eta(TODAY + timedelta(days=21), Confidence.MEDIUM, EtaSource.LEAD_TIME)


def test_beyond_every_purchase_order_confidence_is_low_when_the_supplier_has_been_late():
    etas = walk(("a", 1), ("b", 1), inbound=[InboundSupply("PO-1", MAR_10, 1)], supplier_late=True)

    assert etas["a"] == Eta(MAR_10, Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-1")
    assert etas["b"] == Eta(LEAD, Confidence.LOW, EtaSource.LEAD_TIME)


def test_a_purchase_order_from_a_late_supplier_has_low_confidence():
    etas = walk(("a", 1), inbound=[InboundSupply("PO-1", MAR_10, 1, supplier_late=True)])

    assert etas["a"] == Eta(MAR_10, Confidence.LOW, EtaSource.PURCHASE_ORDER, "PO-1")


def test_an_overdue_purchase_order_is_expected_today_with_low_confidence():
    etas = walk(("a", 1), inbound=[InboundSupply("PO-1", TODAY - timedelta(days=3), 1)])

    assert etas["a"] == Eta(TODAY, Confidence.LOW, EtaSource.PURCHASE_ORDER, "PO-1")


def test_lead_time_dates_are_never_earlier_than_the_last_covering_purchase_order():
    etas = walk(("a", 1), ("b", 1), inbound=[InboundSupply("PO-FAR", APR_30, 1)])

    assert etas["a"] == Eta(APR_30, Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-FAR")
    assert etas["b"] == Eta(APR_30, Confidence.MEDIUM, EtaSource.LEAD_TIME)


def test_a_backorder_partly_covered_by_a_po_and_partly_by_lead_time_is_not_expected_before_that_po():
    etas = walk(("a", 5), ("b", 1), inbound=[InboundSupply("PO-FAR", APR_30, 2)])

    assert etas["a"].date == APR_30
    assert etas["b"].date == APR_30


def test_fully_allocated_backorders_are_ready_today():
    etas = walk(("ready", 0), ("a", 1), available_now=0, inbound=[InboundSupply("PO-1", MAR_10, 1)])

    assert etas["ready"] == Eta(TODAY, Confidence.HIGH, EtaSource.ALLOCATED)
    assert etas["a"] == Eta(MAR_10, Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-1")  # ready took nothing


def test_empty_purchase_orders_are_ignored():
    etas = walk(("a", 1), inbound=[InboundSupply("PO-EMPTY", TODAY, 0), InboundSupply("PO-1", MAR_20, 1)])

    assert etas["a"].reference == "PO-1"


def test_a_release_date_later_than_the_supply_moves_the_date_and_keeps_the_confidence():
    release = date(2026, 4, 1)
    etas = walk(("a", 1), ("b", 1), ("c", 1), available_now=1, inbound=[InboundSupply("PO-1", MAR_10, 1)],
                lead_time_days=60, release_date=release)

    assert etas["a"] == Eta(release, Confidence.HIGH, EtaSource.RELEASE_DATE)
    assert etas["b"] == Eta(release, Confidence.HIGH, EtaSource.RELEASE_DATE, "PO-1")
    assert etas["c"] == Eta(TODAY + timedelta(days=60), Confidence.MEDIUM, EtaSource.LEAD_TIME)


def test_an_empty_queue_has_no_etas():
    assert walk(available_now=5) == {}


# -- on the aggregate -------------------------------------------------------------------------------


def test_a_new_backorder_is_promised_its_first_eta_without_an_eta_changed_event():
    inv = inventory(0)

    _, _, backorder = place(inv, 2)

    assert backorder.eta == Eta(LEAD, Confidence.MEDIUM, EtaSource.LEAD_TIME)
    assert backorder.promised_date == LEAD
    assert events_of(inv, ev.EtaChanged) == []
    [created] = events_of(inv, ev.BackorderCreated)
    assert (created.eta_date, created.eta_confidence, created.queue_position) == (LEAD, "MEDIUM", 1)
    assert [h.kind for h in backorder.history] == ["STATUS"]


def test_eta_changed_only_for_the_backorders_whose_date_moved():
    inv = inventory(0)
    _, _, first = place(inv, 3)
    _, _, second = place(inv, 2, minutes=1)
    inv.events.clear()

    inv.inbound = [InboundSupply("PO-1", MAR_10, 3)]
    scheduled = Cause(kind=CauseKind.PO_CREATED, actor=Actor.AGENT, reference="PO-1", new="2026-03-10")
    inv.settle(NOW, scheduled)

    changed = events_of(inv, ev.EtaChanged)
    assert [(e.backorder_id, e.old_date, e.new_date, e.confidence, e.source) for e in changed] == [
        (first.id, LEAD, MAR_10, "HIGH", "PURCHASE_ORDER"),
    ]
    assert changed[0].cause == scheduled
    assert first.eta == Eta(MAR_10, Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-1")
    assert second.eta == Eta(LEAD, Confidence.MEDIUM, EtaSource.LEAD_TIME)
    assert [h.kind for h in second.history] == ["STATUS"]
    eta_history = [(h.old_value, h.new_value) for h in first.history if h.kind == "ETA"]
    assert eta_history == [(LEAD.isoformat(), MAR_10.isoformat())]
    assert first.promised_date == LEAD  # the first promise stands; only the estimate moves


def test_a_change_of_confidence_alone_updates_the_eta_but_announces_nothing():
    supplier = Supplier("acme", "Acme", lead_time_days=14)
    inv = inventory(0, supplier=supplier)
    _, _, backorder = place(inv, 2)
    inv.events.clear()

    supplier.deliveries_late = 1
    inv.settle(NOW, note("supplier was late"))

    assert backorder.eta == Eta(LEAD, Confidence.LOW, EtaSource.LEAD_TIME)
    assert events_of(inv, ev.EtaChanged) == []
    assert [h.kind for h in backorder.history] == ["STATUS"]


def test_settling_again_without_any_change_announces_nothing():
    inv = inventory(0)
    place(inv, 2)
    place(inv, 2, minutes=1)
    inv.events.clear()

    inv.settle(NOW, note("nothing happened"))

    assert inv.events == []


def test_stock_arriving_for_the_front_of_the_queue_makes_it_ready_and_hands_its_po_to_the_next():
    inv = inventory(0, inbound=[InboundSupply("PO-1", MAR_10, 2)])
    _, _, first = place(inv, 2)
    _, _, second = place(inv, 2, minutes=1)
    assert (first.eta.date, second.eta.date) == (MAR_10, LEAD)
    inv.events.clear()

    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))

    changed = events_of(inv, ev.EtaChanged)
    assert [(e.backorder_id, e.old_date, e.new_date, e.source) for e in changed] == [
        (first.id, MAR_10, TODAY, "ALLOCATED"),
        (second.id, LEAD, MAR_10, "PURCHASE_ORDER"),
    ]
    assert second.eta == Eta(MAR_10, Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-1")


def test_cancelling_ahead_in_the_queue_brings_later_etas_forward():
    inv = inventory(0, inbound=[InboundSupply("PO-1", MAR_10, 2)])
    _, _, first = place(inv, 2)
    _, _, second = place(inv, 2, minutes=1)
    inv.events.clear()

    inv.cancel(first, None, NOW, by="customer", reason="")
    inv.settle(NOW, note("a backorder ahead was cancelled"))

    [changed] = events_of(inv, ev.EtaChanged)
    assert (changed.backorder_id, changed.old_date, changed.new_date) == (second.id, LEAD, MAR_10)
    assert second.queue_position == 1


def test_the_lead_time_is_the_products_then_the_suppliers_then_the_default():
    supplier = Supplier("acme", "Acme", lead_time_days=21)

    assert inventory(0, lead_time_days=7).lead_time_days == 7
    assert inventory(0, supplier=supplier, lead_time_days=7).lead_time_days == 21
    assert inventory(0, product_=product(lead_time_days=3), supplier=supplier).lead_time_days == 3

    inv = inventory(0, supplier=supplier)
    _, _, backorder = place(inv, 1)
    assert backorder.eta.date == TODAY + timedelta(days=21)


def test_a_preorder_is_expected_on_its_release_date_and_its_eta_does_not_move_before_then():
    release = date(2026, 5, 1)
    inv = inventory(0, product_=product(policy=BackorderPolicy.PREORDER, release_date=release))
    _, _, backorder = place(inv, 1)
    inv.events.clear()

    inv.inbound = [InboundSupply("PO-1", MAR_10, 5)]
    inv.settle(NOW, note("purchase order PO-1"))

    assert backorder.eta == Eta(release, Confidence.HIGH, EtaSource.RELEASE_DATE, "PO-1")
    assert events_of(inv, ev.EtaChanged) == []


def test_supplier_lateness_is_one_late_delivery_in_five():
    supplier = Supplier("acme", "Acme")
    assert not supplier.has_been_late
    supplier.record_delivery(MAR_10, MAR_10)
    for _ in range(3):
        supplier.record_delivery(MAR_10, MAR_10 - timedelta(days=1))
    assert (supplier.deliveries_on_time, supplier.deliveries_late, supplier.has_been_late) == (4, 0, False)
    supplier.record_delivery(MAR_10, MAR_20)
    assert supplier.has_been_late  # 1 of 5
    supplier.record_delivery(MAR_10, MAR_10)
    assert not supplier.has_been_late  # 1 of 6


# Dates anywhere in the calendar: a purchase order may be expected on 9999-12-31, and a supplier's learned delay
# (up to years late in an imported history) or the lead time then reaches past the calendar's end; the ETA must
# stop at its last day, not raise (a receipt, an order or an import for that SKU answered "Unexpected error.").
any_day = st.one_of(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
                    st.dates(min_value=date(9990, 1, 1), max_value=date.max))


@settings(max_examples=300, deadline=None)
@given(today=any_day, lead_time_days=st.integers(0, 3650),
       supplies=st.lists(st.tuples(any_day, st.integers(0, 50), st.integers(-3650, 3650)), max_size=4),
       needs=st.lists(st.integers(0, 60), max_size=6), available_now=st.integers(0, 20))
def test_any_dates_project_without_error_and_etas_never_fall_down_the_queue(today, lead_time_days, supplies, needs,
                                                                             available_now):
    inbound = [InboundSupply(f"PO-{n}", day, quantity, delay_days=delay)
               for n, (day, quantity, delay) in enumerate(supplies)]

    etas = project([Need(f"b{n}", q) for n, q in enumerate(needs)],
                   SupplyOutlook(available_now, inbound, today, lead_time_days))

    waiting = [etas[f"b{n}"].date for n, q in enumerate(needs) if q > 0]
    assert waiting == sorted(waiting)
    assert all(day >= today for day in waiting)


def test_a_learned_delay_past_the_calendars_end_stops_at_its_last_day():
    etas = walk(("a", 1), ("b", 2), inbound=[InboundSupply("PO-SOMEDAY", date(9999, 12, 30), 1, delay_days=4)])

    assert etas["a"] == Eta(date.max, Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-SOMEDAY")
    assert etas["b"].date == date.max  # beyond the PO, never before it
