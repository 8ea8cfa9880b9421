"""Helpers for the API tests: data made quickly through the desk (the use cases the API calls), global
IDs, one query that reads back everything a mutation could have changed, and reading a subscription."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from api.ids import encode_id
from domain import model as m
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from tests.waiting import PATIENCE, eventually

if TYPE_CHECKING:
    from tests.api.conftest import Api


async def product(desk: BackorderDesk, sku: str, *, stock: int = 0, price: str = "10.00",
                  policy: m.BackorderPolicy = m.BackorderPolicy.ALLOW, substitutes: Sequence[str] = (),
                  limit: int | None = None, supplier_id: str | None = None) -> m.Product:
    made = await desk.upsert_product(ProductInput(
        sku=sku, name=f"Product {sku}", price=Decimal(price), backorder_policy=policy, backorder_limit=limit,
        substitutes=list(substitutes), supplier_id=supplier_id))
    if stock:
        await desk.receive_stock(sku, stock)
    return made


async def order(desk: BackorderDesk, email: str, *lines: tuple[str, int],
                channel: m.Channel = m.Channel.ONLINE, ship_complete: bool = False) -> m.Order:
    return await desk.place_order(CustomerDetails(email), channel, [LineRequest(sku, qty) for sku, qty in lines],
                                  ship_complete=ship_complete)


async def purchase_order(desk: BackorderDesk, expected: date, *lines: tuple[str, int],
                         supplier: str = "Acme") -> m.PurchaseOrder:
    made = await desk.upsert_supplier(None, supplier, 20)
    return await desk.create_purchase_order(made.id, expected, [LineRequest(sku, qty) for sku, qty in lines])


def order_id(o: m.Order) -> str:
    return encode_id("Order", o.id)


def backorder_ids(o: m.Order) -> list[str]:
    """The global IDs of the order's backorders, in line order."""
    return [encode_id("Backorder", line.backorder_id) for line in o.lines if line.backorder_id]


STATE = """{
  products(first: 200) { totalCount nodes { sku backorderPolicy substitutes { sku }
    stock { location onHand allocated safetyStock } availableToPromise unitsBackordered inbound { quantity } } }
  orders(first: 200) { totalCount nodes { id shipComplete lines { sku quantity allocatedQuantity shippedQuantity } } }
  backorders(first: 200) { totalCount nodes { id status quantity allocatedQuantity shippedQuantity
    cancelledQuantity substitutedQuantity queuePosition priority eta { date source } history { kind newValue } } }
  purchaseOrders(first: 200) { totalCount nodes { id status expectedDate lines { sku quantity receivedQuantity } } }
  kpis { openBackorders unitsWaiting unitsAllocatedNotShipped orders ordersWithBackorders fillRate }
  webhookEndpoints { id url events description enabled }
}"""


async def state(api: Api) -> dict[str, Any]:
    """Everything a mutation could have written, as the API shows it."""
    return (await api.gql(STATE))["data"]


async def subscribe(api: Api, query: str, variables: dict[str, Any] | None = None, token: str = "agent") -> Any:
    """A subscription that is listening: the server has subscribed it to the bus before this returns."""
    before = api.bus.subscribers
    ws = await api.subscribe(query, variables, token)
    try:
        await listening(api, before)
    except AssertionError:
        await ws.close()
        raise
    return ws


async def listening(api: Api, before: int) -> None:
    """Returns once the bus has more subscribers than `before` (a subscription sent since is listening), instead
    of sleeping and hoping it is."""
    await eventually(lambda: api.bus.subscribers > before, what="the subscription reaches the event bus")


async def updates_until(ws: Any, done: Any, field: str = "backorderUpdates") -> list[dict[str, Any]]:
    """The updates sent until `done(updates)` holds: waits for what should arrive rather than for a silence
    (which a slow server would fake). Fails if it does not hold within 10 seconds."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while not done(out):
            message = json.loads(await ws.recv())
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            out.append(message["payload"]["data"][field])
    return out


async def received(api: Api, ws: Any, field: str = "backorderUpdates", idle: float = 0.5) -> list[dict[str, Any]]:
    """The payloads sent until the socket stays quiet for `idle` seconds, once the live updates' hub has sent all
    it was offered: a server slowed by a loaded machine delays the updates; without that wait its silence came
    first, and the test read none."""
    if api.hub is not None:
        await eventually(lambda: api.hub.idle, what="the live updates' hub sends what it was offered")
    out = []
    while True:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), idle))
        except TimeoutError:
            return out
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        out.append(message["payload"]["data"][field])


async def ended(ws: Any) -> None:
    """The socket's next message ends the subscription (its session is over): no update came before it. It
    waits for that message rather than for a silence, which a merely slow server would also give."""
    message = json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))
    assert message["type"] == "next" and message["payload"]["data"] is None, message
    assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["UNAUTHENTICATED"], message
