"""The README's five-minute tour, as written: its GraphQL operations, read from README.md, run in order on the
demo data (`serve --demo`), over HTTP and a websocket opened the way GraphiQL opens it. When the README or
the demo drifts from what the service does, this fails."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, timedelta
from pathlib import Path

from api.demo import TOUR_SKU, load_demo
from tests.api import support as s
from tests.waiting import PATIENCE

README = Path(__file__).resolve().parents[2] / "README.md"


def tour_operations() -> list[str]:
    """Every operation in the tour's ```graphql blocks, one per string (a block may hold several)."""
    text = README.read_text()
    tour = text.split("## Five-minute tour", 1)[1].split("\n## ", 1)[0]
    operations = []
    for block in re.findall(r"```graphql\n(.*?)```", tour, re.S):
        starts = [m.start() for m in re.finditer(r"^(query|mutation|subscription)\b", block, re.M)]
        operations += [block[a:b].strip() for a, b in zip(starts, [*starts[1:], len(block)], strict=True)]
    return operations


def test_the_tour_is_where_the_test_expects_it():
    kinds = [op.split(None, 1)[0].split("(")[0] for op in tour_operations()]
    assert kinds == ["mutation", "subscription", "query", "mutation", "mutation", "mutation", "query", "query"]


async def test_the_readme_tour_on_the_demo_data(api):
    await load_demo(api.desk)
    place, subscription, find_po, move_date, receive, cancel, explore, kpis = tour_operations()
    assert f'sku: "{TOUR_SKU}"' in place

    # an agent takes a phone order for 5 of a product with 3 in stock
    first = (await api.gql(place))["data"]["placeOrder"]
    assert first["userErrors"] == []
    assert first["order"]["lines"][0]["allocatedQuantity"] == 3
    [b1] = first["backorders"]
    assert (b1["status"], b1["backorderedQuantity"], b1["queuePosition"]) == ("WAITING", 2, 1)
    assert (b1["eta"]["confidence"], b1["eta"]["source"], b1["eta"]["purchaseOrderNumber"]) == (
        "HIGH", "PURCHASE_ORDER", "PO-DEMO-1001")
    assert {sub["product"]["sku"] for sub in b1["substitutes"]} == {"21733", "22178"}

    # a second tab watches the queue; GraphiQL sends its Headers tab as the connection_init payload
    async with api.ws(origin=api.base) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {api.token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "connection_ack"
        before = api.bus.subscribers
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": subscription}}))
        await s.listening(api, before)

        # a second order for 4 queues behind: the PO covers 2 of its units, the rest comes from lead time
        second_place = place.replace("zoe@example.com", "sam@example.com").replace("quantity: 5", "quantity: 4")
        [b2] = (await api.gql(second_place))["data"]["placeOrder"]["backorders"]
        assert b2["queuePosition"] == 2
        assert (b2["eta"]["source"], b2["eta"]["confidence"]) == ("LEAD_TIME", "MEDIUM")

        [po] = (await api.gql(find_po))["data"]["purchaseOrders"]["nodes"]
        new_date = date.fromisoformat(po["expectedDate"]) + timedelta(days=4)
        moved = (await api.gql(move_date, {"po": po["id"], "date": new_date.isoformat()}))["data"]
        assert moved["updatePurchaseOrder"] == {"purchaseOrder": {"expectedDate": new_date.isoformat()},
                                                "userErrors": []}
        received = (await api.gql(receive, {"po": po["id"]}))["data"]["receivePurchaseOrder"]
        assert received["purchaseOrder"]["status"] == "RECEIVED"
        cancelled = (await api.gql(cancel, {"b": b1["id"]}))["data"]["cancelBackorder"]
        assert cancelled == {"backorder": {"status": "CANCELLED", "cancelledQuantity": 2}, "userErrors": []}

        def handed_on(got: list[dict]) -> bool:  # the first is cancelled and the second holds its units
            b2_now = [u["backorder"]["status"] for u in got if u["backorder"]["id"] == b2["id"]]
            return any(u["kind"] == "CANCELLED" for u in got) and b2_now[-1:] == ["ALLOCATED"]

        updates = await s.updates_until(ws, handed_on)

    # every step streamed: the second backorder created, the first one's ETA moved, the PO's units allocated
    # in queue order, the cancelled units handed on
    by_kind = [(u["kind"], u["backorder"]["id"]) for u in updates]
    assert ("CREATED", b2["id"]) in by_kind
    assert ("ETA_CHANGED", b1["id"]) in by_kind
    assert by_kind.index(("ALLOCATED", b1["id"])) < by_kind.index(("ALLOCATED", b2["id"]))
    assert ("CANCELLED", b1["id"]) in by_kind
    assert [u["backorder"]["status"] for u in updates if u["backorder"]["id"] == b2["id"]][-1] == "ALLOCATED"

    listed = (await api.gql(explore))["data"]["backorders"]
    assert listed["totalCount"] >= 3 and all(n["history"] for n in listed["nodes"])
    # the README explains the gap between the two figures with the ALLOCATED backorders, and quotes them
    open_backorders = (await api.gql(kpis))["data"]["kpis"]["openBackorders"]
    allocated = (await api.gql('query { backorders(filter: {status: [ALLOCATED]}) { totalCount } }'))
    assert open_backorders == listed["totalCount"] + allocated["data"]["backorders"]["totalCount"]
    quoted = f"{open_backorders} = {listed['totalCount']} + {allocated['data']['backorders']['totalCount']}"
    assert f"({quoted} after the tour on the demo data)" in README.read_text()


def test_the_tour_pastes_into_graphiql_as_one_document():
    """Several operations in one document must each have a name (GraphQL's LoneAnonymousOperation rule),
    a unique one; and the document must be valid against the schema."""
    from graphql import parse, validate

    from api.schema import build_schema

    document = parse("\n\n".join(tour_operations()))
    names = [op.name.value for op in document.definitions if getattr(op, "name", None)]
    assert len(names) == len(document.definitions) == len(set(names))
    errors = validate(build_schema()._schema, document)
    assert errors == [], errors
