"""The desk's other mutations over HTTP, each followed by a query that shows what changed, and the kpis."""

from datetime import date, timedelta

from api.ids import encode_id
from tests.api import support as s

ERRORS = "userErrors { field message code }"
BACKORDER = """query($id: ID!) { backorder(id: $id) { status quantity backorderedQuantity allocatedQuantity
  shippedQuantity substitutedQuantity queuePosition priority priorityReason eta { date source }
  history { kind oldValue newValue } } }"""
PRODUCT = """query($sku: String!) { product(sku: $sku) { onHand availableToPromise unitsBackordered
  stock { location onHand allocated safetyStock availableToPromise } inbound { quantity } } }"""


async def _backorder(api, backorder_id):
    return (await api.gql(BACKORDER, {"id": backorder_id}))["data"]["backorder"]


async def _product(api, sku):
    return (await api.gql(PRODUCT, {"sku": sku}))["data"]["product"]


async def test_accept_substitute(api):
    await s.product(api.desk, "CUP", stock=5, price="12.00")
    await s.product(api.desk, "MUG", price="10.00", substitutes=["CUP"])
    ann = await s.order(api.desk, "ann@example.com", ("MUG", 2))
    [backorder] = s.backorder_ids(ann)
    options = await api.gql("""query($id: ID!) { backorder(id: $id) { substitutes { product { sku }
        availableQuantity available priceDifference { amount currency } } } }""", {"id": backorder})
    assert options["data"]["backorder"]["substitutes"] == [
        {"product": {"sku": "CUP"}, "availableQuantity": 5, "available": True,
         "priceDifference": {"amount": "2.00", "currency": "EUR"}}]

    accept = f"""mutation($id: ID!) {{ acceptSubstitute(input: {{backorderId: $id, substituteSku: "CUP"}}) {{
      backorder {{ status substitutedQuantity backorderedQuantity queuePosition eta {{ date }} }}
      orderLine {{ sku quantity allocatedQuantity unitPrice {{ amount }} substituteFor {{ id }} }}
      order {{ lines {{ sku }} }} {ERRORS} }} }}"""
    taken = (await api.gql(accept, {"id": backorder}))["data"]["acceptSubstitute"]
    assert taken == {
        "backorder": {"status": "SUBSTITUTED", "substitutedQuantity": 2, "backorderedQuantity": 0,
                      "queuePosition": None, "eta": None},
        "orderLine": {"sku": "CUP", "quantity": 2, "allocatedQuantity": 2, "unitPrice": {"amount": "12.00"},
                      "substituteFor": {"id": backorder}},
        "order": {"lines": [{"sku": "MUG"}, {"sku": "CUP"}]},
        "userErrors": [],
    }
    assert (await _product(api, "CUP"))["availableToPromise"] == 3
    assert (await _product(api, "MUG"))["unitsBackordered"] == 0
    again = (await api.gql(accept, {"id": backorder}))["data"]["acceptSubstitute"]
    # the input names the backorder `backorderId`: a userError about it says so (it said `id`, no such field)
    assert [(e["field"], e["code"]) for e in again["userErrors"]] == [("backorderId", "INVALID_STATE")]
    assert (await _product(api, "CUP"))["availableToPromise"] == 3


async def test_ship_complete_waits_for_the_backorder_then_ships_everything(api):
    await s.product(api.desk, "MUG", stock=1)
    await s.product(api.desk, "LAMP")
    ann = await s.order(api.desk, "ann@example.com", ("MUG", 1), ("LAMP", 1))
    [lamp_backorder] = s.backorder_ids(ann)
    prefer = f"""mutation($id: ID!, $complete: Boolean!) {{ setShippingPreference(input: {{orderId: $id,
      shipComplete: $complete}}) {{ order {{ shipComplete }} {ERRORS} }} }}"""
    ship = f"""mutation($id: ID!) {{ shipAllocated(input: {{orderId: $id}}) {{ shipment {{ id units }}
      order {{ lines {{ sku shippedQuantity }} }} {ERRORS} }} }}"""
    order = s.order_id(ann)

    chosen = (await api.gql(prefer, {"id": order, "complete": True}))["data"]["setShippingPreference"]
    assert chosen == {"order": {"shipComplete": True}, "userErrors": []}
    refused = (await api.gql(ship, {"id": order}))["data"]["shipAllocated"]
    assert refused["shipment"] is None and refused["order"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("orderId", "SHIP_COMPLETE_PENDING")]
    assert "ships complete" in refused["userErrors"][0]["message"]
    assert (await _product(api, "MUG"))["stock"] == [
        {"location": "MAIN", "onHand": 1, "allocated": 1, "safetyStock": 0, "availableToPromise": 0}]

    await api.desk.receive_stock("LAMP", 1)
    shipped = (await api.gql(ship, {"id": order}))["data"]["shipAllocated"]
    assert shipped["shipment"]["units"] == 2 and shipped["userErrors"] == []
    assert shipped["order"]["lines"] == [{"sku": "MUG", "shippedQuantity": 1}, {"sku": "LAMP", "shippedQuantity": 0}]
    lamp = await _backorder(api, lamp_backorder)
    assert (lamp["status"], lamp["shippedQuantity"]) == ("SHIPPED", 1)
    assert [(p["onHand"], p["stock"][0]["allocated"]) for p in [await _product(api, "MUG"),
                                                                  await _product(api, "LAMP")]] == [(0, 0), (0, 0)]
    nothing = (await api.gql(ship, {"id": order}))["data"]["shipAllocated"]
    assert [e["code"] for e in nothing["userErrors"]] == ["NOTHING_TO_SHIP"]


async def test_ship_what_is_available_now(api):
    await s.product(api.desk, "MUG", stock=1)
    await s.product(api.desk, "LAMP")
    bob = await s.order(api.desk, "bob@example.com", ("MUG", 1), ("LAMP", 1), ship_complete=True)
    order = s.order_id(bob)
    await api.gql("""mutation($id: ID!) { setShippingPreference(input: {orderId: $id, shipComplete: false}) {
        userErrors { code } } }""", {"id": order})
    shipped = (await api.gql("""mutation($id: ID!) { shipAllocated(input: {orderId: $id}) { shipment { units }
        userErrors { code } } }""", {"id": order}))["data"]["shipAllocated"]
    assert shipped == {"shipment": {"units": 1}, "userErrors": []}
    lamp = await _backorder(api, s.backorder_ids(bob)[0])
    assert (lamp["status"], lamp["backorderedQuantity"]) == ("WAITING", 1)


async def test_reprioritize_moves_a_backorder_up_the_queue(api):
    await s.product(api.desk, "MUG")
    ann, bob, cy = [s.backorder_ids(await s.order(api.desk, f"{name}@example.com", ("MUG", 1)))[0]
                    for name in ["ann", "bob", "cy"]]

    async def positions():
        return [(await _backorder(api, b))["queuePosition"] for b in [ann, bob, cy]]

    assert await positions() == [1, 2, 3]
    moved = (await api.gql(f"""mutation($id: ID!) {{ reprioritizeBackorder(input: {{id: $id, priority: 10,
        reason: "complained twice"}}) {{ backorder {{ priority priorityReason queuePosition }} {ERRORS} }} }}""",
                           {"id": cy}))["data"]["reprioritizeBackorder"]
    assert moved == {"backorder": {"priority": 10, "priorityReason": "complained twice", "queuePosition": 1},
                     "userErrors": []}
    assert await positions() == [2, 3, 1]
    assert {"kind": "PRIORITY", "oldValue": "0", "newValue": "10"} in (await _backorder(api, cy))["history"]
    await api.gql("""mutation($id: ID!) { reprioritizeBackorder(input: {id: $id, priority: -5, reason: "can wait"}) {
        userErrors { code } } }""", {"id": ann}, token="admin")
    assert await positions() == [3, 2, 1]
    await api.desk.receive_stock("MUG", 1)  # served in the new order
    assert [(await _backorder(api, b))["status"] for b in [ann, bob, cy]] == ["WAITING", "WAITING", "ALLOCATED"]
    assert await positions() == [2, 1, None]


async def test_adjust_stock(api):
    await s.product(api.desk, "MUG", stock=10)
    adjust = f"""mutation($input: AdjustStockInput!) {{ adjustStock(input: $input) {{
      product {{ onHand availableToPromise }} {ERRORS} }} }}"""

    async def run(**fields):
        return (await api.gql(adjust, {"input": {"sku": "MUG", **fields}}))["data"]["adjustStock"]

    assert await run(delta=-3, reason="damaged") == {"product": {"onHand": 7, "availableToPromise": 7},
                                                     "userErrors": []}
    assert (await run(safetyStock=2, reason="display units"))["product"] == {"onHand": 7, "availableToPromise": 5}
    # a location is known once the shop has set it up: before, the units are refused, not put somewhere new
    assert (await run(delta=4, reason="found", location="store-2"))["userErrors"] == [
        {"field": "location", "code": "UNKNOWN_LOCATION",
         "message": "'STORE-2' is not one of the shop's locations: a new location is set up before anything "
                    "is kept there (upsertLocation sets one up)"}]
    await api.desk.upsert_location("store-2", "Second store")
    assert (await run(delta=4, reason="found", location="store-2"))["product"]["onHand"] == 11
    assert [(x["location"], x["onHand"], x["safetyStock"]) for x in (await _product(api, "MUG"))["stock"]] == [
        ("MAIN", 7, 2), ("STORE-2", 4, 0)]

    # found stock goes to whoever waits
    await s.product(api.desk, "LAMP")
    ann = await s.order(api.desk, "ann@example.com", ("LAMP", 2))
    await api.gql(adjust, {"input": {"sku": "LAMP", "delta": 2, "reason": "found in the back room"}})
    lamp = await _backorder(api, s.backorder_ids(ann)[0])
    assert (lamp["status"], lamp["allocatedQuantity"]) == ("ALLOCATED", 2)
    assert (await _product(api, "LAMP"))["availableToPromise"] == 0


async def test_update_purchase_order_moves_changes_and_cancels(api):
    await s.product(api.desk, "MUG")
    await s.product(api.desk, "CUP")
    po = await s.purchase_order(api.desk, date(2026, 3, 10), ("MUG", 5))
    ann = await s.order(api.desk, "ann@example.com", ("MUG", 2))
    [backorder] = s.backorder_ids(ann)
    update = f"""mutation($input: UpdatePurchaseOrderInput!) {{ updatePurchaseOrder(input: $input) {{
      purchaseOrder {{ status expectedDate lines {{ sku quantity outstandingQuantity }} }} {ERRORS} }} }}"""
    po_id = encode_id("PurchaseOrder", po.id)

    changed = (await api.gql(update, {"input": {"id": po_id, "lines": [{"sku": "MUG", "quantity": 8},
                                                                       {"sku": "CUP", "quantity": 3}]}}))
    assert changed["data"]["updatePurchaseOrder"]["purchaseOrder"] == {
        "status": "OPEN", "expectedDate": "2026-03-10",
        "lines": [{"sku": "MUG", "quantity": 8, "outstandingQuantity": 8},
                  {"sku": "CUP", "quantity": 3, "outstandingQuantity": 3}]}
    assert (await _product(api, "CUP"))["inbound"] == [{"quantity": 3}]

    cancelled = (await api.gql(update, {"input": {"id": po_id, "cancel": True}}))["data"]["updatePurchaseOrder"]
    assert (cancelled["purchaseOrder"]["status"], cancelled["userErrors"]) == ("CANCELLED", [])
    assert (await _backorder(api, backorder))["eta"] == {"date": "2026-03-16", "source": "LEAD_TIME"}
    assert (await _product(api, "MUG"))["inbound"] == []
    listed = await api.gql("{ purchaseOrders(filter: {status: [CANCELLED]}) { nodes { id "
                           "lines { product { sku } } } } }")
    assert listed["data"]["purchaseOrders"]["nodes"] == [
        {"id": po_id, "lines": [{"product": {"sku": "MUG"}}, {"product": {"sku": "CUP"}}]}]

    again = (await api.gql(update, {"input": {"id": po_id, "expectedDate": "2026-04-01"}}))
    assert [(e["field"], e["code"]) for e in again["data"]["updatePurchaseOrder"]["userErrors"]] == [
        ("id", "INVALID_STATE")]
    received = await api.gql(f"""mutation($id: ID!) {{ receivePurchaseOrder(input: {{id: $id}}) {{
        purchaseOrder {{ status }} {ERRORS} }} }}""", {"id": po_id})
    assert [e["code"] for e in received["data"]["receivePurchaseOrder"]["userErrors"]] == ["INVALID_STATE"]
    assert (await _product(api, "MUG"))["onHand"] == 0


KPIS = """{ kpis { openBackorders unitsWaiting unitsAllocatedNotShipped overdueBackorders skusWithBackorders
  orders ordersWithBackorders fillRate meanWaitDays } }"""


async def test_kpis(api):
    await s.product(api.desk, "MUG", stock=3)
    await s.product(api.desk, "CUP")
    await s.order(api.desk, "ann@example.com", ("MUG", 2))  # all from stock
    await s.order(api.desk, "bob@example.com", ("MUG", 3))  # 1 from stock, 2 wait
    cy = await s.order(api.desk, "cy@example.com", ("CUP", 4))  # 4 wait

    async def kpis():
        return (await api.gql(KPIS))["data"]["kpis"]

    assert await kpis() == {"openBackorders": 2, "unitsWaiting": 6, "unitsAllocatedNotShipped": 0,
                            "overdueBackorders": 0, "skusWithBackorders": 2, "orders": 3,
                            "ordersWithBackorders": 2, "fillRate": 0.3333, "meanWaitDays": None}
    api.clock.advance(timedelta(days=20))  # both were promised for 16 March
    assert (await kpis())["overdueBackorders"] == 2
    await api.desk.receive_stock("CUP", 4)
    after = await kpis()
    assert (after["unitsWaiting"], after["unitsAllocatedNotShipped"], after["meanWaitDays"]) == (2, 4, 20.0)
    api.clock.advance(timedelta(days=5))  # shipped five days after the stock came: the wait was still 20 days
    await api.desk.ship_allocated(cy.id)
    after = await kpis()
    assert (after["openBackorders"], after["unitsAllocatedNotShipped"], after["skusWithBackorders"]) == (1, 0, 1)
    assert (after["fillRate"], after["orders"], after["ordersWithBackorders"]) == (0.3333, 3, 2)
    assert after["meanWaitDays"] == 20.0


async def test_preferences_say_when_the_phone_replied_stop(api):
    # given Ann asks for texts to her number (her own save: an agent turns texts on only with her consent on record)
    ann = "ann@example.com"
    read_prefs = '{ customerPreferences(email: "ann@example.com") { bySms smsStopped } }'

    async def her_own_save() -> dict:
        await api.desk.set_notification_preferences(ann, {"by_sms": True, "phone": "+447700900123"}, by=ann,
                                                    by_agent=False)
        return (await api.gql(read_prefs))["data"]["customerPreferences"]

    assert await her_own_save() == {"bySms": True, "smsStopped": False}
    # when her phone replies STOP, and she ticks SMS again in a form
    from domain.store.notify import set_sms_consent

    await set_sms_consent("+447700900123", True, api.clock.now(), "inbound STOP")
    again = await her_own_save()
    # then the preferences say texts are stopped until the phone says START
    assert again == {"bySms": True, "smsStopped": True}
    await set_sms_consent("+447700900123", False, api.clock.now(), "inbound START")
    read = await api.gql('{ customerPreferences(email: "ann@example.com") { smsStopped } }')
    assert read["data"]["customerPreferences"] == {"smsStopped": False}
