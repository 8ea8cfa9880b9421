"""The inputs an adversarial review found answered with "Unexpected error." (or saved, then unreadable) get
a typed user error over HTTP, and change nothing: the limits live in the domain, so GraphQL, the CSV import
and the command line refuse them alike (the import is checked in tests/cli)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.api import support as s

MB = "x" * 1_000_000
PRODUCT = """mutation($name: String!, $amount: Decimal!) { upsertProduct(input: {sku: "LAMP-9", name: $name,
  price: {amount: $amount}}) { product { sku } userErrors { field code message } } }"""
SUPPLIER = """mutation($name: String!) { upsertSupplier(input: {name: $name}) { supplier { id }
  userErrors { field code message } } }"""
PO = """mutation($supplier: ID!, $number: String, $location: String!) { createPurchaseOrder(input: {
  supplierId: $supplier, expectedDate: "2026-03-20", lines: [{sku: "MUG", quantity: 1}], number: $number,
  location: $location}) { purchaseOrder { id } userErrors { field code message } } }"""
PREFERENCES = """mutation($tz: String) { updateNotificationPreferences(input: {customerEmail: "ann@example.com",
  timezone: $tz}) { preferences { timezone } userErrors { field code message } } }"""
TOKEN = """mutation($name: String!) { createApiToken(input: {name: $name}) { secret userErrors { field code } } }"""
PLACE = """mutation($name: String!, $key: String) { placeOrder(input: {customer: {email: "ann@example.com",
  name: $name}, channel: PHONE, lines: [{sku: "MUG", quantity: 1}], idempotencyKey: $key}) { order { id }
  userErrors { field code message } } }"""
CANCEL = """mutation($id: ID!) { cancelBackorder(input: {id: $id}) { backorder { id } userErrors { field code } } }"""


def _id(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


CASES = [
    *[("price " + amount, PRODUCT, {"name": "Lamp", "amount": amount}, "price")
      for amount in ("1e30", "1e308", "1e15", "1234567890123.45")],
    *[(f"product name {what}", PRODUCT, {"name": name, "amount": "1.00"}, "name")
      for what, name in (("of 1 MB", MB), ("with a lone surrogate", "Lamp \ud800"), ("with a NUL", "La\x00mp"))],
    *[(f"supplier name {what}", SUPPLIER, {"name": name}, "name")
      for what, name in (("of 1 MB", MB), ("with a lone surrogate", "\ud800"), ("with a NUL", "\x00"))],
    *[(f"PO location {location[:20]!r}", PO, {"number": None, "location": location}, "location")
      for location in ("../../etc/passwd", "\U0001f4e6", "\u202eNIAM", MB, "MAIN\x00")],
    *[(f"PO number {number[:20]!r}", PO, {"number": number, "location": "MAIN"}, "number")
      for number in (" ", MB, "PO\x00", "PO-\udc00")],
    *[(f"time zone {tz[:20]!r}", PREFERENCES, {"tz": tz}, "timezone") for tz in ("", " ", MB, "\ud800", "UTC\x00")],
    *[(f"token name {what}", TOKEN, {"name": name}, "name")
      for what, name in (("with a lone surrogate", "ci \ud800"), ("with a NUL", "ci\x00"))],
    ("customer name with a lone surrogate", PLACE, {"name": "Ann \ud800", "key": None}, "customer.name"),
    ("idempotency key with a lone surrogate", PLACE, {"name": "Ann", "key": "k\ud800"}, "idempotencyKey"),
    ("idempotency key with a NUL", PLACE, {"name": "Ann", "key": "k\x00"}, "idempotencyKey"),
    ("a 40-character key in an ID", CANCEL, {"id": _id("Backorder", "b" * 40)}, "id"),
    ("a NUL in an ID", CANCEL, {"id": _id("Backorder", "b\x00")}, "id"),
]


@pytest.mark.parametrize(("what", "document", "variables", "field"), CASES, ids=[c[0] for c in CASES])
async def test_bad_field_values_get_a_typed_error_and_change_nothing(api, what, document, variables, field):
    await s.product(api.desk, "MUG", stock=5)
    supplier = await api.desk.upsert_supplier(None, "Acme", 10)
    variables = {**variables, **({"supplier": _id("Supplier", supplier.id)} if "supplier" in document else {})}
    before = await s.state(api)
    # json.dumps escapes a lone surrogate as \\ud800, as a browser's JSON.stringify does
    body = json.dumps({"query": document, "variables": variables})
    response = await api.client.post(f"{api.base}/graphql", content=body,
                                      headers={"Authorization": f"Bearer {api.tokens['admin']}",
                                               "Content-Type": "application/json"})
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert "errors" not in body, str(body)[:300]
    (payload,) = body["data"].values()
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, "INVALID_INPUT")], str(payload)[:300]
    assert all(len(e.get("message", "")) < 200 for e in payload["userErrors"])  # the 1 MB does not come back
    assert await s.state(api) == before


READS = [
    ('query($v: String!) { backorders(filter: {sku: $v}) { totalCount } }', {"v": "A\x00"}),
    ('query($v: String!) { product(sku: $v) { sku } }', {"v": "A\x00"}),
    ('query($v: String!) { product(sku: $v) { sku } }', {"v": "\ud800"}),
    ('query($v: String!) { orderByNumber(number: $v) { id } }', {"v": "A\x00"}),
    ('query($v: String!) { orders(filter: {customerEmail: $v}) { totalCount } }', {"v": "a\x00@x.com"}),
    ('query($v: String!) { customerPreferences(email: $v) { timezone } }', {"v": "a\x00@x.com"}),
    ('query($v: String!) { purchaseOrders(filter: {sku: $v}) { totalCount } }', {"v": "A\x00"}),
    ('{ product(sku: "A\\u0000") { sku } }', {}),
]


@pytest.mark.parametrize(("document", "variables"), READS, ids=[r[0][:40] for r in READS])
async def test_a_query_argument_no_database_can_compare_is_an_invalid_input(api, document, variables):
    """Queries hand their filters to SQL: PostgreSQL refused a NUL with an unexpected error."""
    response = await api.client.post(f"{api.base}/graphql", content=json.dumps({"query": document,
                                                                                "variables": variables}),
                                      headers={"Authorization": f"Bearer {api.tokens['admin']}",
                                               "Content-Type": "application/json"})
    body = response.json()
    assert response.status_code == 200 and body["data"] is None, response.text[:300]
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_INPUT"], body
