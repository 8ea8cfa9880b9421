"""Backorder.queueExplanation: each waiting backorder says why it is where it is, to its customer in their
language and to staff in English; null once nothing waits."""

from __future__ import annotations

from datetime import timedelta

from domain.customers import NotificationPreferences
from domain.store.portal import save_preferences
from tests.api import support as s
from tests.api.customer_sessions import customers  # noqa: F401 - `customers` is a fixture

MINE = "{ backorders { nodes { id queueExplanation } } }"
ALL = '{ backorders(filter: {sku: "LAMP"}) { nodes { id queuePosition queueExplanation } } }'
PRIORITY = """mutation($id: ID!) { reprioritizeBackorder(input: {id: $id, priority: 5, reason: "vip"}) {
  userErrors { code } } }"""


async def test_each_waiting_backorder_explains_its_place(api, customers):  # noqa: F811
    await s.product(api.desk, "LAMP")
    placed = []
    for name in ("ann", "bob", "cy"):
        placed.append(await s.order(api.desk, f"{name}@example.com", ("LAMP", 2)))
        api.clock.advance(timedelta(minutes=1))
    ann, bob, cy = (s.backorder_ids(o)[0] for o in placed)

    nodes = (await api.gql(ALL))["data"]["backorders"]["nodes"]
    assert {n["id"]: n["queueExplanation"] for n in nodes} == {
        ann: "You are next in line: no order is waiting before yours.",
        bob: "You are 2nd in line: 1 order placed before yours is waiting.",
        cy: "You are 3rd in line: 2 orders placed before yours are waiting."}

    # the shop moves Cy first: Bob's sentence no longer claims that everyone ahead ordered earlier
    assert (await api.gql(PRIORITY, {"id": cy}))["data"]["reprioritizeBackorder"]["userErrors"] == []
    await save_preferences(NotificationPreferences(email="bob@example.com", language="de"))
    browser = customers()
    await browser.sign_in_with_link("bob@example.com")
    mine = (await browser.gql(MINE))["data"]["backorders"]["nodes"]
    assert mine == [{"id": bob, "queueExplanation": "Sie sind 3. in der Reihe: 2 Bestellungen warten vor Ihrer."}]

    await api.desk.receive_stock("LAMP", 2)  # Cy's backorder is filled: nothing of it waits any more
    nodes = (await api.gql(ALL))["data"]["backorders"]["nodes"]
    assert {n["id"]: n["queueExplanation"] for n in nodes}[cy] is None
    assert {n["id"]: n["queueExplanation"] for n in nodes}[ann] == (
        "You are next in line: no order is waiting before yours.")
