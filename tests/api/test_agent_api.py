"""What the agent console asks of the API: a token exchanged for a console session (cookie), customers found
by email, name or phone, a SKU's queue in order, the KPIs by age; every one staff-only, none a query per row."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.ids import encode_id
from domain.model import Channel
from domain.services import CustomerDetails, LineRequest
from domain.store.tokens import create_token, revoke_token
from tests.api import support as s
from tests.api.customer_sessions import Customer
from tests.api.statements import statements
from tests.waiting import PATIENCE

SIGN_IN = """mutation($token: String!) { signInWithApiToken(input: {token: $token}) {
  viewer { name role } userErrors { field code message } } }"""


async def console(api, token: str) -> Customer:
    """A browser on the console: its own cookie jar, same-origin requests, signed in with `token`."""
    browser = Customer(api)
    signed = (await browser.gql(SIGN_IN, {"token": token}))["data"]["signInWithApiToken"]
    assert signed["userErrors"] == [], signed
    return browser


async def test_a_token_becomes_an_httponly_session_that_sign_out_and_revocation_end(api):
    info, secret = await create_token("night shift", "agent")
    browser = Customer(api)
    try:
        response = await browser.http.post("/graphql", json={"query": SIGN_IN, "variables": {"token": secret}})
        assert response.json()["data"]["signInWithApiToken"] == {
            "viewer": {"name": "night shift", "role": "agent"}, "userErrors": []}
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("bd_staff=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert secret not in cookie  # the cookie is a session of its own, not the token
        assert (await browser.gql("{ viewer { role } }"))["data"]["viewer"]["role"] == "agent"
        # a page of another site cannot use it (CSRF): the cookie counts on same-origin requests only
        foreign = await browser.http.post("/graphql", json={"query": "{ viewer { role } }"},
                                          headers={"Origin": "https://evil.example"})
        assert foreign.json()["data"] is None
        await browser.gql("mutation { signOut { ok } }")
        assert (await browser.gql("{ viewer { role } }"))["data"] is None
        # signed in again, then the token is revoked: the session goes with it
        browser = await console(api, secret)
        await revoke_token(info.id)
        assert (await browser.gql("{ viewer { role } }"))["data"] is None
    finally:
        await browser.close()


async def test_another_sites_page_cannot_open_a_console_session(api):
    browser = Customer(api)
    response = await browser.http.post("/graphql", json={"query": SIGN_IN, "variables": {"token": api.token}},
                                       headers={"Origin": "https://evil.example"})
    payload = response.json()["data"]["signInWithApiToken"]
    assert payload["viewer"] is None and payload["userErrors"][0]["code"] == "PERMISSION_DENIED"
    assert "set-cookie" not in response.headers
    await browser.close()


@pytest.mark.parametrize("token", ["", "bd_not-a-real-token", "no prefix at all", "bd_" + "x" * 300])
async def test_a_bad_token_gets_a_user_error_on_its_field_and_no_cookie(api, token):
    browser = Customer(api)
    response = await browser.http.post("/graphql", json={"query": SIGN_IN, "variables": {"token": token}})
    payload = response.json()["data"]["signInWithApiToken"]
    assert payload["viewer"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("token", "PERMISSION_DENIED")]
    assert "set-cookie" not in response.headers
    await browser.close()


async def test_customers_are_found_by_email_name_or_the_phone_as_a_caller_says_it(api):
    await s.product(api.desk, "MUG")
    await api.desk.place_order(CustomerDetails("ann@example.com", "Ann Baker", "+447700900123"), Channel.PHONE,
                               [LineRequest("MUG", 1)])
    await api.desk.place_order(CustomerDetails("raj@example.com", "Raj Patel", "+447700900999"), Channel.PHONE,
                               [LineRequest("MUG", 1)])
    query = "query($q: String!) { customers(search: $q) { email name phone } }"
    for search in ["ann@example", "BAKER", "07700 900123", "+44 7700 900123", "(0)7700-900-123"]:
        found = (await api.gql(query, {"q": search}))["data"]["customers"]
        assert [c["email"] for c in found] == ["ann@example.com"], search
    assert (await api.gql(query, {"q": "7700 900"}))["data"]["customers"] == []  # too short to be a number's end
    assert len((await api.gql(query, {"q": "example.com"}))["data"]["customers"]) == 2
    for wildcard in ["%", "_", "a%b", "\\"]:  # typed, not patterns
        assert (await api.gql(query, {"q": wildcard}))["data"]["customers"] == [], wildcard
    # a phone kept only in the notification preferences finds its customer too
    await api.gql("""mutation { updateNotificationPreferences(input: {customerEmail: "raj@example.com",
        phone: "+15005550006"}) { userErrors { message } } }""")
    found = (await api.gql(query, {"q": "500 555 0006"}))["data"]["customers"]
    assert [c["email"] for c in found] == ["raj@example.com"]


async def test_a_skus_queue_is_in_queue_order_with_an_override_first(api):
    await s.product(api.desk, "MUG")
    placed = [await s.order(api.desk, f"c{i}@example.com", ("MUG", 1)) for i in range(4)]
    last = s.backorder_ids(placed[-1])[0]
    await api.gql('mutation($id: ID!) { reprioritizeBackorder(input: {id: $id, priority: 5, reason: "called twice"}) '
                  "{ userErrors { message } } }", {"id": last})
    queue = (await api.gql('{ product(sku: "MUG") { queue { customerEmail queuePosition } } }'))["data"]
    assert [(b["customerEmail"], b["queuePosition"]) for b in queue["product"]["queue"]] == [
        ("c3@example.com", 1), ("c0@example.com", 2), ("c1@example.com", 3), ("c2@example.com", 4)]
    head = (await api.gql('{ product(sku: "MUG") { unitsBackordered queue(first: 2) { customerEmail } } }'))["data"]
    assert head["product"] == {"unitsBackordered": 4, "queue": [{"customerEmail": "c3@example.com"},
                                                                {"customerEmail": "c0@example.com"}]}
    refused = await api.gql('{ product(sku: "MUG") { queue(first: 100000) { id } } }', expect_errors=True)
    assert refused["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_queues_of_many_skus_cost_the_same_statements_as_one(api):
    """given one SKU and then ten, each with a queue, when the queues are read in one query, then the number of
    statements does not grow with the SKUs (a DataLoader batch, not a query per product)."""
    for i in range(10):
        await s.product(api.desk, f"SKU{i}")
        for n in range(2):
            await s.order(api.desk, f"c{n}@example.com", (f"SKU{i}", 1))
    query = "{ products(first: %d) { nodes { sku queue { id queuePosition eta { date } } } } }"
    await api.gql("{ viewer { role } }")  # the token's first use of the day writes its last_used_at once
    with statements() as sent:
        await api.gql(query % 1)
    one = len(sent)
    with statements() as sent:
        body = await api.gql(query % 10)
    assert len(sent) == one, sent
    assert [len(p["queue"]) for p in body["data"]["products"]["nodes"]] == [2] * 10


async def test_kpis_by_age_add_up_to_the_open_backorders_and_units_waiting(api):
    await s.product(api.desk, "MUG", stock=1)
    await s.order(api.desk, "a@example.com", ("MUG", 3))  # 1 from stock, 2 waiting: 20 days old below
    api.clock.advance(timedelta(days=12))
    await s.order(api.desk, "b@example.com", ("MUG", 1))  # 8 days old below
    api.clock.advance(timedelta(days=8))
    await s.order(api.desk, "c@example.com", ("MUG", 4))  # today
    kpis = (await api.gql("""{ kpis { openBackorders unitsWaiting
        ageBuckets { label minDays maxDays backorders units } } }"""))["data"]["kpis"]
    assert [(b["label"], b["backorders"], b["units"]) for b in kpis["ageBuckets"]] == [
        ("0–7", 1, 4), ("8–14", 1, 1), ("15–30", 1, 2), ("31–60", 0, 0), ("61+", 0, 0)]
    assert sum(b["backorders"] for b in kpis["ageBuckets"]) == kpis["openBackorders"]
    assert sum(b["units"] for b in kpis["ageBuckets"]) == kpis["unitsWaiting"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ages=st.lists(st.integers(min_value=0, max_value=90), min_size=1, max_size=6))
async def test_every_open_backorder_is_in_exactly_the_bucket_of_its_age(api, ages):
    """Property: whatever the ages, each backorder is counted once, in the bucket whose range holds its age in
    whole days (the day boundaries are where an off-by-one would show)."""
    start = api.clock.now()
    sku = f"P{len(ages)}-{'-'.join(map(str, ages))}"[:60]
    await s.product(api.desk, sku)
    oldest_first = sorted(ages, reverse=True)
    for age in oldest_first:
        api.clock.set(start - timedelta(days=age))
        await s.order(api.desk, "x@example.com", (sku, 1))
    api.clock.set(start)
    got = (await api.gql('{ kpis { ageBuckets { minDays maxDays backorders } } }'))["data"]["kpis"]["ageBuckets"]
    mine = {(b["minDays"], b["maxDays"]): 0 for b in got}
    for age in ages:
        for low, high in mine:
            if age >= low and (high is None or age <= high):
                mine[(low, high)] += 1
    totals = {(b["minDays"], b["maxDays"]): b["backorders"] for b in got}
    seen = test_every_open_backorder_is_in_exactly_the_bucket_of_its_age.__dict__.setdefault("before", {})
    for key, count in mine.items():  # earlier examples' backorders are still open: compare the growth
        assert totals[key] - seen.get(key, 0) == count, (ages, got)
    seen.update(totals)


async def test_customers_reach_none_of_the_consoles_reads(api):
    await s.product(api.desk, "MUG")
    placed = await s.order(api.desk, "ann@example.com", ("MUG", 2))
    ann = Customer(api)
    try:
        await ann.sign_in_with_link("ann@example.com")
        for document in ['{ customers(search: "ann") { email } }', "{ kpis { ageBuckets { units } } }"]:
            body = await ann.gql(document)
            assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        # her own order's product does not open the SKU's queue (other customers' backorders) to her
        body = await ann.gql("query($id: ID!) { order(id: $id) { lines { product { queue { customerEmail } } } } }",
                             {"id": s.order_id(placed)})
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
        assert "customerEmail" not in str(body["data"])
    finally:
        await ann.close()


async def _console_socket(api, browser: Customer, sku: str):
    """The console's live queue as the page opens it: the session cookie, our own origin, no token."""
    before = api.bus.subscribers
    ws = await websockets.connect(
        f"{api.base.replace('http', 'ws')}/graphql", subprotocols=["graphql-transport-ws"],
        additional_headers={"Cookie": f"bd_staff={browser.http.cookies['bd_staff']}", "Origin": api.base})
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
        "query": "subscription($sku: String) { backorderUpdates(filter: {sku: $sku}) { kind } }",
        "variables": {"sku": sku}}}))
    try:
        await s.listening(api, before)
    except AssertionError:
        await ws.close()
        raise
    return ws


async def test_the_consoles_live_queue_stops_at_sign_out(api):
    await s.product(api.desk, "MUG")
    browser = await console(api, api.tokens["agent"])
    ws = await _console_socket(api, browser, "MUG")
    try:
        await s.order(api.desk, "a@example.com", ("MUG", 1))
        assert [u["kind"] for u in await s.received(api, ws)] == ["CREATED"]
        await browser.gql("mutation { signOut { ok } }")
        await s.order(api.desk, "b@example.com", ("MUG", 1))
        await s.ended(ws)  # the next message ends it: no update came first
    finally:
        await ws.close()
        await browser.close()


async def test_revoking_its_token_ends_a_console_sessions_live_queue_at_once(api):
    # the console's session was named by its cookie only: revoking the token it came from ended its live
    # updates at the next 30 s re-read of the session, not at once (and never across processes sooner)
    await s.product(api.desk, "MUG")
    info, secret = await create_token("night shift", "agent")
    browser = await console(api, secret)
    ws = await _console_socket(api, browser, "MUG")
    try:
        await s.order(api.desk, "a@example.com", ("MUG", 1))
        assert [u["kind"] for u in await s.received(api, ws)] == ["CREATED"]
        revoked = await api.gql("mutation($id: ID!) { revokeApiToken(input: {id: $id}) { revokedId } }",
                                {"id": encode_id("ApiToken", info.id)}, token="admin")
        assert revoked["data"]["revokeApiToken"]["revokedId"] == encode_id("ApiToken", info.id)
        await s.order(api.desk, "b@example.com", ("MUG", 1))
        await s.ended(ws)  # the next message ends it: no update came first
    finally:
        await ws.close()
        await browser.close()
