"""supplierPerformance(from, to) over HTTP: per supplier on-time rate, delay and lines received, for staff
only; a bad range is a typed userError; the cost is a fixed number of statements whatever the suppliers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.services import ProductInput
from domain.use_cases.supplier_history import HistoricalLine
from tests.api.statements import statements

REPORT = """query($from: Date, $to: Date) { supplierPerformance(from: $from, to: $to) {
  suppliers { supplier { name } linesReceived onTimeRate onTimeRateAsFirstPromised meanDelayDays
              p50DelayDays p90DelayDays }
  userErrors { field code } } }"""


async def _history(api, suppliers: int = 2) -> None:
    lines = []
    for n in range(suppliers):
        supplier = await api.desk.upsert_supplier(None, f"Supplier {n}", 10)
        await api.desk.upsert_product(ProductInput(sku=f"SKU{n}", name=f"Thing {n}", price=Decimal("3.00"),
                                                   supplier_id=supplier.id))
        for k, late in enumerate((0, 2, 6)):
            lines.append(HistoricalLine(f"H{n}-{k}", f"Supplier {n}", f"SKU{n}", 1, date(2026, 1, 10 + k),
                                        date(2026, 1, 10 + k + late + n)))
    await api.desk.import_purchase_orders(lines)


async def test_staff_see_each_supplier_s_record_over_the_period(api):
    await _history(api)

    body = (await api.gql(REPORT, {"from": "2026-01-01", "to": "2026-01-31"}))["data"]["supplierPerformance"]

    assert body["userErrors"] == []
    assert sorted(body["suppliers"], key=lambda r: r["supplier"]["name"]) == [
        {"supplier": {"name": "Supplier 0"}, "linesReceived": 3, "onTimeRate": 1 / 3,
         "onTimeRateAsFirstPromised": 1 / 3, "meanDelayDays": 8 / 3, "p50DelayDays": 2, "p90DelayDays": 6},
        {"supplier": {"name": "Supplier 1"}, "linesReceived": 3, "onTimeRate": 0.0,
         "onTimeRateAsFirstPromised": 0.0, "meanDelayDays": 11 / 3, "p50DelayDays": 3, "p90DelayDays": 7},
    ]
    before = (await api.gql(REPORT, {"to": "2026-01-09"}))["data"]["supplierPerformance"]
    assert before == {"suppliers": [], "userErrors": []}


async def test_a_range_that_ends_before_it_starts_is_a_typed_error(api):
    body = (await api.gql(REPORT, {"from": "2026-02-01", "to": "2026-01-01"}))["data"]["supplierPerformance"]
    assert body == {"suppliers": [], "userErrors": [{"field": "to", "code": "INVALID_INPUT"}]}


async def test_every_report_over_a_period_refuses_a_reversed_one_by_the_same_rule(api):
    # given the two reports over a period of days; when each is asked for one that ends before it starts;
    # then both name the same argument with the same words (one rule, domain.limits.check_period)
    reversed_period = {"from": "2026-02-01", "to": "2026-01-01"}
    asked = {"supplierPerformance": "query($from: Date, $to: Date) { supplierPerformance(from: $from, to: $to) "
                                    "{ userErrors { field message code } } }",
             "kpiSeries": "query($from: Date!, $to: Date!) { kpiSeries(from: $from, to: $to) "
                          "{ userErrors { field message code } } }"}
    answers = {name: (await api.gql(query, reversed_period))["data"][name]["userErrors"]
               for name, query in asked.items()}
    assert answers["supplierPerformance"] == answers["kpiSeries"] == [
        {"field": "to", "message": "the period ends before it starts", "code": "INVALID_INPUT"}]


async def test_customers_and_strangers_are_refused(api):
    body = await api.gql(REPORT, token=None, expect_errors=True)
    assert body["data"] is None and body["errors"]


async def test_statements_do_not_grow_with_the_suppliers(api):
    """One grouped count of the deliveries and one batch of suppliers (the background pollers' statements,
    which share the log, left out), for 2 suppliers as for 8."""
    await _history(api, suppliers=2)
    with statements() as few:
        await api.gql(REPORT)
    await _history_more(api)
    with statements() as many:
        body = (await api.gql(REPORT))["data"]["supplierPerformance"]
    assert len(body["suppliers"]) == 8
    ours = [[q for q in log if "supplier" in q] for log in (few, many)]
    assert [len(log) for log in ours] == [2, 2], ours


async def _history_more(api) -> None:
    lines = []
    for n in range(2, 8):
        supplier = await api.desk.upsert_supplier(None, f"Supplier {n}", 10)
        await api.desk.upsert_product(ProductInput(sku=f"SKU{n}", name=f"Thing {n}", price=Decimal("3.00"),
                                                   supplier_id=supplier.id))
        lines.append(HistoricalLine(f"M{n}", f"Supplier {n}", f"SKU{n}", 1, date(2026, 1, 10), date(2026, 1, 12)))
    await api.desk.import_purchase_orders(lines)
