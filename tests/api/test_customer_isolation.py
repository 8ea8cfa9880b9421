"""Customers over real HTTP and websockets with their own session cookies, reaching for what is not theirs: a
customer reaches nothing of another customer's by ID or filter (nor hears of it live), a sign-in with an order
number (or a link limited to one order) opens that order and nothing account-wide, and asking for a sign-in link
answers the same for known and unknown addresses. What customers may not read of the shop's internals, and live
updates ending with the session, are in test_customer_internals.py; the customers and the shop are in
customer_sessions.py."""

from __future__ import annotations

import pytest

from api.ids import encode_id
from api.portal import links_sent
from tests.api import support as s
from tests.api.customer_sessions import (
    ANN,
    ANN_PREFERENCES,
    BOB,
    LINK,
    PREFERENCES,
    _everything,
    _shop,
    customers,  # noqa: F401 - a fixture
)


# -- one customer cannot reach another's ---------------------------------------------------------
async def test_bob_reaches_nothing_of_ann_by_her_ids_or_filters_and_her_data_is_unchanged(api, customers):  # noqa: F811
    # given Ann's orders and backorders, and Bob signed in with a link
    shop = await _shop(api)
    ann_order, ann_backorder = s.order_id(shop["first"]), shop["ann_backorder"]
    ann_other_order = s.order_id(shop["second"])
    ann = customers()
    await ann.sign_in_with_link(ANN)
    assert (await ann.gql(PREFERENCES, {"input": {"timezone": "Europe/London"}}))["data"][
        "updateNotificationPreferences"]["userErrors"] == []
    bob = customers()
    await bob.sign_in_with_link(BOB)
    before = await _everything(api)

    # when Bob reads with Ann's IDs and filters: nothing of hers
    reads = await bob.gql("""query($order: ID!, $backorder: ID!, $number: String!) {
        order(id: $order) { number } backorder(id: $backorder) { id }
        byEmail: orders(filter: {customerEmail: "ann@example.com"}) { totalCount nodes { number } }
        byNumber: orders(filter: {number: $number}) { totalCount nodes { number } }
        backordersByEmail: backorders(filter: {customerEmail: "ann@example.com"}) { totalCount nodes { id } }
        backordersByOrder: backorders(filter: {orderId: $order}) { totalCount nodes { id } } }""",
                          {"order": ann_order, "backorder": ann_backorder, "number": shop["first"].number})
    assert "errors" not in reads, reads
    assert reads["data"] == {
        "order": None, "backorder": None,
        "byEmail": {"totalCount": 1, "nodes": [{"number": shop["bob"].number}]},
        "byNumber": {"totalCount": 0, "nodes": []},
        "backordersByEmail": {"totalCount": 1, "nodes": [{"id": shop["bob_backorder"]}]},
        "backordersByOrder": {"totalCount": 0, "nodes": []}}

    # when Bob changes things with Ann's IDs: "not found", worded as for an ID that never existed
    changes = {
        "cancelBackorder": ("mutation($id: ID!) { cancelBackorder(input: {id: $id}) { backorder { id } "
                            "userErrors { field message code } } }", "Backorder", ann_backorder),
        "acceptSubstitute": ('mutation($id: ID!) { acceptSubstitute(input: {backorderId: $id, substituteSku: "CUP"}) '
                             "{ backorder { id } orderLine { sku } userErrors { field message code } } }",
                             "Backorder", ann_backorder),
        "setShippingPreference": ("mutation($id: ID!) { setShippingPreference(input: {orderId: $id, "
                                  "shipComplete: true}) { order { id } userErrors { field message code } } }",
                                  "Order", ann_order),
    }
    for name, (document, kind, ann_id) in changes.items():
        never_was = encode_id(kind, "0" * 26)
        refused = (await bob.gql(document, {"id": ann_id}))["data"][name]
        unknown = (await bob.gql(document, {"id": never_was}))["data"][name]
        [error] = refused["userErrors"]
        assert error["code"] == f"{kind.upper()}_NOT_FOUND", (name, refused)
        assert all(v is None for k, v in refused.items() if k != "userErrors"), (name, refused)
        assert error["message"].replace(ann_id, "?") == unknown["userErrors"][0]["message"].replace(never_was, "?")
    # ...and preferences: a customer's input names no one else; Bob changes only his own
    mine = (await bob.gql(PREFERENCES, {"input": {"bySms": False, "timezone": "Asia/Tokyo",
                                                  "customerEmail": ANN}}))["data"]["updateNotificationPreferences"]
    assert mine == {"preferences": {"bySms": False, "timezone": "Asia/Tokyo"}, "userErrors": []}
    # staff-only fields that take Ann's IDs are refused outright
    staff_only = {
        "orderByNumber": ("query($number: String!) { orderByNumber(number: $number) { id } }",
                          {"number": shop["first"].number}),
        "customerPreferences": (ANN_PREFERENCES, {}),
        "customerPortalLink": (LINK, {"email": ANN, "order": ann_other_order}),
        "reprioritizeBackorder": ("mutation($id: ID!) { reprioritizeBackorder(input: {id: $id, priority: -5, "
                                  'reason: "mine first"}) { backorder { id } } }', {"id": ann_backorder}),
        "offerSubstitute": ('mutation($id: ID!) { offerSubstitute(input: {backorderId: $id, substituteSku: "CUP"}) '
                            "{ backorder { id } } }", {"id": ann_backorder}),
        "shipAllocated": ("mutation($id: ID!) { shipAllocated(input: {orderId: $id}) { shipment { units } } }",
                          {"id": ann_order}),
    }
    for name, (document, variables) in staff_only.items():
        body = await bob.gql(document, variables)
        assert (body["data"] or {}).get(name) is None, (name, body)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], (name, body)

    # then nothing of Ann's changed, and her preferences are hers
    assert await _everything(api) == before
    assert before["customerPreferences"]["timezone"] == "Europe/London"


async def test_bob_gets_no_live_updates_of_anns_order_even_when_he_filters_on_it(api, customers):  # noqa: F811
    # given Bob listening with Ann's order as the filter and without one, and Ann listening
    shop = await _shop(api)
    ann, bob = customers(), customers()
    await ann.sign_in_with_link(ANN)
    await bob.sign_in_with_link(BOB)
    bob_on_ann = await bob.subscribe({"filter": {"orderId": s.order_id(shop["first"])}})
    bob_on_all = await bob.subscribe()
    ann_on_all = await ann.subscribe()
    try:
        # when Ann's backorders change (units arrive: hers come first)
        await api.desk.receive_stock("MUG", 4)
        ann_saw = await s.received(api, ann_on_all)
        bob_saw_on_ann = await s.received(api, bob_on_ann, idle=0.3)
        bob_saw = await s.received(api, bob_on_all, idle=0.3)
    finally:
        for ws in (bob_on_ann, bob_on_all, ann_on_all):
            await ws.close()
    # then Ann hears of it, and Bob of nothing but his own backorder
    assert {u["backorderId"] for u in ann_saw} == {shop["ann_backorder"], shop["ann_other_backorder"]}
    assert bob_saw_on_ann == []
    assert {u["backorderId"] for u in bob_saw} <= {shop["bob_backorder"]}


# -- one order, not the account --------------------------------------------------------------------
async def test_a_sign_in_with_an_order_number_opens_that_order_and_nothing_account_wide(api, customers):  # noqa: F811
    # given Ann signed in with her first order's number (and, to compare, with a link)
    shop = await _shop(api)
    await api.gql("""mutation { updateNotificationPreferences(input: {customerEmail: "ann@example.com",
        timezone: "Europe/London"}) { userErrors { code } } }""")
    before = await _everything(api)
    one_order = customers()
    viewer = await one_order.sign_in_with_order(shop["first"].number, ANN)
    assert viewer == {"role": "customer", "customerEmail": ANN, "orderOnly": True}

    # when she asks for her account or changes her preferences: a typed refusal
    account = await one_order.gql("{ myAccount { email preferences { timezone } } }")
    assert account["data"] == {"myAccount": None}
    assert [(e["extensions"]["code"], e["message"]) for e in account["errors"]] == [
        ("ACCOUNT_SIGN_IN_REQUIRED", "Signed in for one order: use a sign-in link to see or change your account.")]
    changed = await one_order.gql(PREFERENCES, {"input": {"bySms": True, "timezone": "Asia/Tokyo"}})
    assert changed["data"] is None
    assert [e["extensions"]["code"] for e in changed["errors"]] == ["ACCOUNT_SIGN_IN_REQUIRED"]
    # ...and her other order is as out of reach as anyone else's
    other = await one_order.gql("""query($order: ID!, $backorder: ID!) { order(id: $order) { id }
        backorder(id: $backorder) { id } orders { totalCount nodes { number customer { email phone tier } } }
        backorders(filter: {orderId: $order}) { totalCount } }""",
                                {"order": s.order_id(shop["second"]), "backorder": shop["ann_other_backorder"]})
    assert other["data"] == {"order": None, "backorder": None, "backorders": {"totalCount": 0},
                             "orders": {"totalCount": 1, "nodes": [
                                 {"number": shop["first"].number,
                                  "customer": {"email": ANN, "phone": None, "tier": None}}]}}
    shipping = """mutation($id: ID!) { setShippingPreference(input: {orderId: $id, shipComplete: true}) {
        order { shipComplete } userErrors { code } } }"""
    refused = (await one_order.gql(shipping, {"id": s.order_id(shop["second"])}))["data"]["setShippingPreference"]
    assert refused == {"order": None, "userErrors": [{"code": "ORDER_NOT_FOUND"}]}

    # then nothing changed; what belongs to the order itself she may still change
    assert await _everything(api) == before
    own = (await one_order.gql(shipping, {"id": s.order_id(shop["first"])}))["data"]["setShippingPreference"]
    assert own == {"order": {"shipComplete": True}, "userErrors": []}
    # a sign-in link opens the account
    account_holder = customers()
    assert (await account_holder.sign_in_with_link(ANN))["orderOnly"] is False
    mine = await account_holder.gql("{ myAccount { email preferences { timezone } } orders { totalCount } }")
    assert mine["data"] == {"myAccount": {"email": ANN, "preferences": {"timezone": "Europe/London"}},
                            "orders": {"totalCount": 2}}


async def test_a_link_limited_to_one_order_is_an_order_only_sign_in_too(api, customers):  # noqa: F811
    shop = await _shop(api)
    one_order = customers()
    assert (await one_order.sign_in_with_link(ANN, s.order_id(shop["first"])))["orderOnly"] is True
    refused = await one_order.gql("{ myAccount { email } }")
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["ACCOUNT_SIGN_IN_REQUIRED"]


# -- asking for a link tells nothing -------------------------------------------------------------------
@pytest.mark.api_settings(link_minutes=20)
async def test_asking_for_a_link_answers_the_same_for_known_and_unknown_addresses(api, customers):  # noqa: F811
    await _shop(api)
    stranger = customers()
    ask = "mutation($email: String!) { requestPortalLink(input: {email: $email}) { message userErrors { code } } }"
    known = (await stranger.gql(ask, {"email": ANN}))["data"]["requestPortalLink"]
    unknown = (await stranger.gql(ask, {"email": "nobody@example.com"}))["data"]["requestPortalLink"]
    assert known == unknown == {
        "message": "If we know this address, we have sent it a sign-in link. It works once, for 20 minutes.",
        "userErrors": []}
    outbox = "{ notifications(filter: {channel: EMAIL}, first: 200) { nodes { kind recipient } } }"
    await links_sent()  # sent after the answer, so that the answer takes as long either way
    sent = [n for n in (await api.gql(outbox))["data"]["notifications"]["nodes"] if n["kind"] == "PORTAL_LINK"]
    assert sent == [{"kind": "PORTAL_LINK", "recipient": ANN}]
