"""Bad input to a mutation comes back as `userErrors { field message code }` with the right code, an
empty payload, and nothing changed: every case reads the whole state back before and after."""

from datetime import date

from api.ids import encode_id
from domain import model as m
from tests.api import support as s

ERRORS = "userErrors { field message code }"
DOCS = {
    "placeOrder": "order { id } backorders { id }",
    "receiveStock": "product { sku }",
    "adjustStock": "product { sku }",
    "createPurchaseOrder": "purchaseOrder { id }",
    "updatePurchaseOrder": "purchaseOrder { id }",
    "receivePurchaseOrder": "purchaseOrder { id }",
    "cancelBackorder": "backorder { id }",
    "acceptSubstitute": "backorder { id } orderLine { id } order { id }",
    "setShippingPreference": "order { id }",
    "shipAllocated": "shipment { id } order { id }",
    "reprioritizeBackorder": "backorder { id }",
    "offerSubstitute": "backorder { id }",
    "upsertProduct": "product { sku }",
    "upsertSupplier": "supplier { id }",
}


def _document(mutation):
    kind = mutation[0].upper() + mutation[1:] + "Input"
    return f"mutation($input: {kind}!) {{ {mutation}(input: $input) {{ {DOCS[mutation]} {ERRORS} }} }}"


async def _world(api):
    """MUG: 2 in stock, all taken by Ann's order of 5 (3 wait), substitutes CUP (5 in stock) and TEE (none);
    LAMP cannot be backordered; at most 2 RARE may wait; an open purchase order brings 10 MUG."""
    desk = api.desk
    await s.product(desk, "CUP", stock=5)
    await s.product(desk, "TEE")
    await s.product(desk, "MUG", stock=2, substitutes=["CUP", "TEE"])
    await s.product(desk, "LAMP", stock=1, policy=m.BackorderPolicy.DENY)
    await s.product(desk, "RARE", limit=2)
    ann = await s.order(desk, "ann@example.com", ("MUG", 5))
    po = await s.purchase_order(desk, date(2026, 3, 20), ("MUG", 10))
    return {"order": s.order_id(ann), "backorder": s.backorder_ids(ann)[0],
            "po": encode_id("PurchaseOrder", po.id), "supplier": encode_id("Supplier", po.supplier_id)}


async def _refusals(api, cases):
    """Runs each (mutation, input, field, code); returns what went wrong, to report every case at once."""
    wrong = []
    for mutation, payload_input, field, code in cases:
        before = await s.state(api)
        payload = (await api.gql(_document(mutation), {"input": payload_input}))["data"][mutation]
        errors = payload.pop("userErrors")
        if [(e["field"], e["code"]) for e in errors] != [(field, code)] or not errors[0]["message"]:
            wrong.append((mutation, payload_input, "userErrors", errors))
        if any(value not in (None, []) for value in payload.values()):
            wrong.append((mutation, payload_input, "payload", payload))
        after = await s.state(api)
        if after != before:
            wrong.append((mutation, payload_input, "changed", _diff(before, after)))
    return wrong


def _diff(before, after):
    return {key: (before[key], after[key]) for key in before if before[key] != after[key]}


def _order(*lines, email="bob@example.com"):
    return {"customer": {"email": email}, "channel": "ONLINE",
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines]}


async def test_place_order_refusals(api):
    await _world(api)
    assert await _refusals(api, [
        ("placeOrder", _order(("MUG", -1)), "lines.quantity", "INVALID_QUANTITY"),
        ("placeOrder", _order(("MUG", 0)), "lines.quantity", "INVALID_QUANTITY"),
        ("placeOrder", _order(("MUG", 1_000_001)), "lines.quantity", "INVALID_QUANTITY"),
        ("placeOrder", _order(("MUG", 600_000), ("MUG", 600_000)), "lines.quantity", "INVALID_QUANTITY"),
        ("placeOrder", _order(("MUG", 1), email="not-an-email"), "customer.email", "INVALID_INPUT"),
        ("placeOrder", _order(("MUG", 1), email=""), "customer.email", "INVALID_INPUT"),
        ("placeOrder", _order(("two words", 1)), "lines.sku", "INVALID_INPUT"),
        ("placeOrder", _order(), "lines", "INVALID_INPUT"),
        # the CUP line alone would be fine: the whole order is refused, CUP's units stay available
        ("placeOrder", _order(("CUP", 1), ("LAMP", 2)), "lines.quantity", "BACKORDER_NOT_ALLOWED"),
        ("placeOrder", _order(("CUP", 1), ("RARE", 3)), "lines.quantity", "BACKORDER_LIMIT_EXCEEDED"),
        ("placeOrder", {**_order(("MUG", 1)), "customer": {"email": "bob@example.com", "phone": "12"}},
         "customer.phone", "INVALID_INPUT"),
        ("placeOrder", {**_order(("MUG", 1)), "idempotencyKey": ""}, "idempotencyKey", "INVALID_INPUT"),
    ]) == []


async def test_stock_and_purchase_order_refusals(api):
    ids = await _world(api)
    assert await _refusals(api, [
        ("receiveStock", {"sku": "MUG", "quantity": -3}, "quantity", "INVALID_QUANTITY"),
        ("receiveStock", {"sku": "MUG", "quantity": 1, "location": "no such place!"}, "location", "INVALID_INPUT"),
        ("adjustStock", {"sku": "MUG", "delta": 0, "reason": "count"}, "delta", "INVALID_INPUT"),
        ("adjustStock", {"sku": "MUG", "delta": 3, "reason": " "}, "reason", "INVALID_INPUT"),
        # both MUG on hand are promised to Ann
        ("adjustStock", {"sku": "MUG", "delta": -1, "reason": "broken"}, "delta", "INSUFFICIENT_STOCK"),
        ("adjustStock", {"sku": "MUG", "safetyStock": -1, "reason": "buffer"}, "safetyStock", "INVALID_QUANTITY"),
        ("createPurchaseOrder", {"supplierId": ids["supplier"], "expectedDate": "2026-03-01",
                                 "lines": [{"sku": "MUG", "quantity": 5}]}, "expectedDate", "INVALID_INPUT"),
        ("createPurchaseOrder", {"supplierId": ids["supplier"], "expectedDate": "2026-04-01", "lines": []},
         "lines", "INVALID_INPUT"),
        ("createPurchaseOrder", {"supplierId": ids["supplier"], "expectedDate": "2026-04-01",
                                 "lines": [{"sku": "MUG", "quantity": -5}]}, "lines.quantity", "INVALID_QUANTITY"),
        ("createPurchaseOrder", {"supplierId": ids["order"], "expectedDate": "2026-04-01",  # an Order's ID
                                 "lines": [{"sku": "MUG", "quantity": 5}]}, "supplierId", "INVALID_INPUT"),
        ("createPurchaseOrder", {"supplierId": "%%%", "expectedDate": "2026-04-01",
                                 "lines": [{"sku": "MUG", "quantity": 5}]}, "supplierId", "INVALID_INPUT"),
        ("updatePurchaseOrder", {"id": ids["po"]}, "input", "INVALID_INPUT"),  # nothing to change
        ("updatePurchaseOrder", {"id": ids["po"], "expectedDate": "2026-02-01"}, "expectedDate", "INVALID_INPUT"),
        ("updatePurchaseOrder", {"id": ids["backorder"], "cancel": True}, "id", "INVALID_INPUT"),
        ("receivePurchaseOrder", {"id": ids["po"], "lines": [{"sku": "MUG", "quantity": 11}]},
         "lines.quantity", "OVER_RECEIPT"),
        ("receivePurchaseOrder", {"id": ids["po"], "lines": [{"sku": "CUP", "quantity": 1}]},
         "lines.sku", "INVALID_INPUT"),
        ("receivePurchaseOrder", {"id": ids["po"], "lines": [{"sku": "MUG", "quantity": 0}]},
         "lines", "INVALID_QUANTITY"),
        ("receivePurchaseOrder", {"id": "UHVyY2hhc2VPcmRlcg"}, "id", "INVALID_INPUT"),  # "PurchaseOrder", no key
    ]) == []


async def test_backorder_refusals(api):
    ids = await _world(api)
    backorder, order = ids["backorder"], ids["order"]
    assert await _refusals(api, [
        ("cancelBackorder", {"id": backorder, "quantity": 4}, "quantity", "INVALID_QUANTITY"),  # 3 are left
        ("cancelBackorder", {"id": backorder, "quantity": -1}, "quantity", "INVALID_QUANTITY"),
        ("cancelBackorder", {"id": backorder, "reason": "x" * 501}, "reason", "INVALID_INPUT"),
        ("cancelBackorder", {"id": "not an id"}, "id", "INVALID_INPUT"),
        ("cancelBackorder", {"id": order}, "id", "INVALID_INPUT"),  # an Order's ID
        ("acceptSubstitute", {"backorderId": backorder, "substituteSku": "LAMP"}, "substituteSku",
         "NOT_A_SUBSTITUTE"),
        ("acceptSubstitute", {"backorderId": backorder, "substituteSku": "TEE"}, "substituteSku",
         "SUBSTITUTE_UNAVAILABLE"),
        ("acceptSubstitute", {"backorderId": order, "substituteSku": "CUP"}, "backorderId", "INVALID_INPUT"),
        ("offerSubstitute", {"backorderId": backorder, "substituteSku": "LAMP"}, "substituteSku",
         "NOT_A_SUBSTITUTE"),
        ("setShippingPreference", {"orderId": backorder, "shipComplete": True}, "orderId", "INVALID_INPUT"),
        ("shipAllocated", {"orderId": "!!"}, "orderId", "INVALID_INPUT"),
        ("reprioritizeBackorder", {"id": backorder, "priority": 5000, "reason": "vip"}, "priority",
         "INVALID_INPUT"),
        ("reprioritizeBackorder", {"id": backorder, "priority": 5, "reason": "  "}, "reason", "INVALID_INPUT"),
        ("reprioritizeBackorder", {"id": order, "priority": 5, "reason": "vip"}, "id", "INVALID_INPUT"),
    ]) == []


async def test_catalogue_refusals(api):
    ids = await _world(api)
    price = {"amount": "5.00"}
    assert await _refusals(api, [
        ("upsertProduct", {"sku": "NEW", "name": "New", "price": {"amount": "-1"}}, "price", "INVALID_INPUT"),
        ("upsertProduct", {"sku": "NEW", "name": "New", "price": {"amount": "1", "currency": "EURO"}},
         "price.currency", "INVALID_INPUT"),
        ("upsertProduct", {"sku": "NEW", "name": " ", "price": price}, "name", "INVALID_INPUT"),
        ("upsertProduct", {"sku": "bad sku", "name": "New", "price": price}, "sku", "INVALID_INPUT"),
        ("upsertProduct", {"sku": "NEW", "name": "New", "price": price, "backorderPolicy": "PREORDER"},
         "releaseDate", "INVALID_INPUT"),
        ("upsertProduct", {"sku": "NEW", "name": "New", "price": price, "backorderLimit": -1}, "backorderLimit",
         "INVALID_QUANTITY"),
        ("upsertProduct", {"sku": "MUG", "name": "Mug", "price": price, "substitutes": ["MUG"]}, "substitutes",
         "INVALID_INPUT"),
        ("upsertProduct", {"sku": "NEW", "name": "New", "price": price, "supplierId": ids["po"]}, "supplierId",
         "INVALID_INPUT"),
        ("upsertSupplier", {"name": " "}, "name", "INVALID_INPUT"),
        ("upsertSupplier", {"name": "Slow", "leadTimeDays": -1}, "leadTimeDays", "INVALID_INPUT"),
        ("upsertSupplier", {"id": ids["order"], "name": "Acme"}, "id", "INVALID_INPUT"),
    ]) == []


def _missing(ids):
    """Well-formed IDs and SKUs of things that do not exist."""
    return [
        ("placeOrder", _order(("NOPE", 1)), "PRODUCT_NOT_FOUND"),
        ("receiveStock", {"sku": "NOPE", "quantity": 1}, "PRODUCT_NOT_FOUND"),
        ("createPurchaseOrder", {"supplierId": encode_id("Supplier", "nope"), "expectedDate": "2026-04-01",
                                 "lines": [{"sku": "MUG", "quantity": 5}]}, "SUPPLIER_NOT_FOUND"),
        ("createPurchaseOrder", {"supplierId": ids["supplier"], "expectedDate": "2026-04-01",
                                 "lines": [{"sku": "NOPE", "quantity": 5}]}, "PRODUCT_NOT_FOUND"),
        ("updatePurchaseOrder", {"id": encode_id("PurchaseOrder", "nope"), "cancel": True},
         "PURCHASE_ORDER_NOT_FOUND"),
        ("shipAllocated", {"orderId": encode_id("Order", "nope")}, "ORDER_NOT_FOUND"),
        ("cancelBackorder", {"id": encode_id("Backorder", "nope")}, "BACKORDER_NOT_FOUND"),
        ("upsertProduct", {"sku": "NEW", "name": "New", "price": {"amount": "1"}, "substitutes": ["NOPE"]},
         "PRODUCT_NOT_FOUND"),
    ]


async def test_unknown_things_are_user_errors_and_change_nothing(api):
    ids = await _world(api)
    for mutation, payload_input, _ in _missing(ids):
        before = await s.state(api)
        payload = (await api.gql(_document(mutation), {"input": payload_input}))["data"][mutation]
        [error] = payload["userErrors"]
        assert error["code"].endswith("NOT_FOUND") and "does not exist" in error["message"], (mutation, error)
        assert await s.state(api) == before, mutation


async def test_unknown_things_have_their_specific_not_found_code(api):
    ids = await _world(api)
    codes = []
    for mutation, payload_input, _ in _missing(ids):
        payload = (await api.gql(_document(mutation), {"input": payload_input}))["data"][mutation]
        codes.append(payload["userErrors"][0]["code"])
    assert codes == [code for *_, code in _missing(ids)]


async def test_lookups_by_ids_of_the_wrong_type_or_malformed_find_nothing(api):
    ids = await _world(api)
    found = await api.gql("""query($order: ID!, $backorder: ID!, $po: ID!) {
      orderAsBackorder: backorder(id: $order) { id } backorderAsOrder: order(id: $backorder) { id }
      poAsOrder: order(id: $po) { id } garbage: purchaseOrder(id: "%%%") { id } empty: backorder(id: "") { id }
      right: backorder(id: $backorder) { id } }""", ids)
    assert found["data"] == {"orderAsBackorder": None, "backorderAsOrder": None, "poAsOrder": None,
                             "garbage": None, "empty": None, "right": {"id": ids["backorder"]}}


async def test_an_error_about_one_line_says_which_line(api):
    # given MUG that may be backordered and LAMP that may not (1 in stock)
    world = await _world(api)
    lines_doc = ("mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } "
                 "userErrors { field code line } } }")
    cases = [
        # the third line asks 3 LAMP: it is that line that cannot be backordered
        ([("MUG", 1), ("CUP", 1), ("LAMP", 3)], ("lines.quantity", "BACKORDER_NOT_ALLOWED", 2)),
        ([("MUG", 1), ("CUP", 0)], ("lines.quantity", "INVALID_QUANTITY", 1)),
        ([("MUG", 1), ("NOPE", 1)], ("lines.sku", "PRODUCT_NOT_FOUND", 1)),
    ]
    for lines, (field, code, line) in cases:
        payload = (await api.gql(lines_doc, {"input": _order(*lines)}))["data"]["placeOrder"]
        assert payload["order"] is None
        [error] = payload["userErrors"]
        assert (error["field"], error["code"], error["line"]) == (field, code, line), (lines, error)
    po_doc = ("mutation($input: CreatePurchaseOrderInput!) { createPurchaseOrder(input: $input) { "
              "purchaseOrder { id } userErrors { field code line } } }")
    payload = (await api.gql(po_doc, {"input": {"supplierId": world["supplier"], "expectedDate": "2026-04-01",
                                                "lines": [{"sku": "MUG", "quantity": 2},
                                                          {"sku": "GHOST", "quantity": 1}]}}))
    assert payload["data"]["createPurchaseOrder"]["userErrors"] == [
        {"field": "lines.sku", "code": "PRODUCT_NOT_FOUND", "line": 1}]
    # an error about the whole order names no line
    whole = (await api.gql(lines_doc, {"input": {**_order(("MUG", 1)), "customer": {"email": "nope"}}}))
    assert whole["data"]["placeOrder"]["userErrors"][0]["line"] is None
