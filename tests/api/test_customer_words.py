"""What a customer reads about their backorders over the API is true and in their language: an agent's
cancel at the customer's request reads as theirs, and a German customer's history and live updates are
German (real HTTP and websockets, the customer's own session)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.customers import NotificationPreferences
from domain.store.portal import save_preferences
from tests.api import support as s
from tests.api.customer_sessions import ANN, _shop, customers  # noqa: F401 - `customers` is a fixture

BACKORDERS = """{ backorders { nodes { id history { kind cause } } } }"""
CANCEL = """mutation($id: ID!, $by: CancelRequestedBy) { cancelBackorder(input: {id: $id, quantity: 1,
  reason: "customer found one locally", requestedBy: $by}) { userErrors { code } } }"""


def _causes(body: dict[str, Any], backorder: str, kind: str = "QUANTITY") -> list[str]:
    [mine] = [b for b in body["data"]["backorders"]["nodes"] if b["id"] == backorder]
    return [h["cause"] for h in mine["history"] if h["kind"] == kind]


async def test_an_agents_cancel_at_the_customers_request_is_told_as_theirs(api, customers):  # noqa: F811
    shop = await _shop(api)
    cancelled = await api.gql(CANCEL, {"id": shop["ann_backorder"], "by": "CUSTOMER"})
    assert cancelled["data"]["cancelBackorder"]["userErrors"] == []
    ann = customers()
    await ann.sign_in_with_link(ANN)

    assert _causes(await ann.gql(BACKORDERS), shop["ann_backorder"]) == ["1 cancelled at your request"]
    staff = await api.gql(BACKORDERS.replace("backorders {", f'backorders(filter: {{customerEmail: "{ANN}"}}) {{'))
    assert _causes(staff, shop["ann_backorder"]) == [
        "1 cancelled by test agent at the customer's request: customer found one locally"]


async def test_a_german_customer_reads_history_and_live_updates_in_german(api, customers):  # noqa: F811
    shop = await _shop(api)
    await save_preferences(NotificationPreferences(email=ANN, timezone="Europe/Berlin", language="de"))
    ann = customers()
    await ann.sign_in_with_link(ANN)
    ws = await ann.subscribe()
    try:
        await api.gql(CANCEL, {"id": shop["ann_backorder"], "by": "SHOP"})
        updates = await s.received(api, ws)
    finally:
        await ws.close()

    assert "1 × MUG vom Shop storniert" in [u["message"] for u in updates]
    assert _causes(await ann.gql(BACKORDERS), shop["ann_backorder"]) == ["1 vom Shop storniert"]
    assert _causes(await ann.gql(BACKORDERS), shop["ann_backorder"], "STATUS")[0] == (
        "Bestellung aufgegeben: 3 von 3 werden nachgeliefert")


async def test_a_moved_purchase_order_reads_with_one_arrow_for_staff_and_customer(api, customers):  # noqa: F811
    shop = await _shop(api)
    ann = customers()
    await ann.sign_in_with_link(ANN)
    hers = await ann.subscribe()
    staff = await s.subscribe(api, "subscription { backorderUpdates { kind message } }")
    try:
        await api.desk.update_purchase_order(shop["po"].id, expected_date=shop["po"].expected_date + timedelta(days=4))
        messages = [u["message"] for u in await s.received(api, staff)] + [
            u["message"] for u in await s.received(api, hers)]
    finally:
        await hers.close()
        await staff.close()

    moved = [m for m in messages if m.startswith("expected date")]
    assert moved and all("→" in m and "->" not in m for m in moved), messages
    assert any(m.endswith("supplier date changed") for m in moved), moved  # Ann's, without the PO's number
