"""Customers over real HTTP and websockets, and the shop's internals: customers never read priorities, agents,
their reasons, purchase orders, stock figures or tiers (in what they query, nor in live updates, where one event
is worded for the agent and for each customer apart), and their live updates stop when the session ends (signed
out, expired, or ended by another server process). The customers and the shop are in customer_sessions.py."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from api.context import PortalSession
from domain.store import portal as portal_store
from notifications.wording import CUSTOMER_CANCELS, CUSTOMER_CAUSES, NEUTRAL_CAUSES, PO_CHANGED, PO_DATE_CHANGED
from tests.api import support as s
from tests.api.customer_sessions import (
    AGENT_SECRETS,
    ANN,
    SEEN_BY_CUSTOMERS,
    UPDATES,
    _agent_acts_on,
    _key,
    _shop,
    customers,  # noqa: F401 - `customers` is a fixture
)


# -- the shop's internals ----------------------------------------------------------------------------
async def test_customers_never_read_priorities_agents_their_reasons_or_stock_figures(api, customers):  # noqa: F811
    # given an agent reprioritised Ann's backorder, cancelled a unit of it, adjusted stock, added a PO
    shop = await _shop(api)
    await _agent_acts_on(api, shop["ann_backorder"])
    ann = customers()
    await ann.sign_in_with_link(ANN)

    # when Ann reads her backorders, and an agent reads the same
    seen = (await ann.gql(SEEN_BY_CUSTOMERS))["data"]["backorders"]["nodes"]
    staff = (await api.gql(SEEN_BY_CUSTOMERS.replace("backorders {", 'backorders(filter: {customerEmail: '
                                                                     '"ann@example.com"}) {', 1)))
    staff_seen = staff["data"]["backorders"]["nodes"]

    # then she sees the changes in plain words, no PRIORITY entries, no agents, reasons, POs or stock counts
    mine = next(b for b in seen if b["id"] == shop["ann_backorder"])
    assert [h["kind"] for h in mine["history"]] == [
        h["kind"] for h in next(b for b in staff_seen if b["id"] == shop["ann_backorder"])["history"]
        if h["kind"] != "PRIORITY"]
    text = json.dumps(seen)
    assert "PRIORITY" not in text
    assert [secret for secret in AGENT_SECRETS + [shop["bob"].number, shop["po"].number] if secret in text] == []
    assert ("QUANTITY", "3", "2", "1 cancelled") in [
        (h["kind"], h["oldValue"], h["newValue"], h["cause"]) for h in mine["history"]]
    wordings = [re.compile(re.sub(r"\\\{\w+\\\}", r"\\d+", re.escape(words)))
                for words in [*CUSTOMER_CAUSES.values(), *CUSTOMER_CANCELS.values(), *NEUTRAL_CAUSES.values(),
                              PO_CHANGED, PO_DATE_CHANGED]]
    causes = {h["cause"] for b in seen for h in b["history"]}
    assert [c for c in causes if not any(w.fullmatch(c) for w in wordings)] == []
    assert "stock count corrected" in causes, causes
    assert all(b["eta"]["purchaseOrderNumber"] is None for b in seen if b["eta"])
    assert {b["eta"]["source"] for b in seen if b["eta"]} == {"PURCHASE_ORDER"}  # still says "confirmed"
    assert {(o["availableQuantity"], o["available"]) for b in seen for o in b["substitutes"]} == {(None, True)}
    assert {b["order"]["customer"]["tier"] for b in seen} == {None}
    # while the staff see all of it
    staff_text = json.dumps(staff_seen)
    assert all(secret in staff_text for secret in ["test agent", "VIP complaint", "fraud check"])
    assert "PRIORITY" in staff_text and "PO-SECRET-7" in staff_text
    assert {o["availableQuantity"] for b in staff_seen for o in b["substitutes"]} == {10}
    assert {b["order"]["customer"]["tier"] for b in staff_seen} == {"VIP"}


async def _anns_updates_while_an_agent_acts(api, customers) -> list[dict[str, Any]]:  # noqa: F811
    """Ann watches her live updates while an agent reprioritises, cancels with a reason, adds a PO..."""
    shop = await _shop(api)
    ann = customers()
    await ann.sign_in_with_link(ANN)
    ws = await ann.subscribe()
    try:
        await _agent_acts_on(api, shop["ann_backorder"])
        return await s.received(api, ws)
    finally:
        await ws.close()


async def test_a_live_update_carries_the_customers_history_not_the_agents(api, customers):  # noqa: F811
    updates = await _anns_updates_while_an_agent_acts(api, customers)
    assert updates, "Ann's backorder changed: she hears of it"
    histories = json.dumps([u["backorder"]["history"] for u in updates])
    assert "PRIORITY" not in histories
    assert [secret for secret in AGENT_SECRETS if secret in histories] == []


async def test_a_live_update_message_names_no_agent_and_no_reason(api, customers):  # noqa: F811
    updates = await _anns_updates_while_an_agent_acts(api, customers)
    assert "REPRIORITIZED" not in {u["kind"] for u in updates}
    messages = json.dumps([u["message"] for u in updates])
    assert [secret for secret in AGENT_SECRETS if secret in messages] == []


# -- live updates end with the session -------------------------------------------------------------
async def test_live_updates_stop_after_sign_out_and_after_expiry(api, customers):  # noqa: F811
    shop = await _shop(api)
    ann = customers()
    await ann.sign_in_with_link(ANN)
    ws = await ann.subscribe()
    expiring = customers()
    await expiring.sign_in_with_link(ANN)
    later = await expiring.subscribe()
    try:
        await api.desk.cancel_backorder(_key(shop["ann_other_backorder"]), 1)
        assert await s.received(api, ws) and await s.received(api, later)  # listening, both

        # when Ann signs out (the socket stays open): nothing more reaches it
        assert (await ann.gql("mutation { signOut { ok } }"))["data"] == {"signOut": {"ok": True}}
        await api.desk.cancel_backorder(_key(shop["ann_backorder"]), 1)
        await s.ended(ws)
        assert await s.received(api, later)  # her other session still holds

        # when the other session's 12 hours are up: nothing more reaches that one either
        api.clock.advance(timedelta(hours=12, minutes=1))
        await api.desk.cancel_backorder(_key(shop["ann_backorder"]), 1)
        await s.ended(later)
    finally:
        await ws.close()
        await later.close()


async def test_a_session_ended_elsewhere_stops_live_updates_at_the_next_recheck(api, customers, monkeypatch):  # noqa: F811
    # given a session ended by another server process (straight in the database, not through this one)
    monkeypatch.setattr(PortalSession, "RECHECK_SECONDS", 0.0)
    shop = await _shop(api)
    ann = customers()
    await ann.sign_in_with_link(ANN)
    ws = await ann.subscribe()
    try:
        await portal_store.end_session(ann.http.cookies["bd_session"], api.clock.now())
        # the next event is not sent on the old answer: the session is re-read first, and nothing goes out
        await api.desk.cancel_backorder(_key(shop["ann_backorder"]), 1)
        await s.ended(ws)
    finally:
        await ws.close()


async def test_one_event_read_by_an_agent_and_by_customers_is_worded_for_each(api, customers):  # noqa: F811
    # given an agent, Ann signed in with a link and Ann signed in for one order, all on the same document
    shop = await _shop(api)
    ann, ann_order_only = customers(), customers()
    await ann.sign_in_with_link(ANN)
    await ann_order_only.sign_in_with_order(shop["first"].number, ANN)
    agent = await api.subscribe(UPDATES)
    sockets = [await ann.subscribe(), await ann_order_only.subscribe()]
    try:
        # when an agent cancels a unit with a reason
        await api.gql("""mutation($id: ID!) { cancelBackorder(input: {id: $id, quantity: 1,
            reason: "fraud check"}) { userErrors { code } } }""", {"id": shop["ann_backorder"]})
        seen_by_agent = json.dumps(await s.received(api, agent))
        seen_by_customers = [json.dumps(await s.received(api, ws)) for ws in sockets]
    finally:
        for ws in [agent, *sockets]:
            await ws.close()
    # then the agent reads the agent's words, and neither customer does (one shared result would show it)
    assert "fraud check" in seen_by_agent
    for seen in seen_by_customers:
        assert "CANCELLED" in seen and "fraud check" not in seen and "test agent" not in seen, seen
