"""A product's backorder cap and lead time are the shop's own figures: staff read them, customers get null."""

from __future__ import annotations

from decimal import Decimal

from domain.services import ProductInput
from tests.api import support as s
from tests.api.customer_sessions import Customer

PRODUCT = '{ product(sku: "MUG") { sku backorderLimit leadTimeDays } }'
VIA_ORDER = "{ orders { nodes { lines { product { sku backorderLimit leadTimeDays } } } } }"


async def test_customers_do_not_read_the_backorder_cap_or_the_lead_time(api):
    await api.desk.upsert_product(ProductInput(sku="MUG", name="Mug", price=Decimal("4.00"), backorder_limit=40,
                                               lead_time_days=9))
    placed = await s.order(api.desk, "ann@example.com", ("MUG", 1))
    staff = (await api.gql(PRODUCT))["data"]["product"]
    assert staff == {"sku": "MUG", "backorderLimit": 40, "leadTimeDays": 9}
    ann = Customer(api)
    try:
        await ann.sign_in_with_order(placed.number, "ann@example.com")
        hidden = {"sku": "MUG", "backorderLimit": None, "leadTimeDays": None}
        assert (await ann.gql(VIA_ORDER)) == {"data": {"orders": {"nodes": [{"lines": [{"product": hidden}]}]}}}
    finally:
        await ann.close()
