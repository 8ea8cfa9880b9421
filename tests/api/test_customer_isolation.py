"""Customers over real HTTP and websockets with their own session cookies: a customer reaches nothing of
another customer's by ID or filter, a sign-in with an order number opens that order and nothing account-wide,
customers never read the shop's internals (priorities, agents, their reasons, purchase orders, stock, tiers),
and live updates stop when the session ends."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import websockets

from api.context import PortalSession
from api.ids import decode_id, encode_id
from api.portal import links_sent
from domain.model import Channel, CustomerTier
from domain.services import CustomerDetails, LineRequest
from domain.store import portal as portal_store
from notifications.wording import CUSTOMER_CANCELS, CUSTOMER_CAUSES, NEUTRAL_CAUSES, PO_CHANGED, PO_DATE_CHANGED
from tests.api import support as s

ANN, BOB = "ann@example.com", "bob@example.com"
AGENT_SECRETS = ["test agent", "VIP complaint", "fraud check", "PO-SECRET-7", "shrinkage at dock 4"]
LINK = """mutation($email: String!, $order: ID) { customerPortalLink(input: {email: $email, orderId: $order}) {
  url userErrors { code } } }"""
REDEEM = """mutation($token: String!) { redeemPortalLink(input: {token: $token}) {
  viewer { role customerEmail orderOnly } userErrors { code } } }"""
SIGN_IN_WITH_ORDER = """mutation($number: String!, $email: String!) { signInWithOrder(input: {orderNumber: $number,
  email: $email}) { viewer { role customerEmail orderOnly } userErrors { code } } }"""
PREFERENCES = """mutation($input: UpdateNotificationPreferencesInput!) { updateNotificationPreferences(input: $input) {
  preferences { bySms timezone } userErrors { field code } } }"""
ANN_PREFERENCES = """{ customerPreferences(email: "ann@example.com") { byEmail bySms phone timezone language } }"""
UPDATES = """subscription($filter: BackorderUpdatesFilter) { backorderUpdates(filter: $filter) {
  kind message backorderId backorder { id history { kind cause } } } }"""
SEEN_BY_CUSTOMERS = """{ backorders { nodes { id history { kind oldValue newValue cause }
  eta { date source confidence purchaseOrderNumber }
  substitutes { product { sku } availableQuantity available }
  order { customer { email tier } } } } }"""


class Customer:
    """A browser of one customer: its own cookie jar, same-origin requests."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.http = httpx.AsyncClient(base_url=api.base, timeout=10)

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        return response.json()

    async def sign_in_with_link(self, email: str, order_id: str | None = None) -> dict[str, Any]:
        made = await self.api.gql(LINK, {"email": email, "order": order_id})
        url = made["data"]["customerPortalLink"]["url"]
        redeemed = (await self.gql(REDEEM, {"token": url.split("token=", 1)[1]}))["data"]["redeemPortalLink"]
        assert redeemed["userErrors"] == [], redeemed
        return redeemed["viewer"]

    async def sign_in_with_order(self, number: str, email: str) -> dict[str, Any]:
        signed = (await self.gql(SIGN_IN_WITH_ORDER, {"number": number, "email": email}))["data"]["signInWithOrder"]
        assert signed["userErrors"] == [], signed
        return signed["viewer"]

    async def subscribe(self, variables: dict[str, Any] | None = None) -> Any:
        """A live-updates socket as the portal opens it: the session cookie, our own origin."""
        before = self.api.bus.subscribers
        ws = await websockets.connect(
            f"{self.api.base.replace('http', 'ws')}/graphql", subprotocols=["graphql-transport-ws"],
            additional_headers={"Cookie": f"bd_session={self.http.cookies['bd_session']}",
                                "Origin": self.api.base})
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": UPDATES, "variables": variables or {}}}))
        for _ in range(250):
            if self.api.bus.subscribers > before:
                return ws
            await asyncio.sleep(0.02)
        await ws.close()
        raise AssertionError("the subscription never reached the event bus")

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def customers(api):
    made: list[Customer] = []

    def make() -> Customer:
        made.append(Customer(api))
        return made[-1]

    yield make
    for customer in made:
        await customer.close()


async def _shop(api) -> dict[str, Any]:
    """Given MUG out of stock (a dearer CUP in stock instead), Ann with two orders and Bob with one; an agent
    has reprioritised Ann's backorder and cancelled one of its units, and a purchase order is on its way."""
    desk = api.desk
    await s.product(desk, "CUP", stock=10, price="12.00")
    await s.product(desk, "MUG", price="10.00", substitutes=["CUP"])
    first = await desk.place_order(CustomerDetails(ANN, "Ann", "+447700900123", CustomerTier.VIP), Channel.ONLINE,
                                   [LineRequest("MUG", 3)])
    second = await s.order(desk, ANN, ("MUG", 1))
    bob = await s.order(desk, BOB, ("MUG", 2))
    [ann_backorder] = s.backorder_ids(first)
    po = await s.purchase_order(desk, date(2026, 3, 20), ("MUG", 2))
    return {"first": first, "second": second, "bob": bob, "ann_backorder": ann_backorder,
            "ann_other_backorder": s.backorder_ids(second)[0], "bob_backorder": s.backorder_ids(bob)[0],
            "po": po}


def _key(backorder: str) -> str:
    return decode_id("Backorder", backorder)


async def _agent_acts_on(api, backorder: str) -> None:
    """The things agents do that write causes meant for agents."""
    reprioritised = await api.gql("""mutation($id: ID!) { reprioritizeBackorder(input: {id: $id, priority: 50,
        reason: "VIP complaint"}) { userErrors { code } } }""", {"id": backorder})
    assert reprioritised["data"]["reprioritizeBackorder"]["userErrors"] == []
    cancelled = await api.gql("""mutation($id: ID!) { cancelBackorder(input: {id: $id, quantity: 1,
        reason: "fraud check"}) { userErrors { code } } }""", {"id": backorder})
    assert cancelled["data"]["cancelBackorder"]["userErrors"] == []
    supplier = await api.desk.upsert_supplier(None, "Acme", 20)
    await api.desk.create_purchase_order(supplier.id, date(2026, 3, 5), [LineRequest("MUG", 1)], number="PO-SECRET-7")
    adjusted = await api.gql("""mutation { adjustStock(input: {sku: "MUG", delta: 1, reason: "shrinkage at dock 4"})
        { userErrors { code } } }""")
    assert adjusted["data"]["adjustStock"]["userErrors"] == []


async def _everything(api) -> dict[str, Any]:
    return {**await s.state(api), **(await api.gql(ANN_PREFERENCES))["data"]}


# -- one customer cannot reach another's ---------------------------------------------------------
async def test_bob_reaches_nothing_of_ann_by_her_ids_or_filters_and_her_data_is_unchanged(api, customers):
    # given Ann's orders and backorders, and Bob signed in with a link
    shop = await _shop(api)
    ann_order, ann_backorder = s.order_id(shop["first"]), shop["ann_backorder"]
    ann_other_order = s.order_id(shop["second"])
    ann = customers()
    await ann.sign_in_with_link(ANN)
    assert (await ann.gql(PREFERENCES, {"input": {"timezone": "Europe/London"}}))["data"][
        "updateNotificationPreferences"]["userErrors"] == []
    bob = customers()
    await bob.sign_in_with_link(BOB)
    before = await _everything(api)

    # when Bob reads with Ann's IDs and filters: nothing of hers
    reads = await bob.gql("""query($order: ID!, $backorder: ID!, $number: String!) {
        order(id: $order) { number } backorder(id: $backorder) { id }
        byEmail: orders(filter: {customerEmail: "ann@example.com"}) { totalCount nodes { number } }
        byNumber: orders(filter: {number: $number}) { totalCount nodes { number } }
        backordersByEmail: backorders(filter: {customerEmail: "ann@example.com"}) { totalCount nodes { id } }
        backordersByOrder: backorders(filter: {orderId: $order}) { totalCount nodes { id } } }""",
                          {"order": ann_order, "backorder": ann_backorder, "number": shop["first"].number})
    assert "errors" not in reads, reads
    assert reads["data"] == {
        "order": None, "backorder": None,
        "byEmail": {"totalCount": 1, "nodes": [{"number": shop["bob"].number}]},
        "byNumber": {"totalCount": 0, "nodes": []},
        "backordersByEmail": {"totalCount": 1, "nodes": [{"id": shop["bob_backorder"]}]},
        "backordersByOrder": {"totalCount": 0, "nodes": []}}

    # when Bob changes things with Ann's IDs: "not found", worded as for an ID that never existed
    changes = {
        "cancelBackorder": ("mutation($id: ID!) { cancelBackorder(input: {id: $id}) { backorder { id } "
                            "userErrors { field message code } } }", "Backorder", ann_backorder),
        "acceptSubstitute": ('mutation($id: ID!) { acceptSubstitute(input: {backorderId: $id, substituteSku: "CUP"}) '
                             "{ backorder { id } orderLine { sku } userErrors { field message code } } }",
                             "Backorder", ann_backorder),
        "setShippingPreference": ("mutation($id: ID!) { setShippingPreference(input: {orderId: $id, "
                                  "shipComplete: true}) { order { id } userErrors { field message code } } }",
                                  "Order", ann_order),
    }
    for name, (document, kind, ann_id) in changes.items():
        never_was = encode_id(kind, "0" * 26)
        refused = (await bob.gql(document, {"id": ann_id}))["data"][name]
        unknown = (await bob.gql(document, {"id": never_was}))["data"][name]
        [error] = refused["userErrors"]
        assert error["code"] == f"{kind.upper()}_NOT_FOUND", (name, refused)
        assert all(v is None for k, v in refused.items() if k != "userErrors"), (name, refused)
        assert error["message"].replace(ann_id, "?") == unknown["userErrors"][0]["message"].replace(never_was, "?")
    # ...and preferences: a customer's input names no one else; Bob changes only his own
    mine = (await bob.gql(PREFERENCES, {"input": {"bySms": False, "timezone": "Asia/Tokyo",
                                                  "customerEmail": ANN}}))["data"]["updateNotificationPreferences"]
    assert mine == {"preferences": {"bySms": False, "timezone": "Asia/Tokyo"}, "userErrors": []}
    # staff-only fields that take Ann's IDs are refused outright
    staff_only = {
        "orderByNumber": ("query($number: String!) { orderByNumber(number: $number) { id } }",
                          {"number": shop["first"].number}),
        "customerPreferences": (ANN_PREFERENCES, {}),
        "customerPortalLink": (LINK, {"email": ANN, "order": ann_other_order}),
        "reprioritizeBackorder": ("mutation($id: ID!) { reprioritizeBackorder(input: {id: $id, priority: -5, "
                                  'reason: "mine first"}) { backorder { id } } }', {"id": ann_backorder}),
        "offerSubstitute": ('mutation($id: ID!) { offerSubstitute(input: {backorderId: $id, substituteSku: "CUP"}) '
                            "{ backorder { id } } }", {"id": ann_backorder}),
        "shipAllocated": ("mutation($id: ID!) { shipAllocated(input: {orderId: $id}) { shipment { units } } }",
                          {"id": ann_order}),
    }
    for name, (document, variables) in staff_only.items():
        body = await bob.gql(document, variables)
        assert (body["data"] or {}).get(name) is None, (name, body)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], (name, body)

    # then nothing of Ann's changed, and her preferences are hers
    assert await _everything(api) == before
    assert before["customerPreferences"]["timezone"] == "Europe/London"


async def test_bob_gets_no_live_updates_of_anns_order_even_when_he_filters_on_it(api, customers):
    # given Bob listening with Ann's order as the filter and without one, and Ann listening
    shop = await _shop(api)
    ann, bob = customers(), customers()
    await ann.sign_in_with_link(ANN)
    await bob.sign_in_with_link(BOB)
    bob_on_ann = await bob.subscribe({"filter": {"orderId": s.order_id(shop["first"])}})
    bob_on_all = await bob.subscribe()
    ann_on_all = await ann.subscribe()
    try:
        # when Ann's backorders change (units arrive: hers come first)
        await api.desk.receive_stock("MUG", 4)
        ann_saw = await s.received(ann_on_all)
        bob_saw_on_ann = await s.received(bob_on_ann, idle=0.3)
        bob_saw = await s.received(bob_on_all, idle=0.3)
    finally:
        for ws in (bob_on_ann, bob_on_all, ann_on_all):
            await ws.close()
    # then Ann hears of it, and Bob of nothing but his own backorder
    assert {u["backorderId"] for u in ann_saw} == {shop["ann_backorder"], shop["ann_other_backorder"]}
    assert bob_saw_on_ann == []
    assert {u["backorderId"] for u in bob_saw} <= {shop["bob_backorder"]}


# -- one order, not the account --------------------------------------------------------------------
async def test_a_sign_in_with_an_order_number_opens_that_order_and_nothing_account_wide(api, customers):
    # given Ann signed in with her first order's number (and, to compare, with a link)
    shop = await _shop(api)
    await api.gql("""mutation { updateNotificationPreferences(input: {customerEmail: "ann@example.com",
        timezone: "Europe/London"}) { userErrors { code } } }""")
    before = await _everything(api)
    one_order = customers()
    viewer = await one_order.sign_in_with_order(shop["first"].number, ANN)
    assert viewer == {"role": "customer", "customerEmail": ANN, "orderOnly": True}

    # when she asks for her account or changes her preferences: a typed refusal
    account = await one_order.gql("{ myAccount { email preferences { timezone } } }")
    assert account["data"] == {"myAccount": None}
    assert [(e["extensions"]["code"], e["message"]) for e in account["errors"]] == [
        ("ACCOUNT_SIGN_IN_REQUIRED", "Signed in for one order: use a sign-in link to see or change your account.")]
    changed = await one_order.gql(PREFERENCES, {"input": {"bySms": True, "timezone": "Asia/Tokyo"}})
    assert changed["data"] is None
    assert [e["extensions"]["code"] for e in changed["errors"]] == ["ACCOUNT_SIGN_IN_REQUIRED"]
    # ...and her other order is as out of reach as anyone else's
    other = await one_order.gql("""query($order: ID!, $backorder: ID!) { order(id: $order) { id }
        backorder(id: $backorder) { id } orders { totalCount nodes { number customer { email phone tier } } }
        backorders(filter: {orderId: $order}) { totalCount } }""",
                                {"order": s.order_id(shop["second"]), "backorder": shop["ann_other_backorder"]})
    assert other["data"] == {"order": None, "backorder": None, "backorders": {"totalCount": 0},
                             "orders": {"totalCount": 1, "nodes": [
                                 {"number": shop["first"].number,
                                  "customer": {"email": ANN, "phone": None, "tier": None}}]}}
    shipping = """mutation($id: ID!) { setShippingPreference(input: {orderId: $id, shipComplete: true}) {
        order { shipComplete } userErrors { code } } }"""
    refused = (await one_order.gql(shipping, {"id": s.order_id(shop["second"])}))["data"]["setShippingPreference"]
    assert refused == {"order": None, "userErrors": [{"code": "ORDER_NOT_FOUND"}]}

    # then nothing changed; what belongs to the order itself she may still change
    assert await _everything(api) == before
    own = (await one_order.gql(shipping, {"id": s.order_id(shop["first"])}))["data"]["setShippingPreference"]
    assert own == {"order": {"shipComplete": True}, "userErrors": []}
    # a sign-in link opens the account
    account_holder = customers()
    assert (await account_holder.sign_in_with_link(ANN))["orderOnly"] is False
    mine = await account_holder.gql("{ myAccount { email preferences { timezone } } orders { totalCount } }")
    assert mine["data"] == {"myAccount": {"email": ANN, "preferences": {"timezone": "Europe/London"}},
                            "orders": {"totalCount": 2}}


async def test_a_link_limited_to_one_order_is_an_order_only_sign_in_too(api, customers):
    shop = await _shop(api)
    one_order = customers()
    assert (await one_order.sign_in_with_link(ANN, s.order_id(shop["first"])))["orderOnly"] is True
    refused = await one_order.gql("{ myAccount { email } }")
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["ACCOUNT_SIGN_IN_REQUIRED"]


# -- the shop's internals ----------------------------------------------------------------------------
async def test_customers_never_read_priorities_agents_their_reasons_or_stock_figures(api, customers):
    # given an agent reprioritised Ann's backorder, cancelled a unit of it, adjusted stock, added a PO
    shop = await _shop(api)
    await _agent_acts_on(api, shop["ann_backorder"])
    ann = customers()
    await ann.sign_in_with_link(ANN)

    # when Ann reads her backorders, and an agent reads the same
    seen = (await ann.gql(SEEN_BY_CUSTOMERS))["data"]["backorders"]["nodes"]
    staff = (await api.gql(SEEN_BY_CUSTOMERS.replace("backorders {", 'backorders(filter: {customerEmail: '
                                                                     '"ann@example.com"}) {', 1)))
    staff_seen = staff["data"]["backorders"]["nodes"]

    # then she sees the changes in plain words, no PRIORITY entries, no agents, reasons, POs or stock counts
    mine = next(b for b in seen if b["id"] == shop["ann_backorder"])
    assert [h["kind"] for h in mine["history"]] == [
        h["kind"] for h in next(b for b in staff_seen if b["id"] == shop["ann_backorder"])["history"]
        if h["kind"] != "PRIORITY"]
    text = json.dumps(seen)
    assert "PRIORITY" not in text
    assert [secret for secret in AGENT_SECRETS + [shop["bob"].number, shop["po"].number] if secret in text] == []
    assert ("QUANTITY", "3", "2", "1 cancelled") in [
        (h["kind"], h["oldValue"], h["newValue"], h["cause"]) for h in mine["history"]]
    wordings = [re.compile(re.sub(r"\\\{\w+\\\}", r"\\d+", re.escape(words)))
                for words in [*CUSTOMER_CAUSES.values(), *CUSTOMER_CANCELS.values(), *NEUTRAL_CAUSES.values(),
                              PO_CHANGED, PO_DATE_CHANGED]]
    causes = {h["cause"] for b in seen for h in b["history"]}
    assert [c for c in causes if not any(w.fullmatch(c) for w in wordings)] == []
    assert "stock count corrected" in causes, causes
    assert all(b["eta"]["purchaseOrderNumber"] is None for b in seen if b["eta"])
    assert {b["eta"]["source"] for b in seen if b["eta"]} == {"PURCHASE_ORDER"}  # still says "confirmed"
    assert {(o["availableQuantity"], o["available"]) for b in seen for o in b["substitutes"]} == {(None, True)}
    assert {b["order"]["customer"]["tier"] for b in seen} == {None}
    # while the staff see all of it
    staff_text = json.dumps(staff_seen)
    assert all(secret in staff_text for secret in ["test agent", "VIP complaint", "fraud check"])
    assert "PRIORITY" in staff_text and "PO-SECRET-7" in staff_text
    assert {o["availableQuantity"] for b in staff_seen for o in b["substitutes"]} == {10}
    assert {b["order"]["customer"]["tier"] for b in staff_seen} == {"VIP"}


async def _anns_updates_while_an_agent_acts(api, customers) -> list[dict[str, Any]]:
    """Ann watches her live updates while an agent reprioritises, cancels with a reason, adds a PO..."""
    shop = await _shop(api)
    ann = customers()
    await ann.sign_in_with_link(ANN)
    ws = await ann.subscribe()
    try:
        await _agent_acts_on(api, shop["ann_backorder"])
        return await s.received(ws)
    finally:
        await ws.close()


async def test_a_live_update_carries_the_customers_history_not_the_agents(api, customers):
    updates = await _anns_updates_while_an_agent_acts(api, customers)
    assert updates, "Ann's backorder changed: she hears of it"
    histories = json.dumps([u["backorder"]["history"] for u in updates])
    assert "PRIORITY" not in histories
    assert [secret for secret in AGENT_SECRETS if secret in histories] == []


async def test_a_live_update_message_names_no_agent_and_no_reason(api, customers):
    updates = await _anns_updates_while_an_agent_acts(api, customers)
    assert "REPRIORITIZED" not in {u["kind"] for u in updates}
    messages = json.dumps([u["message"] for u in updates])
    assert [secret for secret in AGENT_SECRETS if secret in messages] == []


# -- live updates end with the session -------------------------------------------------------------
async def test_live_updates_stop_after_sign_out_and_after_expiry(api, customers):
    shop = await _shop(api)
    ann = customers()
    await ann.sign_in_with_link(ANN)
    ws = await ann.subscribe()
    expiring = customers()
    await expiring.sign_in_with_link(ANN)
    later = await expiring.subscribe()
    try:
        await api.desk.cancel_backorder(_key(shop["ann_other_backorder"]), 1)
        assert await s.received(ws) and await s.received(later)  # listening, both

        # when Ann signs out (the socket stays open): nothing more reaches it
        assert (await ann.gql("mutation { signOut { ok } }"))["data"] == {"signOut": {"ok": True}}
        await api.desk.cancel_backorder(_key(shop["ann_backorder"]), 1)
        await s.ended(ws)
        assert await s.received(later)  # her other session still holds

        # when the other session's 12 hours are up: nothing more reaches that one either
        api.clock.advance(timedelta(hours=12, minutes=1))
        await api.desk.cancel_backorder(_key(shop["ann_backorder"]), 1)
        await s.ended(later)
    finally:
        await ws.close()
        await later.close()


async def test_a_session_ended_elsewhere_stops_live_updates_at_the_next_recheck(api, customers, monkeypatch):
    # given a session ended by another server process (straight in the database, not through this one)
    monkeypatch.setattr(PortalSession, "RECHECK_SECONDS", 0.0)
    shop = await _shop(api)
    ann = customers()
    await ann.sign_in_with_link(ANN)
    ws = await ann.subscribe()
    try:
        await portal_store.end_session(ann.http.cookies["bd_session"], api.clock.now())
        # the next event is not sent on the old answer: the session is re-read first, and nothing goes out
        await api.desk.cancel_backorder(_key(shop["ann_backorder"]), 1)
        await s.ended(ws)
    finally:
        await ws.close()


# -- asking for a link tells nothing -------------------------------------------------------------------
@pytest.mark.api_settings(link_minutes=20)
async def test_asking_for_a_link_answers_the_same_for_known_and_unknown_addresses(api, customers):
    await _shop(api)
    stranger = customers()
    ask = "mutation($email: String!) { requestPortalLink(input: {email: $email}) { message userErrors { code } } }"
    known = (await stranger.gql(ask, {"email": ANN}))["data"]["requestPortalLink"]
    unknown = (await stranger.gql(ask, {"email": "nobody@example.com"}))["data"]["requestPortalLink"]
    assert known == unknown == {
        "message": "If we know this address, we have sent it a sign-in link. It works once, for 20 minutes.",
        "userErrors": []}
    outbox = "{ notifications(filter: {channel: EMAIL}, first: 200) { nodes { kind recipient } } }"
    await links_sent()  # sent after the answer, so that the answer takes as long either way
    sent = [n for n in (await api.gql(outbox))["data"]["notifications"]["nodes"] if n["kind"] == "PORTAL_LINK"]
    assert sent == [{"kind": "PORTAL_LINK", "recipient": ANN}]


async def test_one_event_read_by_an_agent_and_by_customers_is_worded_for_each(api, customers):
    # given an agent, Ann signed in with a link and Ann signed in for one order, all on the same document
    shop = await _shop(api)
    ann, ann_order_only = customers(), customers()
    await ann.sign_in_with_link(ANN)
    await ann_order_only.sign_in_with_order(shop["first"].number, ANN)
    agent = await api.subscribe(UPDATES)
    sockets = [await ann.subscribe(), await ann_order_only.subscribe()]
    try:
        # when an agent cancels a unit with a reason
        await api.gql("""mutation($id: ID!) { cancelBackorder(input: {id: $id, quantity: 1,
            reason: "fraud check"}) { userErrors { code } } }""", {"id": shop["ann_backorder"]})
        seen_by_agent = json.dumps(await s.received(agent))
        seen_by_customers = [json.dumps(await s.received(ws)) for ws in sockets]
    finally:
        for ws in [agent, *sockets]:
            await ws.close()
    # then the agent reads the agent's words, and neither customer does (one shared result would show it)
    assert "fraud check" in seen_by_agent
    for seen in seen_by_customers:
        assert "CANCELLED" in seen and "fraud check" not in seen and "test agent" not in seen, seen
