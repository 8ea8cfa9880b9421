"""Who may call what: no token or a bad one gets an error and no data; agent and admin tokens work;
a portal customer cannot use staff fields; the websocket wants a token and refuses foreign origins."""

import asyncio
import json
from datetime import date

import graphql
import httpx
import pytest
import websockets

from api.ids import encode_id
from api.schema import build_schema
from domain.store.tokens import create_token, revoke_token
from tests.api import support as s
from tests.waiting import PATIENCE

# Designed to be used without a token: the portal's sign-in, the back-in-stock subscription, a constant.
PUBLIC = {"supportedLanguages", "requestPortalLink", "redeemPortalLink", "signInWithOrder", "signOut",
          "subscribeToProduct", "signInWithApiToken"}

QUERIES = {
    "viewer": "{ viewer { name } }",
    "product": '{ product(sku: "MUG") { sku } }',
    "products": "{ products { totalCount } }",
    "order": "query($order: ID!) { order(id: $order) { id } }",
    "orderByNumber": "query($number: String!) { orderByNumber(number: $number) { id } }",
    "customers": '{ customers(search: "ann") { email phone } }',
    "orders": "{ orders { totalCount } }",
    "backorder": "query($backorder: ID!) { backorder(id: $backorder) { id } }",
    "backorders": "{ backorders { totalCount } }",
    "purchaseOrder": "query($po: ID!) { purchaseOrder(id: $po) { id } }",
    "purchaseOrders": "{ purchaseOrders { totalCount } }",
    "kpis": "{ kpis { orders } }",
    "supplierPerformance": "{ supplierPerformance { suppliers { linesReceived } } }",
    "reorderSuggestions": "{ reorderSuggestions { suggestions { sku suggestedQuantity } } }",
    "kpiSeries": '{ kpiSeries(from: "2026-03-01", to: "2026-03-02") { periods { start orderLines } } }',
    "previewAllocation": '{ previewAllocation(sku: "MUG", quantity: 2) { lines { allocatedQuantity } } }',
    "previewReprioritization": "query($backorder: ID!) { previewReprioritization(backorderId: $backorder, "
                               "priority: 5) { lines { queuePosition } } }",
    "myAccount": "{ myAccount { email } }",
    "customerPreferences": '{ customerPreferences(email: "ann@example.com") { language } }',
    "notifications": "{ notifications { totalCount } }",
    "notification": "query($notification: ID!) { notification(id: $notification) { id } }",
    "apiTokens": "{ apiTokens { name } }",
    "webhookEndpoints": "{ webhookEndpoints { id url } }",
    "webhookDeliveries": "query($endpoint: ID!) { webhookDeliveries(endpointId: $endpoint) { totalCount } }",
    "locations": "{ locations { code } }",
    "exchangeRates": "{ exchangeRates { rate } }",
}

MUTATIONS = {
    "upsertProduct": 'mutation { upsertProduct(input: {sku: "NEW", name: "New", price: {amount: "1"}}) '
                     "{ product { sku } } }",
    "upsertSupplier": 'mutation { upsertSupplier(input: {name: "Evil"}) { supplier { id } } }',
    "upsertLocation": 'mutation { upsertLocation(input: {code: "EVIL"}) { location { code } } }',
    "retireLocation": 'mutation { retireLocation(input: {code: "MAIN"}) { location { code } } }',
    "upsertExchangeRate": 'mutation { upsertExchangeRate(input: {fromCurrency: "USD", toCurrency: "EUR", '
                          'rate: "9"}) { exchangeRate { rate } } }',
    "receiveStock": 'mutation { receiveStock(input: {sku: "MUG", quantity: 5}) { product { sku } } }',
    "adjustStock": 'mutation { adjustStock(input: {sku: "MUG", delta: 5, reason: "found"}) { product { sku } } }',
    "createPurchaseOrder": "mutation($supplier: ID!) { createPurchaseOrder(input: {supplierId: $supplier, "
                           'expectedDate: "2026-04-01", lines: [{sku: "MUG", quantity: 1}]}) '
                           "{ purchaseOrder { id } } }",
    "updatePurchaseOrder": "mutation($po: ID!) { updatePurchaseOrder(input: {id: $po, cancel: true}) "
                           "{ purchaseOrder { status } } }",
    "receivePurchaseOrder": "mutation($po: ID!) { receivePurchaseOrder(input: {id: $po}) "
                            "{ purchaseOrder { status } } }",
    "placeOrder": 'mutation { placeOrder(input: {customer: {email: "eve@example.com"}, channel: ONLINE, '
                  'lines: [{sku: "MUG", quantity: 1}]}) { order { id } } }',
    "cancelBackorder": "mutation($backorder: ID!) { cancelBackorder(input: {id: $backorder}) "
                       "{ backorder { status } } }",
    "acceptSubstitute": "mutation($backorder: ID!) { acceptSubstitute(input: {backorderId: $backorder, "
                        'substituteSku: "CUP"}) { backorder { status } } }',
    "setShippingPreference": "mutation($order: ID!) { setShippingPreference(input: {orderId: $order, "
                             "shipComplete: true}) { order { shipComplete } } }",
    "shipAllocated": "mutation($order: ID!) { shipAllocated(input: {orderId: $order}) { shipment { units } } }",
    "reprioritizeBackorder": "mutation($backorder: ID!) { reprioritizeBackorder(input: {id: $backorder, "
                             'priority: 5, reason: "vip"}) { backorder { id } } }',
    "setBackorderPreferences": "mutation($backorder: ID!) { setBackorderPreferences(input: {backorderId: "
                               '$backorder, cancelIfNotBy: "2026-12-31"}) { backorder { id } } }',
    "declineSubstitute": "mutation($backorder: ID!) { declineSubstitute(input: {backorderId: $backorder, "
                         'substituteSku: "CUP"}) { backorder { id } } }',
    "customerPortalLink": 'mutation { customerPortalLink(input: {email: "ann@example.com"}) { url } }',
    "updateNotificationPreferences": "mutation { updateNotificationPreferences(input: {bySms: true, "
                                     'customerEmail: "ann@example.com"}) { preferences { bySms } } }',
    "retryNotification": "mutation($notification: ID!) { retryNotification(input: {id: $notification}) "
                         "{ notification { id } } }",
    "offerSubstitute": "mutation($backorder: ID!) { offerSubstitute(input: {backorderId: $backorder, "
                       'substituteSku: "CUP"}) { backorder { id } } }',
    "offerGoodwill": "mutation($backorder: ID!) { offerGoodwill(input: {backorderId: $backorder, "
                     'discountCode: "FREE", note: "n"}) { backorder { id } } }',
    "createApiToken": 'mutation { createApiToken(input: {name: "evil", role: ADMIN}) { secret } }',
    "revokeApiToken": "mutation($token: ID!) { revokeApiToken(input: {id: $token}) { revokedId } }",
    "createWebhookEndpoint": 'mutation { createWebhookEndpoint(input: {url: "https://example.com/hook", '
                             "events: [ORDER_PLACED]}) { secret } }",
    "updateWebhookEndpoint": "mutation($endpoint: ID!) { updateWebhookEndpoint(input: {id: $endpoint, "
                             "enabled: false}) { webhookEndpoint { id } } }",
    "deleteWebhookEndpoint": "mutation($endpoint: ID!) { deleteWebhookEndpoint(input: {id: $endpoint}) "
                             "{ deletedId } }",
    "redeliverWebhook": "mutation($delivery: ID!) { redeliverWebhook(input: {deliveryId: $delivery}) "
                        "{ delivery { id } } }",
}

REFUSED = {"UNAUTHENTICATED", "FORBIDDEN"}  # staff-only fields say FORBIDDEN to anyone not staff
SUBSCRIPTION = "subscription { backorderUpdates { kind } }"


async def _world(api):
    """A product with a substitute, an order with a backorder, an open purchase order: real IDs for arguments."""
    await s.product(api.desk, "CUP", stock=5)
    await s.product(api.desk, "MUG", stock=1, substitutes=["CUP"])
    placed = await s.order(api.desk, "ann@example.com", ("MUG", 3))
    po = await s.purchase_order(api.desk, date(2026, 3, 20), ("MUG", 10))
    return {"order": s.order_id(placed), "number": placed.number, "backorder": s.backorder_ids(placed)[0],
            "po": encode_id("PurchaseOrder", po.id), "supplier": encode_id("Supplier", po.supplier_id),
            "notification": encode_id("Notification", "0"), "token": encode_id("ApiToken", "0"),
            "endpoint": encode_id("WebhookEndpoint", "0"), "delivery": encode_id("WebhookDelivery", "0")}


def test_every_query_and_mutation_is_in_the_table_or_public():
    sdl = graphql.build_schema(str(build_schema()))
    fields = set(sdl.query_type.fields) | set(sdl.mutation_type.fields)
    assert fields == set(QUERIES) | set(MUTATIONS) | PUBLIC, "a new field needs a row here (or a place in PUBLIC)"


async def test_without_a_token_every_query_and_mutation_is_refused_and_nothing_changes(api):
    variables = await _world(api)
    before = await s.state(api)
    wrong = []
    for name, document in {**QUERIES, **MUTATIONS}.items():
        body = await api.gql(document, variables, token=None, expect_errors=True)
        errors = body.get("errors") or []
        refused = [e for e in errors if e.get("extensions", {}).get("code") in REFUSED]
        leaked = (body.get("data") or {}).get(name)
        if not refused or leaked is not None:
            wrong.append((name, body))
    assert wrong == []
    assert await s.state(api) == before


async def test_a_bad_or_revoked_token_is_refused(api):
    await s.product(api.desk, "MUG", stock=2)
    info, secret = await create_token("leaver", "agent")
    assert (await api.gql("{ viewer { name } }", token=secret))["data"]["viewer"] == {"name": "leaver"}
    await revoke_token(info.id)
    for token in ["bd_not-a-real-token", "not even our prefix", secret, "bd_" + "x" * 300]:
        for document in ["{ viewer { name } }", "{ kpis { orders } }", MUTATIONS["placeOrder"]]:
            body = await api.gql(document, token=token, expect_errors=True)
            assert body["data"] is None or all(v is None for v in body["data"].values()), (token, body)
            assert [e["extensions"]["code"] in REFUSED for e in body["errors"]] == [True], (token, body)
    other_schemes = [f"Basic {api.token}", api.token, f"Token {api.token}"]
    for header in other_schemes:
        response = await api.client.post(f"{api.base}/graphql", json={"query": "{ viewer { name } }"},
                                         headers={"Authorization": header})
        assert response.json()["data"] is None, header
    assert (await s.state(api))["orders"]["totalCount"] == 0


@pytest.mark.parametrize("role", ["agent", "admin"])
async def test_agent_and_admin_tokens_work(api, role):
    viewer = await api.gql("{ viewer { name role customerEmail } }", token=role)
    assert viewer["data"]["viewer"] == {"name": f"test {role}", "role": role, "customerEmail": None}
    made = await api.gql('mutation { upsertProduct(input: {sku: "MUG", name: "Mug", price: {amount: "9.50"}}) '
                         "{ product { sku } userErrors { code } } }", token=role)
    assert made["data"]["upsertProduct"] == {"product": {"sku": "MUG"}, "userErrors": []}
    assert (await api.gql("{ kpis { orders } products { totalCount } }", token=role))["data"] == {
        "kpis": {"orders": 0}, "products": {"totalCount": 1}}


async def test_a_portal_customer_signed_in_with_an_order_sees_that_order_only_and_no_staff_fields(api):
    await s.product(api.desk, "MUG")
    first = await s.order(api.desk, "ann@example.com", ("MUG", 1))
    await s.order(api.desk, "ann@example.com", ("MUG", 2))  # her other order: not opened by this sign-in
    async with httpx.AsyncClient(base_url=api.base) as customer:  # its own cookie jar

        async def gql(query, headers=None):
            return (await customer.post("/graphql", json={"query": query, "variables": {"n": first.number}},
                                        headers=headers)).json()

        signed_in = await gql("""mutation($n: String!) { signInWithOrder(input: {orderNumber: $n,
            email: "ann@example.com"}) { viewer { role customerEmail } userErrors { code } } }""")
        assert signed_in["data"]["signInWithOrder"]["viewer"] == {"role": "customer",
                                                                  "customerEmail": "ann@example.com"}
        staff_only = await gql("{ kpis { orders } }")
        assert staff_only["data"] is None
        assert [(e["message"], e["extensions"]["code"]) for e in staff_only["errors"]] == [
            ("This needs an agent or admin token.", "FORBIDDEN")]
        for page_size in [1, 50]:
            mine = await gql(f"""{{ orders(first: {page_size}) {{ totalCount pageInfo {{ hasNextPage }}
                nodes {{ number }} }} backorders {{ totalCount nodes {{ order {{ number }} }} }} }}""")
            assert mine["data"] == {
                "orders": {"totalCount": 1, "pageInfo": {"hasNextPage": False}, "nodes": [{"number": first.number}]},
                "backorders": {"totalCount": 1, "nodes": [{"order": {"number": first.number}}]}}, page_size
        # the session cookie does not work from another site's pages (CSRF)
        for foreign in [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}]:
            assert (await gql("{ viewer { role } }", foreign))["data"] is None, foreign


# -- websocket --------------------------------------------------------------------------------
async def test_a_subscription_without_a_valid_token_gets_an_error_and_no_events(api):
    await s.product(api.desk, "MUG")
    sockets = []
    listeners = api.bus.subscribers
    try:
        for payload in [{}, {"authorization": "Bearer bd_not-a-real-token"}, {"authorization": 42}]:
            ws = await api.ws().__aenter__()
            sockets.append(ws)
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
            refused = json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))
            assert refused["type"] == "error", (payload, refused)
            assert [e["extensions"]["code"] for e in refused["payload"]] == ["UNAUTHENTICATED"]
        # events reach a socket only through the bus: none of the refused ones subscribed to it
        assert api.bus.subscribers == listeners
        # and none is sent what a listener gets: once the agent's subscription has the order's events, each
        # refused socket's next message is the answer to a ping sent after them, not an update
        agent = await s.subscribe(api, SUBSCRIPTION)
        try:
            await s.order(api.desk, "ann@example.com", ("MUG", 2))
            assert await s.updates_until(agent, lambda got: len(got) >= 1)
        finally:
            await agent.close()
        for ws in sockets:
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "pong"
    finally:
        for ws in sockets:
            await ws.close()


async def test_a_foreign_origin_is_refused_at_connect(api):
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with api.ws(origin="https://evil.example") as ws:
            await ws.send(json.dumps({"type": "connection_init",
                                      "payload": {"authorization": f"Bearer {api.token}"}}))
            await asyncio.wait_for(ws.recv(), PATIENCE)
    assert refused.value.response.status_code == 403
    async with api.ws(origin=api.base) as ws:  # our own pages may connect
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {api.token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "connection_ack"


@pytest.mark.api_settings(allowed_origins=("https://shop.example",))
async def test_allowed_origins_may_connect(api):
    async with api.ws(origin="https://shop.example") as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {api.token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "connection_ack"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with api.ws(origin="https://evil.example") as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            await asyncio.wait_for(ws.recv(), PATIENCE)


async def test_graphiql_headers_tab_spelling_authenticates_the_websocket(api):
    # GraphiQL sends its Headers tab as the connection_init payload, with the header's own capitals
    await s.product(api.desk, "MUG")
    async with api.ws(origin=api.base) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {api.token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "connection_ack"
        before = api.bus.subscribers
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
        await s.listening(api, before)
        await s.order(api.desk, "ann@example.com", ("MUG", 2))
        event = json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))
        assert event["type"] == "next", event


async def test_only_an_admin_manages_api_tokens(api):
    # an agent may not list, create or revoke tokens
    for document in ["{ apiTokens { name } }", MUTATIONS["createApiToken"]]:
        body = await api.gql(document, token="agent", expect_errors=True)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
    # an admin creates one, whose secret works once shown, lists it, and revokes it
    made = (await api.gql('mutation { createApiToken(input: {name: "Warehouse scanner", role: AGENT}) '
                          "{ apiToken { id name role lastUsedAt } secret userErrors { code } } }",
                          token="admin"))["data"]["createApiToken"]
    assert made["userErrors"] == [] and made["apiToken"]["role"] == "AGENT" and made["apiToken"]["lastUsedAt"] is None
    secret = made["secret"]
    assert (await api.gql("{ viewer { name role } }", token=secret))["data"]["viewer"] == {
        "name": "Warehouse scanner", "role": "agent"}
    listed = (await api.gql("{ apiTokens { id name lastUsedAt } }", token="admin"))["data"]["apiTokens"]
    [scanner] = [t for t in listed if t["id"] == made["apiToken"]["id"]]
    assert scanner["lastUsedAt"] is not None  # it was just used
    revoke = "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { revokedId userErrors { code field } } }"
    done = (await api.gql(revoke, {"id": made["apiToken"]["id"]}, token="admin"))["data"]["revokeApiToken"]
    assert done == {"revokedId": made["apiToken"]["id"], "userErrors": []}
    assert (await api.gql("{ viewer { name } }", token=secret, expect_errors=True))["data"] is None
    again = (await api.gql(revoke, {"id": made["apiToken"]["id"]}, token="admin"))["data"]["revokeApiToken"]
    assert again == {"revokedId": None, "userErrors": [{"code": "NOT_FOUND", "field": "id"}]}
    bad = (await api.gql('mutation { createApiToken(input: {name: "  "}) { secret userErrors { code field } } }',
                         token="admin"))["data"]["createApiToken"]
    assert bad == {"secret": None, "userErrors": [{"code": "INVALID_INPUT", "field": "name"}]}


async def test_revoking_a_token_ends_its_open_subscriptions(api):
    # given an integration's token with a subscription open
    await s.product(api.desk, "MUG")
    made = (await api.gql('mutation { createApiToken(input: {name: "Feed"}) { apiToken { id } secret } }',
                          token="admin"))["data"]["createApiToken"]
    async with api.ws(origin=api.base) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {made['secret']}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "connection_ack"
        before = api.bus.subscribers
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
        await s.listening(api, before)
        await s.order(api.desk, "ann@example.com", ("MUG", 1))
        assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "next"
        # when an admin revokes it
        await api.gql("mutation($id: ID!) { revokeApiToken(input: {id: $id}) { revokedId } }",
                      {"id": made["apiToken"]["id"]}, token="admin")
        await s.order(api.desk, "bob@example.com", ("MUG", 1))
        # then the subscription ends with an error instead of streaming the next customer's order
        ended = json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))
        assert ended["payload"]["data"] is None, ended
        assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == ["UNAUTHENTICATED"], ended
