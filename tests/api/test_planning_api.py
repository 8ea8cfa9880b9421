"""Planning over GraphQL, for agents only: reorder advice per SKU from a few days of orders (figures worked by
hand in the comments), its filters and its refused input."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from api.ids import decode_id, encode_id
from domain.reorder import ReorderPolicy
from domain.services import LineRequest
from tests.api import support as s
from tests.api.customer_sessions import Customer
from tests.api.statements import statements

pytestmark = pytest.mark.db

ADVICE = """query($filter: ReorderSuggestionFilter, $level: Float, $smoothing: Float, $days: Int) {
  reorderSuggestions(filter: $filter, serviceLevel: $level, smoothing: $smoothing, historyDays: $days) {
    suggestions { sku demandMethod demandPerDay demandStdPerDay leadTimeDays leadTimeStdDays leadTimeLearned
      leadTimeDemand safetyStock reorderPoint available onOrder waiting inventoryPosition belowReorderPoint
      suggestedQuantity product { name } supplier { name } }
    userErrors { field message code } } }"""


def at(day: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, 9, 0, tzinfo=UTC)


async def lamp_history(api) -> str:
    """LAMP (supplier Lumen, 10 days' lead time, 3 on hand) sold 2 on 27 Feb, 2 on 1 Mar and 2 on 2 Mar; a PO
    brings 1; PEN (no supplier) has 100 on hand and no orders. Returns Lumen's id."""
    desk = api.desk
    api.clock.set(at(27, 2))
    lumen = await desk.upsert_supplier(None, "Lumen", 10)
    await s.product(desk, "LAMP", stock=3, supplier_id=lumen.id)
    await s.product(desk, "PEN", stock=100)
    await s.order(desk, "ann@example.com", ("LAMP", 2))
    api.clock.set(at(1))
    await s.order(desk, "bob@example.com", ("LAMP", 2))
    api.clock.set(at(2))
    await s.order(desk, "cy@example.com", ("LAMP", 2))
    await desk.create_purchase_order(lumen.id, date(2026, 3, 20), [LineRequest("LAMP", 1)])
    return lumen.id


async def test_advice_from_a_week_of_orders_matches_the_hand_computed_figures(api):
    lumen = await lamp_history(api)

    advice = (await api.gql(ADVICE, {"filter": {"skus": ["LAMP"]}, "smoothing": 0.5, "days": 7}))["data"]
    [lamp] = advice["reorderSuggestions"]["suggestions"]

    # days 24 Feb..2 Mar: 0 0 0 2 0 2 2. Croston (0.5): size 2 after 4 days; 2 after 2: interval 3; 2 after 1:
    # interval 2 -> 1 a day. Spread: pstdev = 0.9897. L = 10: 10 units; sigma = sqrt(10 x 0.9796) = 3.130,
    # x 1.645 = 5.15 -> safety stock 6; reorder point 16. Position: 0 available + 1 on order - 3 waiting = -2.
    assert lamp == {
        "sku": "LAMP", "demandMethod": "CROSTON", "demandPerDay": 1.0, "demandStdPerDay": 0.9897,
        "leadTimeDays": 10.0, "leadTimeStdDays": 0.0, "leadTimeLearned": False, "leadTimeDemand": 10.0,
        "safetyStock": 6, "reorderPoint": 16, "available": 0, "onOrder": 1, "waiting": 3, "inventoryPosition": -2,
        "belowReorderPoint": True, "suggestedQuantity": 18, "product": {"name": "Product LAMP"},
        "supplier": {"name": "Lumen"}}
    assert advice["reorderSuggestions"]["userErrors"] == []
    assert encode_id("Supplier", lumen)


async def test_filters_narrow_by_supplier_and_to_skus_below_their_reorder_point(api):
    lumen = await lamp_history(api)

    async def skus(filter):
        found = (await api.gql(ADVICE, {"filter": filter}))["data"]["reorderSuggestions"]
        assert found["userErrors"] == []
        return [(x["sku"], x["belowReorderPoint"]) for x in found["suggestions"]]

    assert await skus(None) == [("LAMP", True), ("PEN", False)]
    assert await skus({"onlyBelowReorderPoint": True}) == [("LAMP", True)]
    assert await skus({"supplierId": encode_id("Supplier", lumen)}) == [("LAMP", True)]
    assert await skus({"skus": ["PEN", "NOPE"]}) == [("PEN", False)]


@pytest.mark.parametrize(("variables", "field"), [
    ({"level": 1.0}, "serviceLevel"), ({"level": 0.2}, "serviceLevel"), ({"smoothing": 0.0}, "smoothing"),
    ({"days": 2}, "historyDays"), ({"filter": {"supplierId": "not-an-id"}}, "filter.supplierId"),
    ({"filter": {"skus": ["LAMP", "no spaces"]}}, "filter.skus"),
])
async def test_bad_input_is_a_typed_user_error(api, variables, field):
    await lamp_history(api)

    found = (await api.gql(ADVICE, variables))["data"]["reorderSuggestions"]

    assert found["suggestions"] == []
    assert [(e["field"], e["code"]) for e in found["userErrors"]] == [(field, "INVALID_INPUT")]


async def test_absurd_data_gives_capped_figures_not_a_graphql_error(api):
    # given a 3,650-day lead time and five million-unit orders in a week: a reorder point of billions
    api.clock.set(at(2))
    slow = await api.desk.upsert_supplier(None, "Slow boat", 3650)
    await s.product(api.desk, "CRATE", supplier_id=slow.id)
    for n in range(5):
        await s.order(api.desk, f"c{n}@example.com", ("CRATE", 1_000_000))

    advice = (await api.gql(ADVICE, {"filter": {"skus": ["CRATE"]}, "days": 7}))["data"]["reorderSuggestions"]

    # then the figures are GraphQL Ints (capped at 2,147,483,647, domain.reorder's Bounds), not an error
    assert advice["userErrors"] == []
    [crate] = advice["suggestions"]
    assert crate["reorderPoint"] == 2**31 - 1 and crate["suggestedQuantity"] == 2**31 - 1
    assert crate["waiting"] == 5_000_000 and crate["belowReorderPoint"] is True


async def test_a_supplier_that_does_not_exist_is_not_found_not_an_empty_list(api):
    # given a well-formed ID of no supplier; when advice is asked for its SKUs; then a typed NOT_FOUND, since an
    # empty list would read as "this supplier has nothing to order"
    await lamp_history(api)

    found = (await api.gql(ADVICE, {"filter": {"supplierId": encode_id("Supplier", "nobody")}}))["data"]

    assert found["reorderSuggestions"]["suggestions"] == []
    assert [(e["field"], e["code"]) for e in found["reorderSuggestions"]["userErrors"]] == [
        ("filter.supplierId", "SUPPLIER_NOT_FOUND")]


async def test_customers_and_strangers_are_refused(api):
    await lamp_history(api)
    anonymous = await api.gql(ADVICE, token=None, expect_errors=True)
    assert anonymous["data"] is None and anonymous["errors"]
    ann = Customer(api)
    try:
        await ann.sign_in_with_link("ann@example.com")
        refused = await ann.gql(ADVICE)
        assert refused["data"] is None and refused["errors"]
    finally:
        await ann.close()


SERIES = """query($from: Date!, $to: Date!, $interval: KpiInterval!, $within: Int) {
  kpiSeries(from: $from, to: $to, interval: $interval, fillWithinDays: $within) {
    periods { start end orderLines backorderedLines backorderRate unitsOrdered fillRateAtPlacement fillRateWithinDays
      backordersOpened backordersServed backordersCancelled ageing { label backorders }
      timeToFulfilP50Days timeToFulfilP90Days etaPromisesMeasured etaErrorP50Days etaErrorP90Days etaMissedShare }
    userErrors { field message code } } }"""


async def a_week_of_backorders(api) -> None:
    """Mon 2 Mar: Ann orders 2 LAMP and 1 PEN (all on the shelf), Bob 3 LAMP (1 on the shelf, 2 backordered,
    promised by the lead time: 12 Mar); a PO of 2 is made for 6 Mar. Tue: Cy orders 1 LAMP (backordered,
    promised 13 Mar). Thu 5 Mar: the PO arrives and serves Bob. Fri: Cy's backorder is cancelled."""
    desk = api.desk
    api.clock.set(at(2))
    lumen = await desk.upsert_supplier(None, "Lumen", 10)
    await s.product(desk, "LAMP", stock=3, supplier_id=lumen.id)
    await s.product(desk, "PEN", stock=100)
    await s.order(desk, "ann@example.com", ("LAMP", 2), ("PEN", 1))
    await s.order(desk, "bob@example.com", ("LAMP", 3))
    po = await desk.create_purchase_order(lumen.id, date(2026, 3, 6), [LineRequest("LAMP", 2)])
    api.clock.set(at(3))
    cy = await s.order(desk, "cy@example.com", ("LAMP", 1))
    api.clock.set(at(5))
    await desk.receive_purchase_order(po.id, None)
    api.clock.set(at(6))
    await desk.cancel_backorder(cy.lines[0].backorder_id, reason="found one elsewhere")


async def test_kpi_series_over_a_hand_built_week(api):
    await a_week_of_backorders(api)

    found = (await api.gql(SERIES, {"from": "2026-03-02", "to": "2026-03-08", "interval": "WEEK"}))["data"]

    # 4 lines (2 backordered); 7 units, 3 backordered at placement, Bob's 2 served within 3 days; Bob's wait
    # 3 days, served 7 days before his promised 12 Mar; nothing waits on Sunday night
    assert found["kpiSeries"] == {"userErrors": [], "periods": [{
        "start": "2026-03-02", "end": "2026-03-08", "orderLines": 4, "backorderedLines": 2, "backorderRate": 0.5,
        "unitsOrdered": 7, "fillRateAtPlacement": 0.5714, "fillRateWithinDays": 0.8571, "backordersOpened": 2,
        "backordersServed": 1, "backordersCancelled": 1,
        "ageing": [{"label": "0-7", "backorders": 0}, {"label": "8-14", "backorders": 0},
                   {"label": "15-30", "backorders": 0}, {"label": ">30", "backorders": 0}],
        "timeToFulfilP50Days": 3.0, "timeToFulfilP90Days": 3.0, "etaPromisesMeasured": 1, "etaErrorP50Days": -7,
        "etaErrorP90Days": -7, "etaMissedShare": 0.0}]}


async def test_kpi_series_by_day(api):
    await a_week_of_backorders(api)

    days = (await api.gql(SERIES, {"from": "2026-03-02", "to": "2026-03-06", "interval": "DAY", "within": 1}))
    periods = {p["start"]: p for p in days["data"]["kpiSeries"]["periods"]}

    assert list(periods) == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]
    assert [a["backorders"] for a in periods["2026-03-04"]["ageing"]] == [2, 0, 0, 0]  # Bob's and Cy's wait
    assert periods["2026-03-02"]["fillRateWithinDays"] == 0.6667  # 4 of 6 units; Bob's 2 took 3 days, not 1
    assert periods["2026-03-03"]["backorderRate"] == 1.0
    assert (periods["2026-03-05"]["backordersServed"], periods["2026-03-06"]["backordersCancelled"]) == (1, 1)
    assert periods["2026-03-04"]["orderLines"] == 0 and periods["2026-03-04"]["backorderRate"] is None


@pytest.mark.parametrize(("variables", "field"), [
    ({"from": "2026-03-08", "to": "2026-03-02", "interval": "DAY"}, "to"),
    ({"from": "2020-01-01", "to": "2026-03-02", "interval": "DAY"}, "to"),
    ({"from": "2026-03-02", "to": "2026-03-08", "interval": "DAY", "within": -1}, "fillWithinDays"),
])
async def test_kpi_series_bad_input_is_a_typed_user_error(api, variables, field):
    found = (await api.gql(SERIES, variables))["data"]["kpiSeries"]

    assert found["periods"] == []
    assert [(e["field"], e["code"]) for e in found["userErrors"]] == [(field, "INVALID_INPUT")]


async def test_kpi_series_is_for_agents_only(api):
    await a_week_of_backorders(api)
    variables = {"from": "2026-03-02", "to": "2026-03-08", "interval": "WEEK"}
    assert (await api.gql(SERIES, variables, token=None, expect_errors=True))["data"] is None
    ann = Customer(api)
    try:
        await ann.sign_in_with_link("ann@example.com")
        assert (await ann.gql(SERIES, variables))["data"] is None
    finally:
        await ann.close()


async def test_kpi_series_reads_the_same_few_statements_for_a_week_or_a_year(api):
    # given a week of history; when a week by day and a year by week are asked; then both read 2 statements
    await a_week_of_backorders(api)
    counts = []
    for variables in ({"from": "2026-03-02", "to": "2026-03-08", "interval": "DAY"},
                      {"from": "2025-03-02", "to": "2026-03-08", "interval": "WEEK"}):
        with statements() as seen:
            await api.gql(SERIES, variables)
        counts.append(len([sql for sql in seen if "order_lines" in sql or "backorder_history" in sql]))
    assert counts == [2, 2]


CREATE_PO = """mutation($input: CreatePurchaseOrderInput!) { createPurchaseOrder(input: $input) {
  purchaseOrder { number lines { sku quantity } } userErrors { field message code } } }"""


async def test_a_purchase_order_takes_the_suggested_quantities(api):
    lumen = encode_id("Supplier", await lamp_history(api))
    await s.product(api.desk, "BULB", supplier_id=decode_id("Supplier", lumen))
    suggested = (await api.gql(ADVICE, {"filter": {"skus": ["LAMP"]}}))["data"]["reorderSuggestions"]
    quantity = suggested["suggestions"][0]["suggestedQuantity"]
    assert quantity > 0

    made = (await api.gql(CREATE_PO, {"input": {"supplierId": lumen, "expectedDate": "2026-03-30",
                                                "lines": [{"sku": "BULB", "quantity": 4}],
                                                "fromSuggestions": ["LAMP"]}}))["data"]["createPurchaseOrder"]

    assert made["userErrors"] == []
    assert made["purchaseOrder"]["lines"] == [{"sku": "BULB", "quantity": 4}, {"sku": "LAMP", "quantity": quantity}]
    after = (await api.gql(ADVICE, {"filter": {"skus": ["LAMP"]}}))["data"]["reorderSuggestions"]["suggestions"][0]
    assert after["suggestedQuantity"] == 0 and not after["belowReorderPoint"]  # ordered: nothing more to order


@pytest.mark.parametrize(("lines", "skus", "code"), [
    ([], ["PEN"], "INVALID_INPUT"),  # PEN has no supplier: not bought from Lumen
    ([], ["NOPE"], "PRODUCT_NOT_FOUND"),
    ([], ["LAMP", "LAMP"], "INVALID_INPUT"),
    ([{"sku": "LAMP", "quantity": 1}], ["LAMP"], "INVALID_INPUT"),
    ([], ["not a sku!"], "INVALID_INPUT"),
])
async def test_a_suggestion_that_cannot_be_ordered_is_refused_and_nothing_is_written(api, lines, skus, code):
    lumen = encode_id("Supplier", await lamp_history(api))
    before = await s.state(api)

    made = (await api.gql(CREATE_PO, {"input": {"supplierId": lumen, "expectedDate": "2026-03-30", "lines": lines,
                                                "fromSuggestions": skus}}))["data"]["createPurchaseOrder"]

    assert made["purchaseOrder"] is None
    assert [(e["field"], e["code"]) for e in made["userErrors"]] == [("fromSuggestions", code)]
    assert await s.state(api) == before


async def test_nothing_to_order_is_refused(api):
    lumen = await lamp_history(api)
    await s.product(api.desk, "BULB", stock=50, supplier_id=lumen)

    made = (await api.gql(CREATE_PO, {"input": {"supplierId": encode_id("Supplier", lumen),
                                                "expectedDate": "2026-03-30", "fromSuggestions": ["BULB"]}}))
    errors = made["data"]["createPurchaseOrder"]["userErrors"]

    assert [(e["field"], e["code"]) for e in errors] == [("fromSuggestions", "INVALID_INPUT")]
    assert "nothing to order" in errors[0]["message"]


ADVICE_TABLES = {"products", "suppliers", "order_lines", "stock_levels", "purchase_order_lines", "purchase_orders",
                 "backorders", "supplier_deliveries"}


async def test_reorder_advice_reads_the_same_statements_for_two_skus_or_twelve(api):
    # given 12 products of one supplier with orders; when the advice for 2 and then for all 12 is asked
    # (with product and supplier); then both read the same number of statements
    lumen = await lamp_history(api)
    for n in range(10):
        await s.product(api.desk, f"BULB-{n}", supplier_id=lumen)
        await s.order(api.desk, f"b{n}@example.com", (f"BULB-{n}", 1))
    counts = []
    for skus in (["BULB-0", "LAMP"], [f"BULB-{n}" for n in range(10)] + ["LAMP", "PEN"]):
        with statements() as seen:
            found = await api.gql(ADVICE, {"filter": {"skus": skus}})
        assert len(found["data"]["reorderSuggestions"]["suggestions"]) == len(skus)
        # the tables the advice reads (the outbox and webhook pollers run beside the request on their own)
        counts.append([table for sql in seen if sql.lstrip().upper().startswith("SELECT")
                       for table in [sql.split(" FROM ")[1].split()[0].strip('"')] if table in ADVICE_TABLES])
    assert counts[0] == counts[1] and len(counts[0]) >= 8, counts


async def test_the_lead_time_is_learned_from_the_suppliers_receipts(api):
    # given Lumen (10 days stated) took 6, 7 and 8 days from order to receipt of three POs
    lumen = await lamp_history(api)
    for late in (6, 7, 8):
        api.clock.set(at(2))
        po = await api.desk.create_purchase_order(lumen, date(2026, 3, 5), [LineRequest("LAMP", 1)])
        api.clock.set(at(2 + late))
        await api.desk.receive_purchase_order(po.id, None)

    found = (await api.gql(ADVICE, {"filter": {"skus": ["LAMP"]}}))["data"]["reorderSuggestions"]["suggestions"]

    # then the advice uses mean 7 days, sample standard deviation 1
    assert [(x["leadTimeDays"], x["leadTimeStdDays"], x["leadTimeLearned"]) for x in found] == [(7.0, 1.0, True)]


async def test_what_to_order_is_grouped_per_supplier(api):
    lumen = await lamp_history(api)
    acme = await api.desk.upsert_supplier(None, "Acme", 5)
    await s.product(api.desk, "BULB", supplier_id=lumen)  # waiting customers: something to order
    await s.product(api.desk, "CORD", supplier_id=acme.id)
    await s.product(api.desk, "PLUG", supplier_id=acme.id, stock=40)  # plenty: nothing to order
    await s.order(api.desk, "dee@example.com", ("BULB", 2), ("CORD", 1), ("PLUG", 1))

    advice = (await api.gql("""{ reorderSuggestions { bySupplier { supplier { name } totalUnits
        suggestions { sku suggestedQuantity } } userErrors { code } } }"""))["data"]["reorderSuggestions"]

    groups = {(g["supplier"] or {}).get("name"): g for g in advice["bySupplier"]}
    assert set(groups) == {"Lumen", "Acme"}  # PEN (no supplier) has nothing to order
    assert [x["sku"] for x in groups["Lumen"]["suggestions"]] == ["BULB", "LAMP"]
    assert [x["sku"] for x in groups["Acme"]["suggestions"]] == ["CORD"]
    for group in groups.values():
        assert group["totalUnits"] == sum(x["suggestedQuantity"] for x in group["suggestions"]) > 0


@pytest.mark.api_settings(reorder_policy=ReorderPolicy(service_level=0.5, smoothing=0.5, history_days=7))
async def test_the_shops_policy_is_the_default_and_an_argument_overrides_it(api):
    await lamp_history(api)

    async def lamp(variables):
        found = (await api.gql(ADVICE, {"filter": {"skus": ["LAMP"]}, **variables}))["data"]["reorderSuggestions"]
        return found["suggestions"][0]

    shop = await lamp({})
    # the shop's 50 %: no safety stock; rate 1 a day over 7 days (as hand-computed above), 10 days -> 10
    assert (shop["demandPerDay"], shop["safetyStock"], shop["reorderPoint"]) == (1.0, 0, 10)
    assert (await lamp({"level": 0.95}))["safetyStock"] == 6  # the figure worked out at 95 %
