"""A product's allocation policy over GraphQL: upsertProduct sets PRIORITY (the default) or FAIR_SHARE with
its minimum and per-customer cap, the product reads them back (staff only), bad settings are typed
userErrors that change nothing, and a receipt on a FAIR_SHARE product shares the units out."""

from __future__ import annotations

from datetime import timedelta

from tests.api import support as s

UPSERT = """mutation($input: UpsertProductInput!) { upsertProduct(input: $input) {
  product { sku allocationPolicy fairShareMinimum customerCapPerReceipt }
  userErrors { field code } } }"""
READ = "query($sku: String!) { product(sku: $sku) { allocationPolicy fairShareMinimum customerCapPerReceipt } }"
RECEIVE = """mutation { receiveStock(input: {sku: "LAMP", quantity: 6}) { userErrors { code } } }"""
QUEUE = """{ backorders(first: 10, filter: {sku: "LAMP"}) {
  nodes { allocatedQuantity order { customer { email } } } } }"""


async def _three_orders(api, quantity: int) -> list[str]:
    """Ann, Bob and Cy order `quantity` lamps a minute apart; their backorders' IDs in that order."""
    ids = []
    for name in ("ann", "bob", "cy"):
        ids += s.backorder_ids(await s.order(api.desk, f"{name}@example.com", ("LAMP", quantity)))
        api.clock.advance(timedelta(minutes=1))
    return ids


def lamp(**more):
    return {"sku": "LAMP", "name": "Lamp", "price": {"amount": "20.00"}, **more}


async def test_a_new_product_allocates_by_priority_and_fair_share_is_stored_with_its_settings(api):
    made = (await api.gql(UPSERT, {"input": lamp()}))["data"]["upsertProduct"]
    assert made == {"product": {"sku": "LAMP", "allocationPolicy": "PRIORITY", "fairShareMinimum": None,
                                "customerCapPerReceipt": None}, "userErrors": []}

    changed = (await api.gql(UPSERT, {"input": lamp(allocationPolicy="FAIR_SHARE", fairShareMinimum=2,
                                                    customerCapPerReceipt=3)}))["data"]["upsertProduct"]
    assert changed["userErrors"] == []
    read = (await api.gql(READ, {"sku": "LAMP"}))["data"]["product"]
    assert read == {"allocationPolicy": "FAIR_SHARE", "fairShareMinimum": 2, "customerCapPerReceipt": 3}


async def test_bad_fair_share_settings_are_typed_errors_and_change_nothing(api):
    await api.gql(UPSERT, {"input": lamp(allocationPolicy="FAIR_SHARE", fairShareMinimum=2)})

    for bad, field, code in [
        (lamp(allocationPolicy="FAIR_SHARE", fairShareMinimum=0), "fairShareMinimum", "INVALID_QUANTITY"),
        (lamp(allocationPolicy="FAIR_SHARE", customerCapPerReceipt=-4), "customerCapPerReceipt", "INVALID_QUANTITY"),
        (lamp(customerCapPerReceipt=2), "customerCapPerReceipt", "INVALID_INPUT"),
    ]:
        refused = (await api.gql(UPSERT, {"input": bad}))["data"]["upsertProduct"]
        assert refused == {"product": None, "userErrors": [{"field": field, "code": code}]}, bad

    read = (await api.gql(READ, {"sku": "LAMP"}))["data"]["product"]
    assert read == {"allocationPolicy": "FAIR_SHARE", "fairShareMinimum": 2, "customerCapPerReceipt": None}


async def test_a_receipt_on_a_fair_share_product_gives_three_waiting_customers_two_each(api):
    await api.gql(UPSERT, {"input": lamp(allocationPolicy="FAIR_SHARE")})
    for name in ("ann", "bob", "cy"):
        await s.order(api.desk, f"{name}@example.com", ("LAMP", 4))

    assert (await api.gql(RECEIVE))["data"]["receiveStock"]["userErrors"] == []

    nodes = (await api.gql(QUEUE))["data"]["backorders"]["nodes"]
    assert sorted((n["order"]["customer"]["email"], n["allocatedQuantity"]) for n in nodes) == [
        ("ann@example.com", 2), ("bob@example.com", 2), ("cy@example.com", 2)]


PREVIEW = """query($sku: String!, $quantity: Int!, $location: String! = "MAIN") {
  previewAllocation(sku: $sku, quantity: $quantity, location: $location) {
    lines { backorder { id allocatedQuantity } allocatedQuantity status queuePosition eta { date } }
    userErrors { field code } } }"""


async def test_preview_allocation_shows_the_worked_example_and_changes_nothing(api):
    await api.gql(UPSERT, {"input": lamp(allocationPolicy="FAIR_SHARE")})
    ids = await _three_orders(api, 4)
    before = await s.state(api)

    preview = (await api.gql(PREVIEW, {"sku": "LAMP", "quantity": 6}))["data"]["previewAllocation"]

    assert preview["userErrors"] == []
    assert [(line["backorder"]["id"], line["backorder"]["allocatedQuantity"], line["allocatedQuantity"],
             line["status"], line["queuePosition"]) for line in preview["lines"]] == [
        (ids[0], 0, 2, "PARTIALLY_ALLOCATED", 1), (ids[1], 0, 2, "PARTIALLY_ALLOCATED", 2),
        (ids[2], 0, 2, "PARTIALLY_ALLOCATED", 3)]
    assert all(line["eta"]["date"] for line in preview["lines"])
    assert await s.state(api) == before

    await api.gql(UPSERT, {"input": lamp()})  # PRIORITY: the first is filled and leaves the queue
    preview = (await api.gql(PREVIEW, {"sku": "LAMP", "quantity": 6}))["data"]["previewAllocation"]
    assert [(line["allocatedQuantity"], line["status"], line["queuePosition"], line["eta"] is None)
            for line in preview["lines"]] == [
        (4, "ALLOCATED", None, False), (2, "PARTIALLY_ALLOCATED", 1, False), (0, "WAITING", 2, False)]


async def test_preview_allocation_answers_bad_input_with_typed_errors(api):
    await api.gql(UPSERT, {"input": lamp()})
    for variables, field, code in [
        ({"sku": "LAMP", "quantity": 0}, "quantity", "INVALID_QUANTITY"),
        ({"sku": "NOPE", "quantity": 2}, "sku", "PRODUCT_NOT_FOUND"),
        ({"sku": "LAMP", "quantity": 2, "location": "../etc"}, "location", "INVALID_INPUT"),
    ]:
        preview = (await api.gql(PREVIEW, variables))["data"]["previewAllocation"]
        assert preview == {"lines": [], "userErrors": [{"field": field, "code": code}]}, variables


PREVIEW_PRIORITY = """query($id: ID!, $priority: Int!) {
  previewReprioritization(backorderId: $id, priority: $priority) {
  lines { backorder { id } allocatedQuantity status queuePosition } userErrors { field code } } }"""


async def test_preview_reprioritization_shows_the_new_queue_and_changes_nothing(api):
    await api.gql(UPSERT, {"input": lamp()})
    ann, bob, cy = await _three_orders(api, 1)
    before = await s.state(api)

    preview = (await api.gql(PREVIEW_PRIORITY, {"id": cy, "priority": 5}))["data"]["previewReprioritization"]

    assert preview["userErrors"] == []
    assert [(line["backorder"]["id"], line["queuePosition"]) for line in preview["lines"]] == [
        (ann, 2), (bob, 3), (cy, 1)]
    assert await s.state(api) == before

    for variables, field, code in [({"id": cy, "priority": 5000}, "priority", "INVALID_INPUT"),
                                   ({"id": "nonsense", "priority": 1}, "backorderId", "INVALID_INPUT")]:
        refused = (await api.gql(PREVIEW_PRIORITY, variables))["data"]["previewReprioritization"]
        assert refused == {"lines": [], "userErrors": [{"field": field, "code": code}]}, variables
