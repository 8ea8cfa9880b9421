"""The README's five-minute tour, over HTTP and the websocket subscription."""

from tests.api import support as s

PRODUCT = """mutation($input: UpsertProductInput!) { upsertProduct(input: $input) {
  product { sku } userErrors { field message code } } }"""
SUPPLIER = """mutation { upsertSupplier(input: {name: "Acme", leadTimeDays: 20}) { supplier { id } } }"""
PO = """mutation($input: CreatePurchaseOrderInput!) { createPurchaseOrder(input: $input) {
  purchaseOrder { id number status } userErrors { field message code } } }"""
RECEIVE_STOCK = """mutation { receiveStock(input: {sku: "MUG", quantity: 3}) { product { availableToPromise } } }"""
PLACE = """mutation($email: String!, $qty: Int!) { placeOrder(input: {customer: {email: $email}, channel: ONLINE,
  lines: [{sku: "MUG", quantity: $qty}]}) {
  order { id lines { allocatedQuantity } }
  backorders { id status backorderedQuantity queuePosition eta { date confidence source purchaseOrderNumber } }
  userErrors { field message code } } }"""
SUBSCRIBE = """subscription { backorderUpdates(filter: {sku: "MUG"}) { kind message newStatus newEtaDate
  backorder { status queuePosition allocatedQuantity } } }"""


async def test_tour(api):
    await api.gql(PRODUCT, {"input": {"sku": "MUG", "name": "Mug", "price": {"amount": "9.50", "currency": "EUR"}}})
    supplier = (await api.gql(SUPPLIER))["data"]["upsertSupplier"]["supplier"]["id"]
    po = (await api.gql(PO, {"input": {"supplierId": supplier, "expectedDate": "2026-03-10",
                                       "lines": [{"sku": "MUG", "quantity": 4}]}}))["data"]["createPurchaseOrder"]
    assert po["userErrors"] == []
    await api.gql(RECEIVE_STOCK)
    ws = await s.subscribe(api, SUBSCRIBE)
    try:
        first = (await api.gql(PLACE, {"email": "ann@example.com", "qty": 5}))["data"]["placeOrder"]
        assert first["order"]["lines"][0]["allocatedQuantity"] == 3
        [b1] = first["backorders"]
        assert (b1["status"], b1["backorderedQuantity"], b1["queuePosition"]) == ("WAITING", 2, 1)
        assert b1["eta"] == {"date": "2026-03-10", "confidence": "HIGH", "source": "PURCHASE_ORDER",
                             "purchaseOrderNumber": po["purchaseOrder"]["number"]}
        second = (await api.gql(PLACE, {"email": "bob@example.com", "qty": 4}))["data"]["placeOrder"]
        [b2] = second["backorders"]
        assert b2["queuePosition"] == 2
        assert b2["eta"]["source"] == "LEAD_TIME" and b2["eta"]["confidence"] == "MEDIUM"

        received = await api.gql("""mutation($id: ID!) { receivePurchaseOrder(input: {id: $id}) {
            purchaseOrder { status } userErrors { code } } }""", {"id": po["purchaseOrder"]["id"]})
        assert received["data"]["receivePurchaseOrder"]["purchaseOrder"]["status"] == "RECEIVED"
        view = await api.gql("""query($a: ID!, $b: ID!) { a: backorder(id: $a) { status allocatedQuantity }
            b: backorder(id: $b) { status allocatedQuantity queuePosition } }""", {"a": b1["id"], "b": b2["id"]})
        assert view["data"]["a"] == {"status": "ALLOCATED", "allocatedQuantity": 2}
        assert view["data"]["b"] == {"status": "PARTIALLY_ALLOCATED", "allocatedQuantity": 2, "queuePosition": 1}

        cancelled = await api.gql("""mutation($id: ID!) { cancelBackorder(input: {id: $id, reason: "found it"}) {
            backorder { status cancelledQuantity } userErrors { code } } }""", {"id": b1["id"]})
        assert cancelled["data"]["cancelBackorder"]["backorder"] == {"status": "CANCELLED", "cancelledQuantity": 2}
        after = await api.gql("""query($b: ID!) { backorder(id: $b) { status allocatedQuantity } }""", {"b": b2["id"]})
        assert after["data"]["backorder"] == {"status": "ALLOCATED", "allocatedQuantity": 4}

        # a last change, after all the others: its update arrives after theirs (each subscriber's updates come in
        # the order they were committed), so what came before it is all of them, counted without waiting for a
        # silence
        await api.gql("""mutation($id: ID!) { reprioritizeBackorder(input: {id: $id, priority: 1, reason: "tour"}) {
            userErrors { code } } }""", {"id": b2["id"]})
        updates = await s.updates_until(ws, lambda got: got[-1:] and got[-1]["kind"] == "REPRIORITIZED")
        kinds = [u["kind"] for u in updates[:-1]]
        assert kinds.count("CREATED") == 2
        assert kinds.count("ALLOCATED") == 3
        assert "CANCELLED" in kinds and "STATUS_CHANGED" in kinds
    finally:
        await ws.close()
