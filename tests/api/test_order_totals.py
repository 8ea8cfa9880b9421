"""Money on an order: each line's total (unit price × the units still ordered) and the order's total, as
the portal shows them, through the API, after part of a line is cancelled and part substituted."""

from __future__ import annotations

from decimal import Decimal

from domain.model import Channel
from domain.services import CustomerDetails, LineRequest, ProductInput

ORDER = """query($id: ID!) { order(id: $id) { total { amount currency }
  lines { sku quantity unitPrice { amount } lineTotal { amount currency } } } }"""


async def test_line_totals_follow_cancels_and_substitutes_and_the_order_total_adds_them_up(api):
    from api.ids import encode_id

    desk = api.desk
    await desk.upsert_product(ProductInput(sku="ALT", name="Brass lamp", price=Decimal("34.00"), currency="GBP"))
    await desk.upsert_product(ProductInput(sku="LAMP", name="Lamp", price=Decimal("29.50"), currency="GBP",
                                           substitutes=("ALT",)))
    await desk.upsert_product(ProductInput(sku="BULB", name="Bulb", price=Decimal("0.10"), currency="GBP"))
    await desk.receive_stock("LAMP", 2)
    await desk.receive_stock("ALT", 5)
    await desk.receive_stock("BULB", 10)
    order = await desk.place_order(CustomerDetails("ann@example.com", "Ann"), Channel.ONLINE,
                                   [LineRequest("LAMP", 5), LineRequest("BULB", 3)])
    oid = encode_id("Order", order.id)

    async def totals() -> tuple[dict[str, str], str]:
        data = (await api.gql(ORDER, {"id": oid}))["data"]["order"]
        return ({line["sku"]: line["lineTotal"]["amount"] for line in data["lines"]}, data["total"]["amount"])

    # given 5 lamps (2 from stock, 3 backordered) and 3 bulbs at 0.10 (no float drift: 0.30)
    assert await totals() == ({"LAMP": "147.50", "BULB": "0.30"}, "147.80")
    [backorder] = [line.backorder_id for line in order.lines if line.backorder_id]
    assert backorder is not None
    await desk.cancel_backorder(backorder, 1)  # when one is cancelled
    assert await totals() == ({"LAMP": "118.00", "BULB": "0.30"}, "118.30")
    await desk.accept_substitute(backorder, "ALT")  # and the other two are replaced by the brass lamp
    assert await totals() == ({"LAMP": "59.00", "BULB": "0.30", "ALT": "68.00"}, "127.30")


async def test_an_order_in_two_currencies_has_no_single_total(api):
    from api.ids import encode_id

    desk = api.desk
    await desk.upsert_product(ProductInput(sku="GB", name="A", price=Decimal("1.00"), currency="GBP"))
    await desk.upsert_product(ProductInput(sku="EU", name="B", price=Decimal("2.00"), currency="EUR"))
    await desk.receive_stock("GB", 1)
    await desk.receive_stock("EU", 1)
    order = await desk.place_order(CustomerDetails("ann@example.com", "Ann"), Channel.ONLINE,
                                   [LineRequest("GB", 1), LineRequest("EU", 1)])
    data = (await api.gql(ORDER, {"id": encode_id("Order", order.id)}))["data"]["order"]
    assert data["total"] is None
    assert [line["lineTotal"] for line in data["lines"]] == [{"amount": "1.00", "currency": "GBP"},
                                                           {"amount": "2.00", "currency": "EUR"}]
