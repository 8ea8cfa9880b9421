"""`backorderUpdates` filters: by order only that order's events, by SKU only that SKU's; a moved
purchase order arrives as ETA_CHANGED with the old and the new date."""

import asyncio
import json
from datetime import date

import pytest

from api.ids import encode_id
from tests.api import support as s
from tests.waiting import PATIENCE

# the consumers of committed events, with a long queue's change in either form (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("both_event_forms")

UPDATES = """subscription($filter: BackorderUpdatesFilter) { backorderUpdates(filter: $filter) {
  kind backorderId oldStatus newStatus oldEtaDate newEtaDate quantity message
  backorder { id sku status allocatedQuantity eta { date source } } } }"""
RECEIVE = """mutation($sku: String!, $qty: Int!) { receiveStock(input: {sku: $sku, quantity: $qty}) {
  userErrors { code } } }"""
MOVE_PO = """mutation($input: UpdatePurchaseOrderInput!) { updatePurchaseOrder(input: $input) {
  purchaseOrder { status expectedDate } userErrors { field message code } } }"""


async def test_an_order_filter_gets_only_that_orders_events(api):
    await s.product(api.desk, "MUG")
    ann = await s.order(api.desk, "ann@example.com", ("MUG", 2))
    bob = await s.order(api.desk, "bob@example.com", ("MUG", 3))
    [ann_backorder], [bob_backorder] = s.backorder_ids(ann), s.backorder_ids(bob)
    ws = await s.subscribe(api, UPDATES, {"filter": {"orderId": s.order_id(ann)}})
    try:
        await api.gql(RECEIVE, {"sku": "MUG", "qty": 5})  # both are served
        await api.gql("""mutation($id: ID!) { cancelBackorder(input: {id: $id}) { userErrors { code } } }""",
                      {"id": bob_backorder})
        updates = await s.received(api, ws)
    finally:
        await ws.close()
    assert {u["backorderId"] for u in updates} == {ann_backorder}
    assert {u["backorder"]["id"] for u in updates} == {ann_backorder}
    # served today: the ETA moves from the lead-time date to today
    assert [(u["kind"], u["oldStatus"], u["newStatus"], u["oldEtaDate"], u["newEtaDate"]) for u in updates] == [
        ("ALLOCATED", None, None, None, None), ("STATUS_CHANGED", "WAITING", "ALLOCATED", None, None),
        ("ETA_CHANGED", None, None, "2026-03-16", "2026-03-02")]
    assert updates[0]["quantity"] == 2 and updates[-1]["backorder"]["status"] == "ALLOCATED"


async def test_a_sku_filter_gets_only_that_skus_events(api):
    await s.product(api.desk, "MUG")
    await s.product(api.desk, "CUP")
    ann = await s.order(api.desk, "ann@example.com", ("MUG", 1), ("CUP", 1))
    mug, cup = s.backorder_ids(ann)
    ws = await s.subscribe(api, UPDATES, {"filter": {"sku": " CUP "}})
    try:
        await api.gql(RECEIVE, {"sku": "MUG", "qty": 1})
        await api.gql(RECEIVE, {"sku": "CUP", "qty": 1})
        await s.order(api.desk, "bob@example.com", ("MUG", 4))
        bob = await s.order(api.desk, "bob@example.com", ("CUP", 4))
        updates = await s.received(api, ws)
    finally:
        await ws.close()
    assert {u["backorder"]["sku"] for u in updates} == {"CUP"}
    assert [(u["kind"], u["backorderId"]) for u in updates] == [
        ("ALLOCATED", cup), ("STATUS_CHANGED", cup), ("ETA_CHANGED", cup), ("CREATED", s.backorder_ids(bob)[0])]
    assert mug not in {u["backorderId"] for u in updates}


async def test_a_moved_or_cancelled_purchase_order_arrives_as_eta_changed(api):
    await s.product(api.desk, "MUG")
    po = await s.purchase_order(api.desk, date(2026, 3, 10), ("MUG", 5))
    ann = await s.order(api.desk, "ann@example.com", ("MUG", 2))
    await s.product(api.desk, "CUP")
    await s.order(api.desk, "bob@example.com", ("CUP", 2))  # another SKU: not for this subscription
    po_id = encode_id("PurchaseOrder", po.id)
    ws = await s.subscribe(api, UPDATES, {"filter": {"sku": "MUG"}})
    try:
        moved = await api.gql(MOVE_PO, {"input": {"id": po_id, "expectedDate": "2026-03-20"}})
        assert moved["data"]["updatePurchaseOrder"]["userErrors"] == []
        [later] = await s.received(api, ws)
        await api.gql(MOVE_PO, {"input": {"id": po_id, "cancel": True}})
        [cancelled] = await s.received(api, ws)
    finally:
        await ws.close()
    [backorder] = s.backorder_ids(ann)
    assert later["kind"] == "ETA_CHANGED" and later["backorderId"] == backorder
    assert (later["oldEtaDate"], later["newEtaDate"]) == ("2026-03-10", "2026-03-20")
    assert later["backorder"]["eta"] == {"date": "2026-03-20", "source": "PURCHASE_ORDER"}
    assert "2026-03-10 → 2026-03-20" in later["message"]
    # without the purchase order the default lead time (14 days from 2 March) is all there is
    assert (cancelled["kind"], cancelled["oldEtaDate"], cancelled["newEtaDate"]) == (
        "ETA_CHANGED", "2026-03-20", "2026-03-16")
    assert cancelled["backorder"]["eta"] == {"date": "2026-03-16", "source": "LEAD_TIME"}


async def test_a_malformed_order_id_in_the_filter_ends_the_subscription_with_an_error(api):
    ws = await api.subscribe(UPDATES, {"filter": {"orderId": "not-an-order"}})
    try:
        message = json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))
        done = json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))
    finally:
        await ws.close()
    assert message["type"] == "next" and message["payload"]["data"] is None
    assert [e["message"] for e in message["payload"]["errors"]] == ["'not-an-order' is not a valid Order ID"]
    assert done == {"id": "1", "type": "complete"}
