"""Reorder advice against hand-computed examples: Croston's demand rate, safety stock from z and the spread of
demand (and of lead time), reorder point, and the quantity that lifts the inventory position to it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.delays import DelayHistory, HistoryRow
from domain.errors import DomainError, InvalidInput
from domain.reorder import LeadTime, ReorderPolicy, SkuFacts, by_supplier, croston_rate, purchase_lines, suggest


def facts(daily, *, available=0, on_order=0, waiting=0, lead=LeadTime.stated(10), supplier="S1", sku="SKU-1"):
    return SkuFacts(sku=sku, supplier_id=supplier, daily_demand=daily, available=available, on_order=on_order,
                    waiting=waiting, lead_time=lead)


def test_croston_smooths_the_sizes_and_the_intervals_between_orders():
    # day 1: 4 units after an interval of 2 days (first size 4, interval 2); day 4: 2 units after 3 days:
    # size 4 + 0.5 x (2 - 4) = 3, interval 2 + 0.5 x (3 - 2) = 2.5; rate 3 / 2.5
    assert croston_rate([0, 4, 0, 0, 2], 0.5) == pytest.approx(1.2)


def test_with_demand_every_day_croston_is_simple_exponential_smoothing():
    assert croston_rate([2, 4], 0.5) == pytest.approx(3.0)  # 2 + 0.5 x (4 - 2)
    assert croston_rate([5, 5, 5, 5], 0.2) == pytest.approx(5.0)


def test_no_orders_no_demand():
    assert croston_rate([0, 0, 0], 0.2) == 0.0
    assert croston_rate([], 0.2) == 0.0


def test_steady_demand_and_a_certain_lead_time_need_no_safety_stock():
    # 2 a day for 10 days = 20; position 5 + 6 - 3 = 8; order 12
    s = suggest(facts([2, 2, 2, 2], available=5, on_order=6, waiting=3), ReorderPolicy())

    assert (s.demand_per_day, s.demand_std_per_day, s.lead_time_demand) == (2.0, 0.0, 20.0)
    assert (s.safety_stock, s.reorder_point, s.inventory_position, s.suggested_quantity) == (0, 20, 8, 12)
    assert s.below_reorder_point


def test_variable_demand_gets_safety_stock_z_times_sigma_over_the_lead_time():
    # rate 2 (size 4 every 2 days), sigma_d = 2; L = 9: sigma = sqrt(9 x 4) = 6; z(95%) = 1.6449 -> 9.87 -> 10
    s = suggest(facts([0, 4, 0, 4], waiting=4, lead=LeadTime.stated(9)), ReorderPolicy(0.95, 0.5))

    assert s.demand_per_day == pytest.approx(2.0)
    assert s.demand_std_per_day == pytest.approx(2.0)
    assert (s.safety_stock, s.reorder_point, s.inventory_position, s.suggested_quantity) == (10, 28, -4, 32)


def test_an_erratic_supplier_adds_the_lead_time_spread():
    # sigma = sqrt(9 x 2^2 + 2^2 x 2^2) = sqrt(52) = 7.211; x 1.6449 = 11.86 -> 12; ROP 18 + 12
    s = suggest(facts([0, 4, 0, 4], lead=LeadTime(9.0, 2.0, learned=True)), ReorderPolicy(0.95, 0.5))

    assert (s.safety_stock, s.reorder_point, s.suggested_quantity) == (12, 30, 30)


def test_enough_stock_and_inbound_suggests_nothing():
    s = suggest(facts([1, 1, 1], available=30, on_order=5), ReorderPolicy())

    assert s.reorder_point == 10 and s.inventory_position == 35
    assert s.suggested_quantity == 0 and not s.below_reorder_point


def test_a_fifty_percent_service_level_keeps_no_safety_stock():
    assert suggest(facts([0, 4, 0, 4]), ReorderPolicy(0.5, 0.5)).safety_stock == 0


def test_suggestions_to_order_grouped_by_supplier():
    a = suggest(facts([1], sku="B", supplier="S1"), ReorderPolicy())
    b = suggest(facts([1], sku="A", supplier="S1"), ReorderPolicy())
    c = suggest(facts([1], sku="C", supplier="S2"), ReorderPolicy())
    nothing = suggest(facts([1], sku="D", supplier="S2", available=100), ReorderPolicy())

    grouped = by_supplier([a, b, c, nothing])

    assert {k: [s.sku for s in v] for k, v in grouped.items()} == {"S1": ["A", "B"], "S2": ["C"]}


@pytest.mark.parametrize("policy", [ReorderPolicy(service_level=1.0), ReorderPolicy(service_level=0.4),
                                    ReorderPolicy(smoothing=0), ReorderPolicy(smoothing=1.5),
                                    ReorderPolicy(history_days=3), ReorderPolicy(service_level=True)])
def test_a_policy_out_of_range_is_refused_naming_its_field(policy):
    with pytest.raises(InvalidInput) as refused:
        policy.validate()
    assert refused.value.field in {"service_level", "smoothing", "history_days"}


demand = st.lists(st.integers(0, 50), max_size=60)
units = st.integers(0, 500)


@given(demand, units, units, units, st.floats(0, 60), st.floats(0, 20), st.floats(0.5, 0.999), st.floats(0.01, 1))
def test_the_suggestion_lifts_the_position_to_the_reorder_point_and_no_further(
        daily, available, on_order, waiting, lead_mean, lead_std, level, alpha):
    s = suggest(facts(daily, available=available, on_order=on_order, waiting=waiting,
                      lead=LeadTime(lead_mean, lead_std, True)), ReorderPolicy(level, alpha))

    assert s.suggested_quantity >= 0
    assert s.inventory_position + s.suggested_quantity >= s.reorder_point
    assert s.suggested_quantity == 0 or s.inventory_position + s.suggested_quantity == s.reorder_point
    assert (s.suggested_quantity > 0) == s.below_reorder_point
    assert s.suggested_quantity >= waiting - available - on_order  # the waiting customers are always covered
    assert 0 <= s.demand_per_day <= max(daily, default=0)


@given(demand, units, st.floats(0.5, 0.99), st.floats(0.5, 0.99))
def test_a_higher_service_level_never_keeps_less_safety_stock(daily, waiting, low, high):
    low, high = sorted((low, high))
    a = suggest(facts(daily, waiting=waiting), ReorderPolicy(low))
    b = suggest(facts(daily, waiting=waiting), ReorderPolicy(high))

    assert b.safety_stock >= a.safety_stock and b.suggested_quantity >= a.suggested_quantity


@given(st.integers(1, 50), st.integers(1, 60), st.floats(0.01, 1))
def test_the_same_demand_every_day_is_that_rate(units_a_day, days, alpha):
    assert croston_rate([units_a_day] * days, alpha) == pytest.approx(units_a_day)


def test_a_purchase_order_takes_each_skus_suggested_quantity():
    found = {s.sku: s for s in (suggest(facts([1], sku="A"), ReorderPolicy()),
                                suggest(facts([2], sku="B", waiting=3), ReorderPolicy()))}

    assert purchase_lines(["B", "A"], found, "S1") == [("B", found["B"].suggested_quantity),
                                                       ("A", found["A"].suggested_quantity)]


@pytest.mark.parametrize(("skus", "already", "words"), [
    (["A", "A"], [], "twice"), (["A"], ["A"], "twice"), (["NOPE"], [], "does not exist"),
    (["OTHER"], [], "not bought from this supplier"), (["FULL"], [], "nothing to order")])
def test_a_suggestion_that_cannot_become_a_line_is_refused_naming_from_suggestions(skus, already, words):
    found = {s.sku: s for s in (suggest(facts([1], sku="A"), ReorderPolicy()),
                                suggest(facts([1], sku="OTHER", supplier="S2"), ReorderPolicy()),
                                suggest(facts([1], sku="FULL", available=100), ReorderPolicy()))}

    with pytest.raises(DomainError) as refused:
        purchase_lines(skus, found, "S1", already)

    assert refused.value.field == "from_suggestions" and words in refused.value.message


def history(*rows) -> DelayHistory:
    """(supplier, sku, delay days, lead days or None, count) per histogram cell."""
    return DelayHistory.from_rows(HistoryRow(*row) for row in rows)


def test_the_lead_time_comes_from_the_suppliers_deliveries_once_there_are_three():
    # ordered to received: 10, 12 and 14 days -> mean 12, sample standard deviation 2
    learned = history(("S1", "A", 0, 10, 1), ("S1", "B", 1, 12, 1), ("S1", "A", 3, 14, 1))
    assert LeadTime.of(20, learned, "S1", "A") == LeadTime(12.0, 2.0, learned=True)
    # two deliveries are not enough yet; no supplier, no history: the stated lead time, certain
    assert LeadTime.of(20, history(("S1", "A", 0, 10, 2)), "S1", "A") == LeadTime.stated(20)
    assert LeadTime.of(20, learned, None, "A") == LeadTime.stated(20)
    assert LeadTime.of(20, learned, "S2", "A") == LeadTime.stated(20)


def test_with_only_delays_known_the_stated_lead_time_moves_by_the_mean_delay():
    # imported history (no ordering date): 4, 5 and 6 days late -> 10 + 5 days, spread 1; early is not sooner
    assert LeadTime.of(10, history(("S1", "A", 4, None, 1), ("S1", "A", 5, None, 1), ("S1", "A", 6, None, 1)),
                       "S1", "A") == LeadTime(15.0, 1.0, learned=True)
    assert LeadTime.of(3, history(("S1", "A", -5, None, 3)), "S1", "A") == LeadTime(0.0, 0.0, learned=True)


def test_an_erratic_supplier_asks_more_safety_stock_than_a_steady_one_with_the_same_mean():
    steady = LeadTime.of(10, history(("S1", "A", 0, 12, 6)), "S1", "A")
    erratic = LeadTime.of(10, history(("S2", "A", 0, 4, 3), ("S2", "A", 0, 20, 3)), "S2", "A")
    assert steady.mean_days == erratic.mean_days == 12.0 and steady.std_days == 0.0 < erratic.std_days

    calm = suggest(facts([0, 4, 0, 4], lead=steady), ReorderPolicy(0.95, 0.5))
    wild = suggest(facts([0, 4, 0, 4], lead=erratic, supplier="S2"), ReorderPolicy(0.95, 0.5))
    assert wild.safety_stock > calm.safety_stock and wild.suggested_quantity > calm.suggested_quantity


INT32 = 2**31 - 1  # GraphQL's Int


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**40), max_size=30), st.integers(0, 2**40), st.integers(0, 2**40),
       st.integers(0, 2**40), st.floats(0, 3650), st.floats(0, 3650), st.floats(0.5, 0.999), st.floats(0.01, 1))
def test_absurd_data_gives_figures_graphql_can_carry_and_the_same_decision(
        daily, available, on_order, waiting, lead_mean, lead_std, level, alpha):
    # given demand, stock and lead times far past anything real (a 3,650-day lead time, million-unit days)
    s = suggest(facts(daily, available=available, on_order=on_order, waiting=waiting,
                      lead=LeadTime(lead_mean, lead_std, True)), ReorderPolicy(level, alpha))
    # then every whole number fits a 32-bit Int (capped, the module's Bounds) ...
    for figure in (s.safety_stock, s.reorder_point, s.available, s.on_order, s.waiting, s.inventory_position,
                   s.suggested_quantity):
        assert -INT32 <= figure <= INT32
    # ... and whether to order is decided on the full figures
    true_position = available + on_order - waiting
    assert s.below_reorder_point == (s.suggested_quantity > 0)
    if abs(true_position) <= INT32 and s.reorder_point < INT32:  # nothing capped: the figures as they were
        assert s.suggested_quantity == min(INT32, max(0, s.reorder_point - s.inventory_position))
    if true_position < 0:
        assert s.below_reorder_point  # customers wait: always something to order, however large the figures
