"""No N+1: a page of orders with everything hanging off them costs a fixed number of SQL statements,
whatever the page size, because related objects come through the request's DataLoaders."""

from datetime import date

from domain.services import LineRequest
from tests.api import support as s
from tests.api.statements import statements

ORDERS = """query($first: Int!) { orders(first: $first) { totalCount nodes {
  id number customer { email tier } placedAt
  lines { sku quantity allocatedQuantity unitPrice { amount currency }
    product { sku name availableToPromise }
    backorder { id status backorderedQuantity queuePosition promisedDate queueExplanation
      eta { date confidence source purchaseOrderNumber }
      history { at kind oldValue newValue cause }
      product { sku onHand unitsBackordered inbound { purchaseOrderNumber expectedDate quantity } }
      substitutes { product { sku name } availableQuantity available priceDifference { amount } } } }
  backorders { id sku } } } }"""


async def _fifty_orders(api) -> None:
    """50 orders of 2 or 3 lines: MUG runs out after 20 orders, TEE and LAMP are always backordered,
    LAMP has a purchase order on the way, TEE and MUG have substitutes."""
    desk = api.desk
    await s.product(desk, "CUP", stock=30, price="12.00")
    await s.product(desk, "PEN", stock=100, price="2.00")
    await s.product(desk, "MUG", stock=20, substitutes=["CUP"])
    await s.product(desk, "TEE", substitutes=["CUP", "PEN"])
    await s.product(desk, "LAMP")
    supplier = await desk.upsert_supplier(None, "Acme", 20)
    await desk.create_purchase_order(supplier.id, date(2026, 3, 20), [LineRequest("LAMP", 40)])
    for i in range(50):
        lines = [("MUG", 1), ("TEE", 1)] + ([("LAMP", 2)] if i % 3 == 0 else [("PEN", 1)] if i % 3 == 1 else [])
        await s.order(desk, f"customer{i}@example.com", *lines)


async def _count(api, first: int) -> tuple[int, list[str], dict]:
    with statements() as sent:
        body = await api.gql(ORDERS, {"first": first})
    return len(sent), sent, body["data"]["orders"]


async def test_a_page_of_orders_costs_the_same_statements_for_10_as_for_50(api):
    # given: 50 orders with 2-3 lines each, many lines backordered, with ETAs, history and substitutes
    await _fifty_orders(api)

    # when: one query reads 10 of them with everything hanging off them, and then all 50 (the token used once
    # before, as in a running integration: its first use also records when it was last used)
    await api.gql("{ viewer { name } }")
    ten, _, small = await _count(api, 10)
    fifty, sent, large = await _count(api, 50)

    # then: the pages are what was asked for, and full of related data
    assert len(small["nodes"]) == 10 and len(large["nodes"]) == 50 and large["totalCount"] == 50
    backorders = [line["backorder"] for o in large["nodes"] for line in o["lines"] if line["backorder"]]
    assert len(backorders) == 30 + 50 + 17  # MUG after the 20th order, every TEE, every third order's LAMP
    assert all(b["history"] and b["product"] and b["eta"] and b["queuePosition"] and b["queueExplanation"]
               for b in backorders)
    assert {sub["product"]["sku"] for b in backorders for sub in b["substitutes"]} == {"CUP", "PEN"}
    assert any(b["eta"]["purchaseOrderNumber"] for b in backorders)
    # then: the handler really saw the statements, one per table the loaders read
    tables = ["api_tokens", "orders", "order_lines", "customers", "products", "backorders",
              "backorder_history", "stock_levels", "purchase_order_lines", "purchase_orders"]
    assert all(any(f'"{table}"' in sql for sql in sent) for table in tables), sent
    # then: a small, fixed number of statements, whatever the page size
    assert fifty == ten, (ten, fifty, sent)
    # 12: the token (which also answers the snapshot's question whether a receipt's range is pending,
    # domain.store.current), orders (count, ids, rows), and one per kind of related row
    assert fifty <= 12, (fifty, sent)


async def test_only_the_statements_of_the_requests_made_in_the_block_are_counted(api):
    # given a statement sent beside the request, as a background loop's round would be (a product written by
    # the test itself, not by a request)
    with statements() as sent:
        await s.product(api.desk, "MUG", stock=1)
        await api.gql("{ viewer { name } }")
    # then only the request's own reads are counted
    assert sent and all('"products"' not in sql for sql in sent), sent
    assert any('"api_tokens"' in sql for sql in sent), sent


def _portal_orders_document() -> str:
    """The portal's `Orders` query exactly as it sends it (from frontend/portal/documents.js, as the bench reads it)."""
    from bench.portal_query import portal_document

    return portal_document()


async def test_the_portals_orders_query_costs_a_fixed_small_number_of_statements(api):
    # given: the 50 orders above, and a customer with 6 of them, signed in to the portal with a session cookie
    from tests.api.customer_sessions import Customer

    await _fifty_orders(api)
    for _ in range(5):
        await s.order(api.desk, "customer7@example.com", ("TEE", 1), ("LAMP", 1))
    ann = Customer(api)
    try:
        await ann.sign_in_with_link("customer7@example.com")
        document = _portal_orders_document()

        # when: the portal's page asks for everything it shows
        with statements() as sent:
            body = await ann.gql(document)

        # then: the customer's own orders, with the backorders' wording, history, ETAs and substitutes
        assert "errors" not in body, body
        orders = body["data"]["orders"]["nodes"]
        assert len(orders) == 6 and body["data"]["myAccount"]["email"] == "customer7@example.com"
        backorders = [line["backorder"] for o in orders for line in o["lines"] if line["backorder"]]
        assert len(backorders) >= 10 and all(b["queueExplanation"] and b["history"] for b in backorders)
        # then: 8 statements (issue 15 allows 8): the session with the customer, their preferences and the snapshot's
        # question whether a receipt's range is pending (domain.store.current), the page's order ids, the orders with
        # their lines, the products with their substitutes, the backorders with whether each was placed in turn,
        # their history, their goodwill (its own table), the substitutes' stock
        assert len(sent) <= 8, (len(sent), sent)
        assert sum('"goodwill"' in sql for sql in sent) == 1, sent
    finally:
        await ann.close()
