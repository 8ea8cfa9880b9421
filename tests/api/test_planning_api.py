"""Planning over GraphQL, for agents only: reorder advice per SKU from a few days of orders (figures worked by
hand in the comments), its filters and its refused input."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from api.ids import encode_id
from domain.services import LineRequest
from tests.api import support as s
from tests.api.test_customer_isolation import Customer

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
