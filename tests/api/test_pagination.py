"""Connections: filters pick the right things, pages follow each other without overlap or gaps,
pageInfo and totalCount tell the truth, and bad cursors or page sizes are clear errors."""

from datetime import date, timedelta

from api.ids import encode_id
from domain import model as m
from tests.api import support as s

LIST = """query($filter: {filter_type}, $first: Int, $after: String) {{
  {field}(filter: $filter, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor hasPreviousPage startCursor }}
    edges {{ cursor node {{ {node} }} }} }} }}"""
FILTERS = {"backorders": "BackorderFilter", "orders": "OrderFilter", "purchaseOrders": "PurchaseOrderFilter"}


async def _walk(api, field, filter=None, first=3, node="id"):
    """Every page of a connection, following endCursor; checks pageInfo and totalCount on the way."""
    if field == "products":
        document = LIST.replace("$filter: {filter_type}", "$search: String").replace("filter: $filter",
                                                                                      "search: $search")
        variables = {"search": filter}
    else:
        document = LIST.replace("{filter_type}", FILTERS[field])
        variables = {"filter": filter}
    document = document.format(field=field, node=node).replace("{{", "{").replace("}}", "}")
    pages, after, totals = [], None, set()
    while True:
        connection = (await api.gql(document, {**variables, "first": first, "after": after}))["data"][field]
        edges = connection["edges"]
        assert len(edges) <= first
        assert connection["pageInfo"]["endCursor"] == (edges[-1]["cursor"] if edges else None)
        assert connection["pageInfo"]["startCursor"] == (edges[0]["cursor"] if edges else None)
        assert connection["pageInfo"]["hasPreviousPage"] == (after is not None)
        totals.add(connection["totalCount"])
        pages.append([e["node"] for e in edges])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        assert len(edges) == first, "a page before the last one is full"
        after = connection["pageInfo"]["endCursor"]
    everything = [n for page in pages for n in page]
    assert len(totals) == 1 and totals == {len(everything)}, (totals, len(everything))
    return pages


def _ids(pages):
    flat = [n["id"] for page in pages for n in page]
    assert len(flat) == len(set(flat)), "pages overlap"
    return flat


async def _book(api):
    """Five orders with seven backorders (MUG and CUP have no stock) and one order without (PEN)."""
    desk, clock = api.desk, api.clock
    await s.product(desk, "MUG")
    await s.product(desk, "CUP")
    await s.product(desk, "PEN", stock=10)
    orders = {}
    for name, email, channel, lines in [
        ("o1", "ann@example.com", m.Channel.ONLINE, [("MUG", 1), ("CUP", 1)]),
        ("o2", "bob@example.com", m.Channel.PHONE, [("MUG", 2)]),
        ("o3", "ann@example.com", m.Channel.PHONE, [("CUP", 3)]),
        ("o4", "cy@example.com", m.Channel.ONLINE, [("MUG", 1), ("CUP", 2)]),
        ("o5", "bob@example.com", m.Channel.ONLINE, [("MUG", 5)]),
        ("o6", "dee@example.com", m.Channel.STORE, [("PEN", 1)]),
    ]:
        orders[name] = await s.order(desk, email, *lines, channel=channel)
        clock.advance(timedelta(hours=1))
    await desk.receive_stock("MUG", 1)  # o1's MUG backorder: ALLOCATED
    await desk.cancel_backorder(orders["o3"].lines[0].backorder_id, by="test")  # CANCELLED
    return orders


def _bo(order, index=0):
    return encode_id("Backorder", [li.backorder_id for li in order.lines if li.backorder_id][index])


async def test_backorder_pages_cover_everything_once_oldest_first(api):
    orders = await _book(api)
    pages = await _walk(api, "backorders", first=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    oldest_first = [_bo(orders[o], i) for o, i in
                    [("o1", 0), ("o1", 1), ("o2", 0), ("o3", 0), ("o4", 0), ("o4", 1), ("o5", 0)]]
    assert _ids(pages) == oldest_first
    assert [len(p) for p in await _walk(api, "backorders", first=7)] == [7]
    assert [len(p) for p in await _walk(api, "backorders", first=200)] == [7]


async def test_backorder_filters(api):
    orders = await _book(api)

    async def ids(filter, first=2):
        return set(_ids(await _walk(api, "backorders", filter, first)))

    assert await ids({"sku": "MUG"}) == {_bo(orders["o1"]), _bo(orders["o2"]), _bo(orders["o4"]), _bo(orders["o5"])}
    assert await ids({"status": ["ALLOCATED"]}) == {_bo(orders["o1"])}
    assert await ids({"status": ["CANCELLED", "ALLOCATED"]}) == {_bo(orders["o1"]), _bo(orders["o3"])}
    assert await ids({"sku": "CUP", "status": ["WAITING"]}) == {_bo(orders["o1"], 1), _bo(orders["o4"], 1)}
    assert await ids({"customerEmail": " ANN@example.com "}) == {_bo(orders["o1"]), _bo(orders["o1"], 1),
                                                                _bo(orders["o3"])}
    assert await ids({"channel": "PHONE"}) == {_bo(orders["o2"]), _bo(orders["o3"])}
    assert await ids({"orderId": s.order_id(orders["o4"])}) == {_bo(orders["o4"]), _bo(orders["o4"], 1)}
    assert await ids({"orderId": s.order_id(orders["o6"])}) == set()
    assert await ids({"sku": "NOPE"}) == set()
    # promised: 14 days' lead time from 2 March; open ones are overdue once that date has passed
    assert await ids({"overdue": True}) == set()
    api.clock.advance(timedelta(days=30))
    overdue = await ids({"overdue": True})
    assert len(overdue) == 6 and _bo(orders["o3"]) not in overdue


async def test_not_overdue_is_every_other_backorder(api):
    orders = await _book(api)
    everything = set(_ids(await _walk(api, "backorders", first=10)))
    assert set(_ids(await _walk(api, "backorders", {"overdue": False}, first=10))) == everything
    api.clock.advance(timedelta(days=30))
    assert set(_ids(await _walk(api, "backorders", {"overdue": False}, first=10))) == {_bo(orders["o3"])}


async def test_order_pages_and_filters(api):
    orders = await _book(api)
    newest_first = [s.order_id(orders[o]) for o in ["o6", "o5", "o4", "o3", "o2", "o1"]]
    pages = await _walk(api, "orders", first=4)
    assert [len(p) for p in pages] == [4, 2]
    assert _ids(pages) == newest_first

    async def ids(filter, first=2):
        return _ids(await _walk(api, "orders", filter, first))

    def oid(*names):
        return [s.order_id(orders[n]) for n in names]

    assert await ids({"customerEmail": "ann@example.com"}) == oid("o3", "o1")
    assert await ids({"channel": "ONLINE"}) == oid("o5", "o4", "o1")
    assert await ids({"hasBackorders": False}) == oid("o6")
    assert await ids({"hasBackorders": True}) == oid("o5", "o4", "o3", "o2", "o1")
    assert await ids({"number": orders["o2"].number.lower()}) == oid("o2")
    placed = orders["o3"].placed_at
    assert await ids({"placedAfter": placed.isoformat()}) == oid("o6", "o5", "o4", "o3")
    assert await ids({"placedBefore": placed.isoformat()}) == oid("o2", "o1")
    assert await ids({"placedAfter": placed.isoformat(), "channel": "PHONE"}) == oid("o3")


async def test_product_pages_in_sku_order(api):
    await _book(api)
    pages = await _walk(api, "products", first=2, node="sku")
    assert pages == [[{"sku": "CUP"}, {"sku": "MUG"}], [{"sku": "PEN"}]]


async def test_product_search_matches_sku_or_name(api):
    await _book(api)
    await s.product(api.desk, "TRAVEL-MUG")
    found = await _walk(api, "products", "mug", first=1, node="sku")
    assert found == [[{"sku": "MUG"}], [{"sku": "TRAVEL-MUG"}]]


async def test_purchase_order_pages_and_filters(api):
    desk = api.desk
    await s.product(desk, "MUG")
    await s.product(desk, "CUP")
    mugs = await s.purchase_order(desk, date(2026, 3, 20), ("MUG", 5))
    cups = await s.purchase_order(desk, date(2026, 3, 21), ("CUP", 5))
    both = await s.purchase_order(desk, date(2026, 3, 22), ("MUG", 1), ("CUP", 1))
    await desk.update_purchase_order(cups.id, cancel=True)
    await desk.receive_purchase_order(both.id)
    po = {p.id: encode_id("PurchaseOrder", p.id) for p in [mugs, cups, both]}

    async def ids(filter, first=1):
        return _ids(await _walk(api, "purchaseOrders", filter, first))

    assert await ids(None) == [po[mugs.id], po[cups.id], po[both.id]]
    assert await ids({"sku": "MUG"}) == [po[mugs.id], po[both.id]]
    assert await ids({"status": ["CANCELLED"]}) == [po[cups.id]]
    assert await ids({"status": ["OPEN", "RECEIVED"], "sku": "CUP"}) == [po[both.id]]
    assert await ids({"status": ["PARTIALLY_RECEIVED"]}) == []


async def test_bad_cursors_and_page_sizes_are_clear_errors(api):
    orders = await _book(api)
    for field in ["backorders", "orders", "products", "purchaseOrders", "notifications"]:
        for first in [201, -1]:
            body = await api.gql(f"{{ {field}(first: {first}) {{ totalCount }} }}", expect_errors=True)
            assert body["data"] is None
            assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
                ("first must be between 0 and 200", "INVALID_INPUT")], (field, first)
        for cursor in ["garbage!", s.order_id(orders["o1"]), ""] if field != "notifications" else ["!"]:
            body = await api.gql(f'{{ {field}(after: "{cursor}") {{ totalCount }} }}', expect_errors=cursor != "")
            if cursor == "":
                continue  # an empty cursor is the first page
            assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
                (f"{cursor!r} is not a valid cursor ID", "INVALID_INPUT")], (field, cursor)
    empty = (await api.gql("{ backorders(first: 0) { edges { cursor } pageInfo { endCursor } totalCount } }"))
    assert empty["data"]["backorders"] == {"edges": [], "pageInfo": {"endCursor": None}, "totalCount": 7}
