"""Money and locations made exact, over HTTP (SQLite, and PostgreSQL with BACKORDER_TEST_POSTGRES_URL): the shop's
exchange rates and locations (agents set them; bad input is a typed userError and changes nothing), a substitute
priced in another currency compared only through a rate and shown with it, acceptSubstitute never mixing
currencies in one order, unknown locations refused everywhere a location is input, and order lines and
shipments saying where their units come from."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from api.ids import encode_id
from domain.model import Channel
from domain.services import CustomerDetails, LineRequest, ProductInput
from tests.api import support as s
from tests.api.customer_sessions import Customer

ERRORS = "userErrors { field message code }"
RATE = f"""mutation($input: UpsertExchangeRateInput!) {{ upsertExchangeRate(input: $input) {{
  exchangeRate {{ fromCurrency toCurrency rate date }} {ERRORS} }} }}"""
LOCATION = f"""mutation($input: UpsertLocationInput!) {{ upsertLocation(input: $input) {{
  location {{ code name }} {ERRORS} }} }}"""
REFERENCE = "{ locations { code name } exchangeRates { fromCurrency toCurrency rate date } }"
OPTIONS = """query($id: ID!) { backorder(id: $id) { substitutes { product { sku }
  priceDifference { amount currency } convertedPrice { amount currency }
  exchangeRate { fromCurrency toCurrency rate date } } } }"""
ACCEPT = f"""mutation($input: AcceptSubstituteInput!) {{ acceptSubstitute(input: $input) {{
  orderLine {{ sku unitPrice {{ amount currency }} listPrice {{ amount currency }}
    exchangeRate {{ fromCurrency toCurrency rate date }} }}
  order {{ total {{ amount currency }} lines {{ unitPrice {{ currency }} }} }} {ERRORS} }} }}"""


async def _everything(api: Any) -> tuple[Any, Any]:
    return await s.state(api), (await api.gql(REFERENCE))["data"]


async def test_agents_set_up_locations_and_exchange_rates_and_read_them_back(api):
    made = (await api.gql(LOCATION, {"input": {"code": "leeds-1", "name": "Leeds store"}}))["data"]["upsertLocation"]
    assert made == {"location": {"code": "LEEDS-1", "name": "Leeds store"}, "userErrors": []}
    renamed = (await api.gql(LOCATION, {"input": {"code": "LEEDS-1", "name": "Leeds"}}))["data"]["upsertLocation"]
    assert renamed["location"] == {"code": "LEEDS-1", "name": "Leeds"}

    rate = (await api.gql(RATE, {"input": {"fromCurrency": "usd", "toCurrency": "EUR", "rate": "0.925",
                                           "date": "2026-03-01"}}))["data"]["upsertExchangeRate"]
    assert rate == {"exchangeRate": {"fromCurrency": "USD", "toCurrency": "EUR", "rate": "0.92500000",
                                     "date": "2026-03-01"}, "userErrors": []}
    today = (await api.gql(RATE, {"input": {"fromCurrency": "USD", "toCurrency": "EUR", "rate": "0.93"}}))
    assert today["data"]["upsertExchangeRate"]["exchangeRate"]["date"] == "2026-03-02"  # today, the one clock
    assert (await api.gql(REFERENCE))["data"] == {
        "locations": [{"code": "LEEDS-1", "name": "Leeds"}, {"code": "MAIN", "name": "Main warehouse"}],
        "exchangeRates": [{"fromCurrency": "USD", "toCurrency": "EUR", "rate": "0.93000000", "date": "2026-03-02"}]}


async def test_bad_reference_data_is_a_typed_error_and_changes_nothing(api):
    await api.gql(RATE, {"input": {"fromCurrency": "USD", "toCurrency": "EUR", "rate": "0.9"}})
    cases = [
        (LOCATION, "upsertLocation", {"code": "back room"}, "code", "INVALID_INPUT"),
        (LOCATION, "upsertLocation", {"code": "../../etc"}, "code", "INVALID_INPUT"),
        (LOCATION, "upsertLocation", {"code": "LEEDS", "name": "x\u0000"}, "name", "INVALID_INPUT"),
        (RATE, "upsertExchangeRate", {"fromCurrency": "USD", "toCurrency": "EUR", "rate": "0"}, "rate",
         "INVALID_INPUT"),
        (RATE, "upsertExchangeRate", {"fromCurrency": "USD", "toCurrency": "EUR", "rate": "1.123456789"}, "rate",
         "INVALID_INPUT"),
        (RATE, "upsertExchangeRate", {"fromCurrency": "DOLLAR", "toCurrency": "EUR", "rate": "1"}, "fromCurrency",
         "INVALID_INPUT"),
        (RATE, "upsertExchangeRate", {"fromCurrency": "EUR", "toCurrency": "EUR", "rate": "1"}, "toCurrency",
         "INVALID_INPUT"),
        (RATE, "upsertExchangeRate", {"fromCurrency": "USD", "toCurrency": "EUR", "rate": "1", "date": "2026-03-03"},
         "date", "INVALID_INPUT"),
    ]
    for document, mutation, fields, field, code in cases:
        before = await _everything(api)
        payload = (await api.gql(document, {"input": fields}))["data"][mutation]
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)], (fields, payload)
        assert all(value is None for key, value in payload.items() if key != "userErrors")
        assert await _everything(api) == before, fields


async def test_customers_cannot_set_or_read_the_shops_reference_data(api):
    await s.product(api.desk, "MUG", stock=1)
    await s.order(api.desk, "ann@example.com", ("MUG", 1))
    ann = Customer(api)
    try:
        await ann.sign_in_with_link("ann@example.com")
        for document, variables in ((RATE, {"input": {"fromCurrency": "USD", "toCurrency": "EUR", "rate": "1"}}),
                                    (LOCATION, {"input": {"code": "ANNS"}}), (REFERENCE, None)):
            answer = await ann.gql(document, variables)
            assert [e["extensions"]["code"] for e in answer["errors"]][:1] == ["FORBIDDEN"], answer
    finally:
        await ann.close()
    assert (await api.gql(REFERENCE))["data"] == {"locations": [{"code": "MAIN", "name": "Main warehouse"}],
                                                  "exchangeRates": []}


async def _kettle_shop(api: Any, rate: str | None) -> str:
    """A EUR kettle waiting for 2 units; its listed substitute is priced in USD with 5 in stock."""
    desk = api.desk
    await desk.upsert_product(ProductInput(sku="KETTLE-US", name="US kettle", price=Decimal("12.00"), currency="USD"))
    await desk.upsert_product(ProductInput(sku="KETTLE", name="Kettle", price=Decimal("10.00"), currency="EUR",
                                           substitutes=("KETTLE-US",)))
    await desk.receive_stock("KETTLE-US", 5)
    if rate is not None:
        await desk.upsert_exchange_rate("USD", "EUR", Decimal(rate), date(2026, 3, 1))
    placed = await desk.place_order(CustomerDetails("ann@example.com"), Channel.ONLINE, [LineRequest("KETTLE", 2)])
    return s.backorder_ids(placed)[0]


async def test_a_substitute_in_another_currency_has_no_price_difference_without_a_rate_and_cannot_be_taken(api):
    backorder = await _kettle_shop(api, None)
    option = (await api.gql(OPTIONS, {"id": backorder}))["data"]["backorder"]["substitutes"][0]
    # before: "$12.00 more" for a EUR 10 kettle; now no number compares dollars with euros
    assert option == {"product": {"sku": "KETTLE-US"}, "priceDifference": None, "convertedPrice": None,
                      "exchangeRate": None}
    before = await s.state(api)
    refused = (await api.gql(ACCEPT, {"input": {"backorderId": backorder, "substituteSku": "KETTLE-US"}}))
    payload = refused["data"]["acceptSubstitute"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("substituteSku", "NO_EXCHANGE_RATE")]
    assert payload["orderLine"] is None and payload["order"] is None
    assert await s.state(api) == before


async def test_through_the_shops_rate_the_difference_is_in_the_orders_currency_and_the_order_stays_in_it(api):
    backorder = await _kettle_shop(api, "0.925")
    option = (await api.gql(OPTIONS, {"id": backorder}))["data"]["backorder"]["substitutes"][0]
    # 12.00 USD x 0.925 = 11.10 EUR: 1.10 more than the 10.00 EUR ordered, with the rate and its date
    assert option["priceDifference"] == {"amount": "1.10", "currency": "EUR"}
    assert option["convertedPrice"] == {"amount": "11.10", "currency": "EUR"}
    assert option["exchangeRate"] == {"fromCurrency": "USD", "toCurrency": "EUR", "rate": "0.92500000",
                                      "date": "2026-03-01"}
    taken = (await api.gql(ACCEPT, {"input": {"backorderId": backorder, "substituteSku": "KETTLE-US"}}))
    payload = taken["data"]["acceptSubstitute"]
    assert payload["userErrors"] == []
    assert payload["orderLine"] == {"sku": "KETTLE-US", "unitPrice": {"amount": "11.10", "currency": "EUR"},
                                    "listPrice": {"amount": "12.00", "currency": "USD"},
                                    "exchangeRate": option["exchangeRate"]}
    assert {line["unitPrice"]["currency"] for line in payload["order"]["lines"]} == {"EUR"}
    assert payload["order"]["total"] == {"amount": "22.20", "currency": "EUR"}  # one currency: a total exists


PREVIEW = """query($location: String!) { previewAllocation(sku: "MUG", quantity: 1, location: $location) {
  lines { allocatedQuantity } userErrors { field code } } }"""


async def test_an_unknown_location_is_refused_everywhere_a_location_is_input(api):
    await s.product(api.desk, "MUG", stock=1)
    supplier = encode_id("Supplier", (await api.desk.upsert_supplier(None, "Acme", 10)).id)
    cases = [
        ("receiveStock", "ReceiveStockInput", "product { sku }", {"sku": "MUG", "quantity": 1, "location": "NOWHERE"}),
        ("adjustStock", "AdjustStockInput", "product { sku }",
         {"sku": "MUG", "delta": 1, "reason": "found", "location": "nowhere"}),
        ("createPurchaseOrder", "CreatePurchaseOrderInput", "purchaseOrder { id }",
         {"supplierId": supplier, "expectedDate": "2026-03-20", "lines": [{"sku": "MUG", "quantity": 1}],
          "location": "NOWHERE"}),
        ("placeOrder", "PlaceOrderInput", "order { id }",
         {"customer": {"email": "ann@example.com"}, "channel": "PHONE", "lines": [{"sku": "MUG", "quantity": 1}],
          "location": "NOWHERE"}),
        ("receivePurchaseOrder", "ReceivePurchaseOrderInput", "purchaseOrder { id }",
         {"id": encode_id("PurchaseOrder", (await s.purchase_order(api.desk, date(2026, 3, 20), ("MUG", 2))).id),
          "location": "nowhere"}),
    ]
    for mutation, kind, fields, variables in cases:
        before = await _everything(api)
        document = f"mutation($input: {kind}!) {{ {mutation}(input: $input) {{ {fields} {ERRORS} }} }}"
        payload = (await api.gql(document, {"input": variables}))["data"][mutation]
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("location", "UNKNOWN_LOCATION")], (
            mutation, payload)
        assert await _everything(api) == before, mutation
    preview = (await api.gql(PREVIEW, {"location": "NOWHERE"}))["data"]["previewAllocation"]
    assert preview == {"lines": [], "userErrors": [{"field": "location", "code": "UNKNOWN_LOCATION"}]}
    # once set up, the same code is a place like any other
    await api.gql(LOCATION, {"input": {"code": "NOWHERE", "name": "The far shed"}})
    assert (await api.gql(PREVIEW, {"location": "nowhere"}))["data"]["previewAllocation"]["userErrors"] == []


LINES = """query($id: ID!) { order(id: $id) { lines { sku locations { location heldQuantity shippedQuantity } } } }"""
SHIP = f"""mutation($input: ShipAllocatedInput!) {{ shipAllocated(input: $input) {{
  shipment {{ units locations {{ location shippedQuantity }} }} {ERRORS} }} }}"""


async def test_order_lines_and_shipments_say_which_location_their_units_come_from(api):
    desk = api.desk
    await desk.upsert_location("LEEDS", "Leeds store")
    await s.product(desk, "MUG", stock=2)
    await desk.receive_stock("MUG", 1, "LEEDS")
    placed = await s.order(desk, "ann@example.com", ("MUG", 4))  # 3 set aside now (2 MAIN, 1 LEEDS), 1 waits
    await desk.receive_stock("MUG", 1, "LEEDS")  # the waiting unit, set aside at LEEDS for the backorder
    order = s.order_id(placed)
    lines = (await api.gql(LINES, {"id": order}))["data"]["order"]["lines"]
    assert lines == [{"sku": "MUG", "locations": [
        {"location": "LEEDS", "heldQuantity": 2, "shippedQuantity": 0},
        {"location": "MAIN", "heldQuantity": 2, "shippedQuantity": 0}]}]

    shipped = (await api.gql(SHIP, {"input": {"orderId": order}}))["data"]["shipAllocated"]
    assert shipped["userErrors"] == []
    assert shipped["shipment"] == {"units": 4, "locations": [{"location": "LEEDS", "shippedQuantity": 2},
                                                             {"location": "MAIN", "shippedQuantity": 2}]}
    lines = (await api.gql(LINES, {"id": order}))["data"]["order"]["lines"]
    assert lines[0]["locations"] == [{"location": "LEEDS", "heldQuantity": 0, "shippedQuantity": 2},
                                     {"location": "MAIN", "heldQuantity": 0, "shippedQuantity": 2}]


RECEIVE = f"""mutation($input: ReceivePurchaseOrderInput!) {{ receivePurchaseOrder(input: $input) {{
  purchaseOrder {{ status location }} {ERRORS} }} }}"""
STOCK = """{ product(sku: "MUG") { stock { location onHand } } }"""


async def test_a_purchase_order_is_received_into_the_location_the_agent_chooses_else_its_own(api):
    # given a PO of 3 mugs bound for MAIN, and a second store
    await api.desk.upsert_location("LEEDS", "Leeds store")
    await s.product(api.desk, "MUG")
    po = await s.purchase_order(api.desk, date(2026, 3, 20), ("MUG", 3))
    po_id = encode_id("PurchaseOrder", po.id)
    # when 2 are received at LEEDS, then the rest with no location named
    into_leeds = {"id": po_id, "lines": [{"sku": "MUG", "quantity": 2}], "location": " leeds "}
    first = (await api.gql(RECEIVE, {"input": into_leeds}))["data"]["receivePurchaseOrder"]
    rest = (await api.gql(RECEIVE, {"input": {"id": po_id}}))["data"]["receivePurchaseOrder"]
    # then LEEDS holds 2 and the PO's own location (MAIN) the last one; the PO still says where it was bound
    assert first == {"purchaseOrder": {"status": "PARTIALLY_RECEIVED", "location": "MAIN"}, "userErrors": []}
    assert rest == {"purchaseOrder": {"status": "RECEIVED", "location": "MAIN"}, "userErrors": []}
    stock = (await api.gql(STOCK))["data"]["product"]["stock"]
    assert sorted((row["location"], row["onHand"]) for row in stock) == [("LEEDS", 2), ("MAIN", 1)]


SHIPPED = """query($id: ID!) { order(id: $id) { lines { quantity allocatedQuantity shippedQuantity
  backorder { quantity shippedQuantity } } } }"""


async def test_a_lines_shipped_quantity_counts_only_the_units_set_aside_at_placement(api):
    # given 4 mugs ordered with 3 on the shelf (3 set aside, 1 backordered), and the waiting one then received
    await s.product(api.desk, "MUG", stock=3)
    placed = await s.order(api.desk, "ann@example.com", ("MUG", 4))
    await api.desk.receive_stock("MUG", 1)
    order = s.order_id(placed)
    # when everything set aside ships
    assert (await api.gql(SHIP, {"input": {"orderId": order}}))["data"]["shipAllocated"]["shipment"]["units"] == 4
    # then the line counts its own 3, its backorder the 1 that came later: the sum is what shipped (as the
    # schema's description of OrderLine.shippedQuantity says)
    [line] = (await api.gql(SHIPPED, {"id": order}))["data"]["order"]["lines"]
    assert line == {"quantity": 4, "allocatedQuantity": 3, "shippedQuantity": 3,
                    "backorder": {"quantity": 1, "shippedQuantity": 1}}


RETIRE = f"""mutation($code: String!) {{ retireLocation(input: {{code: $code}}) {{
  location {{ code name }} keptForHistory {ERRORS} }} }}"""


async def test_agents_retire_a_location_only_once_nothing_is_there_or_on_its_way(api):
    # given a store with a mug on the shelf, a dock a purchase order is bound for, and a location set up by mistake
    await s.product(api.desk, "MUG")
    for code in ("STORE", "DOCK", "TYPO"):
        await api.desk.upsert_location(code, code.title())
    await api.desk.receive_stock("MUG", 1, "STORE")
    supplier = await api.desk.upsert_supplier(None, "Acme", 10)
    await api.desk.create_purchase_order(supplier.id, date(2026, 3, 20), [LineRequest("MUG", 2)], number="PO-9",
                                         location="DOCK")
    # when each is retired: the store and the dock are refused at the code, saying why, and nothing changes
    for code, why in (("STORE", "still holds 1 units"), ("DOCK", "PO-9"), ("MAIN", "default location")):
        before = await _everything(api)
        refused = (await api.gql(RETIRE, {"code": code}))["data"]["retireLocation"]
        assert refused["location"] is None
        [error] = refused["userErrors"]
        assert (error["field"], error["code"]) == ("code", "LOCATION_IN_USE") and why in error["message"], error
        assert await _everything(api) == before
    # then the one nothing referred to is removed; the store, emptied, is kept for its history
    removed = (await api.gql(RETIRE, {"code": "typo"}))["data"]["retireLocation"]
    assert removed == {"location": {"code": "TYPO", "name": "Typo"}, "keptForHistory": False, "userErrors": []}
    await api.desk.adjust_stock("MUG", -1, "moved to MAIN", "STORE")
    kept = (await api.gql(RETIRE, {"code": "STORE"}))["data"]["retireLocation"]
    assert (kept["keptForHistory"], kept["userErrors"]) == (True, [])
    assert [row["code"] for row in (await api.gql(REFERENCE))["data"]["locations"]] == ["DOCK", "MAIN"]
