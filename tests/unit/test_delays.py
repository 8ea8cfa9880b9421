"""The delay model: suppliers' delivery records turned into delay distributions, ETA shifts and confidence
(hand-computed examples), and the properties every history must keep (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.delays import (
    DelayHistory,
    DeliveryRecord,
    Distribution,
    EtaLearning,
    HistoryRow,
    delay_counts,
    delay_variability,
    estimate_delay,
    estimate_lead_time,
    lead_time_variability,
    learned_inbound,
    quantile,
    supplier_performance,
)
from domain.errors import InvalidInput
from domain.eta import Confidence, Eta, EtaSource, InboundSupply, Need, SupplyOutlook, project
from domain.use_cases.supplier_history import MAX_DAYS_EARLY, MAX_DAYS_LATE, check_delivery_dates

TODAY = date(2026, 3, 2)
RULE = EtaLearning()  # covers 80% of next deliveries; 3 to learn, 5 per SKU; HIGH: 5+ within 2 days; LOW: spread > 6


def delivered(supplier: str, *delays: int, sku: str = "MUG", lead: int = 10, moved: int = 0) -> list[DeliveryRecord]:
    """Deliveries `delays` days after the date as last moved (first promised `moved` days before that)."""
    out = []
    for n, delay in enumerate(delays):
        promised = date(2026, 1, 1) + timedelta(days=7 * n)
        out.append(DeliveryRecord(supplier, sku, 10, first_promised=promised - timedelta(days=moved),
                                  last_promised=promised, received_on=promised + timedelta(days=delay),
                                  ordered_on=promised + timedelta(days=delay - lead), purchase_order=f"PO-{n}"))
    return out


def test_nearest_rank_quantile_is_a_value_that_happened():
    assert quantile([1, 2, 3, 4], 0.5) == 2  # rank ceil(0.5 * 4) = 2
    assert quantile([1, 2, 3, 4], 0.8) == 4  # rank ceil(3.2) = 4
    assert quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert quantile([7], 0.0) == 7


def test_a_distribution_counts_mean_stdev_and_spread_by_hand():
    d = Distribution.of([0, 0, 2, 4, 4, 4, 6, 10, 1, 9])  # sorted: 0 0 1 2 4 4 4 6 9 10
    assert d.count == 10
    assert d.mean == 4.0
    assert d.quantile(0.5) == 4 and d.quantile(0.9) == 9 and d.quantile(0.1) == 0
    assert d.spread == 9
    assert round(d.stdev, 4) == round((sum((x - 4) ** 2 for x in [0, 0, 1, 2, 4, 4, 4, 6, 9, 10]) / 9) ** 0.5, 4)
    assert d.share_at_most(0) == 0.2


def test_a_supplier_reliably_five_days_late_moves_the_po_date_five_days_with_high_confidence():
    history = DelayHistory.from_records(delivered("steady", 5, 5, 4, 5, 5, 5))

    estimate = estimate_delay(history, "steady", "MUG", RULE)

    assert estimate is not None
    assert (estimate.shift_days, estimate.confidence) == (5, Confidence.HIGH)  # k = ceil(0.8 * 7) = 6 of 4 5 5 5 5 5
    inbound = learned_inbound([InboundSupply("PO-9", date(2026, 3, 10), 5, supplier_id="steady")], history, "MUG", RULE)
    etas = project([Need("b", 2)], SupplyOutlook(0, inbound, TODAY, 14))
    assert etas["b"] == Eta(date(2026, 3, 15), Confidence.HIGH, EtaSource.PURCHASE_ORDER, "PO-9")


def test_an_erratic_supplier_gives_a_later_date_with_low_confidence():
    history = DelayHistory.from_records(delivered("erratic", 0, 12, 1, 9, 0, 3, 14, 2, 0, 7))
    # sorted: 0 0 0 1 2 3 7 9 12 14 -> k = ceil(0.8 * 11) = 9: 12; p90 - p10 = 12 - 0 = 12 > 6

    estimate = estimate_delay(history, "erratic", "MUG", RULE)

    assert estimate is not None and (estimate.shift_days, estimate.confidence) == (12, Confidence.LOW)


def test_few_deliveries_learn_nothing_and_a_short_steady_record_is_only_medium():
    assert estimate_delay(DelayHistory.from_records(delivered("new", 5, 5)), "new", "MUG", RULE) is None
    estimate = estimate_delay(DelayHistory.from_records(delivered("new", 5, 5, 5)), "new", "MUG", RULE)
    assert estimate is not None and (estimate.shift_days, estimate.confidence) == (5, Confidence.MEDIUM)
    assert estimate_delay(DelayHistory(), "nobody", "MUG", RULE) is None
    assert estimate_delay(DelayHistory.from_records(delivered("new", 5, 5, 5)), None, "MUG", RULE) is None


def test_an_early_supplier_never_makes_the_promise_earlier_than_its_date():
    estimate = estimate_delay(DelayHistory.from_records(delivered("early", -3, -2, -4, -3, -3)), "early", "MUG", RULE)
    assert estimate is not None and estimate.shift_days == 0 and estimate.confidence is Confidence.HIGH


def test_a_sku_with_its_own_history_uses_it_others_use_the_supplier_record():
    records = delivered("s", 1, 1, 1, 1, 1, sku="FAST") + delivered("s", 8, 9, 8, 8, 9, sku="SLOW") + \
        delivered("s", 5, 5, sku="RARE")
    history = DelayHistory.from_records(records)

    fast, slow, rare = (estimate_delay(history, "s", sku, RULE) for sku in ("FAST", "SLOW", "RARE"))

    assert fast is not None and (fast.shift_days, fast.per_sku) == (1, True)
    assert slow is not None and (slow.shift_days, slow.per_sku) == (9, True)
    # RARE has 2 of its own: the supplier's 12 (1x5, 5x2, 8x3, 9x2): k = ceil(0.8 * 13) = 11 -> 9
    assert rare is not None and (rare.shift_days, rare.per_sku, rare.history) == (9, False, 12)


def test_the_quantile_is_configurable():
    history = DelayHistory.from_records(delivered("s", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
    assert estimate_delay(history, "s", "MUG", EtaLearning(delay_quantile=0.5)).shift_days == 5  # type: ignore[union-attr]
    assert estimate_delay(history, "s", "MUG", EtaLearning(delay_quantile=0.9)).shift_days == 9  # type: ignore[union-attr]


def test_lead_times_are_learned_from_ordering_to_receipt_and_used_beyond_every_po():
    history = DelayHistory.from_records(delivered("s", 0, 0, 0, 0, 0, lead=20))
    lead = estimate_lead_time(history, "s", "MUG", RULE)
    assert lead is not None and (lead.shift_days, lead.confidence) == (20, Confidence.HIGH)

    etas = project([Need("b", 1)], SupplyOutlook(0, [], TODAY, lead.shift_days, lead_time_confidence=lead.confidence))
    assert etas["b"] == Eta(TODAY + timedelta(days=20), Confidence.HIGH, EtaSource.LEAD_TIME)


def test_imported_history_without_an_ordering_date_teaches_delays_but_no_lead_time():
    records = [DeliveryRecord("s", "MUG", 1, date(2026, 1, d), date(2026, 1, d), date(2026, 1, d + 2))
               for d in range(1, 8)]
    history = DelayHistory.from_records(records)
    assert estimate_delay(history, "s", "MUG", RULE) is not None
    assert estimate_lead_time(history, "s", "MUG", RULE) is None
    assert lead_time_variability(history, "s") is None
    variability = delay_variability(history, "s")
    assert variability is not None
    assert (variability.mean_days, variability.stdev_days, variability.deliveries) == (2, 0, 7)


def test_a_po_overdue_even_after_the_usual_delay_is_low():
    history = DelayHistory.from_records(delivered("steady", 2, 2, 2, 2, 2))
    inbound = learned_inbound([InboundSupply("PO-1", TODAY - timedelta(days=5), 1, supplier_id="steady")],
                              history, "MUG", RULE)
    etas = project([Need("b", 1)], SupplyOutlook(0, inbound, TODAY, 14))
    assert etas["b"] == Eta(TODAY, Confidence.LOW, EtaSource.PURCHASE_ORDER, "PO-1")


def test_supplier_performance_by_hand():
    records = delivered("a", 0, 2, -1, 5, moved=3) + delivered("b", 0, 0)
    report = supplier_performance(delay_counts(records))
    a, b = report
    assert a.supplier_id == "a" and a.lines_received == 4
    assert a.on_time_rate == 0.5  # 0 and -1
    assert a.on_time_rate_as_first_promised == 0.0  # first promised 3 days before: 3, 5, 2, 8 days late
    assert a.mean_delay_days == 1.5 and a.p50_delay_days == 0 and a.p90_delay_days == 5
    assert (b.lines_received, b.on_time_rate, b.mean_delay_days) == (2, 1.0, 0.0)


# -- properties -----------------------------------------------------------------------------------------

days = st.integers(min_value=-30, max_value=120)


@given(st.lists(days, min_size=1, max_size=60), st.floats(min_value=0, max_value=1))
def test_histogram_quantile_equals_the_quantile_of_the_values(values, q):
    assert Distribution.of(values).quantile(q) == quantile(sorted(values), q)


@given(st.lists(days, min_size=1, max_size=60), st.lists(days, min_size=1, max_size=60))
def test_adding_distributions_is_pooling_the_values(a, b):
    assert Distribution.of(a) + Distribution.of(b) == Distribution.of(a + b)


@given(st.lists(days, min_size=3, max_size=40), st.floats(min_value=0, max_value=0.99),
       st.floats(min_value=0, max_value=0.99))
def test_a_higher_quantile_never_promises_earlier_and_never_before_the_po(values, q1, q2):
    history = DelayHistory.from_rows(HistoryRow("s", "MUG", v, None, 1) for v in values)
    low, high = sorted((q1, q2))
    a = estimate_delay(history, "s", "MUG", EtaLearning(delay_quantile=low))
    b = estimate_delay(history, "s", "MUG", EtaLearning(delay_quantile=high))
    assert a is not None and b is not None
    assert 0 <= a.shift_days <= b.shift_days <= max(0, max(values))


@given(st.lists(days, min_size=3, max_size=40), st.integers(min_value=0, max_value=60))
def test_a_constant_delay_everywhere_is_learned_exactly_and_more_spread_never_raises_confidence(values, constant):
    steady = DelayHistory.from_rows([HistoryRow("s", "MUG", constant, None, len(values))])
    estimate = estimate_delay(steady, "s", "MUG", RULE)
    assert estimate is not None and estimate.shift_days == constant
    assert estimate.confidence is (Confidence.HIGH if len(values) >= RULE.high_history else Confidence.MEDIUM)
    noisy = estimate_delay(DelayHistory.from_rows(HistoryRow("s", "MUG", v, None, 1) for v in values), "s", "MUG", RULE)
    order = [Confidence.LOW, Confidence.MEDIUM, Confidence.HIGH]
    assert noisy is not None and order.index(noisy.confidence) <= order.index(estimate.confidence)


@given(st.lists(st.tuples(st.sampled_from("abc"), days, st.integers(-5, 5)), min_size=1, max_size=50))
def test_performance_shares_lie_in_0_1_and_count_every_line(rows):
    records = [DeliveryRecord(s, "MUG", 1, date(2026, 1, 10) - timedelta(days=m), date(2026, 1, 10),
                              date(2026, 1, 10) + timedelta(days=d)) for s, d, m in rows]
    report = supplier_performance(delay_counts(records))
    assert sum(r.lines_received for r in report) == len(records)
    for r in report:
        assert 0 <= r.on_time_rate <= 1 and 0 <= r.on_time_rate_as_first_promised <= 1
        assert r.p50_delay_days <= r.p90_delay_days


@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), days, st.one_of(st.none(), days)), min_size=1,
                max_size=60), st.sets(st.sampled_from(["A", "B", "C"])))
def test_supplier_totals_with_the_cells_of_some_skus_estimate_those_skus_as_the_whole_history_does(cells, loaded):
    """The store reads the supplier's whole record in one grouped count, and per-SKU cells only for the SKUs it
    loads: for those SKUs the estimate must be what the full history gives."""
    rows = [HistoryRow("s", sku, delay, lead, 1) for sku, delay, lead in cells]
    whole = DelayHistory.from_rows(rows)
    totals = [HistoryRow("s", "", delay, lead, 1) for _, delay, lead in cells]
    partial = DelayHistory.from_rows([r for r in rows if r.sku in loaded], totals)
    for sku in loaded:
        for rule in (RULE, EtaLearning(delay_quantile=0.5, min_history=1, min_sku_history=2)):
            assert estimate_delay(partial, "s", sku, rule) == estimate_delay(whole, "s", sku, rule)
            assert estimate_lead_time(partial, "s", sku, rule) == estimate_lead_time(whole, "s", sku, rule)


def test_a_po_already_late_is_expected_by_the_deliveries_that_were_at_least_that_late():
    history = DelayHistory.from_records(delivered("erratic", 0, 12, 1, 9, 0, 3, 14, 2, 0, 7))
    due = TODAY - timedelta(days=3)  # not come, 3 days late: one of 3 7 9 12 14 -> k = min(5, ceil(4.8)): 14

    inbound = learned_inbound([InboundSupply("PO-1", due, 1, supplier_id="erratic")], history, "MUG", RULE, TODAY)
    etas = project([Need("b", 1)], SupplyOutlook(0, inbound, TODAY, 14))

    assert etas["b"] == Eta(due + timedelta(days=14), Confidence.LOW, EtaSource.PURCHASE_ORDER, "PO-1")
    later = estimate_delay(history, "erratic", "MUG", RULE, late_by=15)  # later than it ever was: today, LOW
    assert later is not None and (later.shift_days, later.confidence) == (15, Confidence.LOW)
    steady = DelayHistory.from_records(delivered("steady", 5, 5, 5, 6, 6, 5))
    still = estimate_delay(steady, "steady", "MUG", RULE, late_by=5)  # 5 5 5 5 6 6 -> 80% (rank 5) = 6; 6 within 1
    assert still is not None and (still.shift_days, still.confidence) == (6, Confidence.HIGH)


@given(st.lists(days, min_size=3, max_size=40), st.integers(min_value=1, max_value=150),
       st.floats(min_value=0, max_value=1))
def test_a_late_po_is_never_promised_before_today_nor_sooner_than_the_record_says(values, late_by, q):
    history = DelayHistory.from_rows(HistoryRow("s", "MUG", v, None, 1) for v in values)
    rule = EtaLearning(delay_quantile=q)
    estimate = estimate_delay(history, "s", "MUG", rule, late_by=late_by)
    assert estimate is not None and estimate.shift_days >= late_by
    plain = estimate_delay(history, "s", "MUG", rule)
    assert plain is not None and estimate.shift_days >= plain.shift_days


def test_the_predictive_delay_covers_the_next_delivery_on_few_deliveries_too():
    five = Distribution.of([1, 2, 3, 4, 5])
    assert five.quantile(0.8) == 4  # covers a new delivery 4 times in 6
    assert five.predictive(0.8) == 5  # k = ceil(0.8 * 6) = 5: 5 times in 6
    ten = Distribution.of(range(10))
    assert (ten.predictive(0.5), ten.predictive(0.8), ten.predictive(0.9)) == (5, 8, 9)  # k = 6, 9, 10


@given(st.lists(days, min_size=1, max_size=60), st.floats(min_value=0, max_value=1))
def test_the_predictive_delay_is_the_order_statistic_of_the_values(values, q):
    import math

    ordered = sorted(values)
    k = max(1, min(len(values), math.ceil(q * (len(values) + 1))))
    assert Distribution.of(values).predictive(q) == ordered[k - 1] >= Distribution.of(values).quantile(q)


@given(expected=st.dates(date(2000, 1, 1), date(2030, 1, 1)), offset=st.integers(-800, 800))
def test_a_delivery_date_is_refused_exactly_when_it_is_implausibly_far_from_the_expected_one(expected, offset):
    # the PO import's rule: a row received a year before it was expected is a typing slip, not history
    received = expected + timedelta(days=offset)
    plausible = -MAX_DAYS_EARLY <= offset <= MAX_DAYS_LATE
    try:
        check_delivery_dates(expected, received)
    except InvalidInput as refused:
        assert not plausible and refused.field == "received_date"
        assert received.isoformat() in refused.message and expected.isoformat() in refused.message
    else:
        assert plausible
    check_delivery_dates(expected, None)  # a line still open has no received date to judge
