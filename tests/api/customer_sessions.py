"""Customers for the API tests: a customer's own browser session (cookie jar, same-origin requests, live
updates over the portal's websocket) and the `customers` fixture that makes them, the GraphQL documents they
send, and a shop to try them on: Ann with two orders and Bob with one, all waiting for MUG, with an agent's
actions that write causes meant for agents only. Shared by the customer-isolation tests and others."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import httpx
import pytest
import websockets

from api.ids import decode_id
from domain.model import Channel, CustomerTier
from domain.services import CustomerDetails, LineRequest
from tests.api import support as s
from tests.waiting import PATIENCE, eventually

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
        assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": UPDATES, "variables": variables or {}}}))
        try:
            await eventually(lambda: self.api.bus.subscribers > before, what="the subscription reaches the event bus")
        except AssertionError:
            await ws.close()
            raise
        return ws

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

