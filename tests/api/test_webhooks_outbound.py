"""Outbound webhooks end to end: a real receiver on loopback (allowed by the test configuration) gets signed
JSON POSTs from the transactional outbox; a 500 is retried after a backoff and the event is delivered once
more with the same id and body; redirects are not followed; a day of failures disables the endpoint; and
server-side request forgery targets are refused when the configuration does not allow private addresses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.ids import encode_id
from domain.services import LineRequest
from notifications.outbound_webhooks import GuardedBackend, RefusedAddress, public_address, verify
from notifications.webhook_settings import WebhookSettings
from tests.api.conftest import free_port
from tests.waiting import eventually

# the consumers of committed events, with a long queue's change in either form (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("both_event_forms")

ALLOWED = WebhookSettings(allow_private=True, retry_base_seconds=60, poll_seconds=0.05)
CREATE = """mutation($url: String!, $events: [WebhookEventType!]!) {
  createWebhookEndpoint(input: {url: $url, events: $events, description: "ERP"}) {
    webhookEndpoint { id url events enabled } secret userErrors { field code message } } }"""
DELIVERIES = """query($id: ID!) { webhookDeliveries(endpointId: $id) { totalCount nodes {
  id eventId eventType status attempts nextAttemptAt lastStatusCode lastError payload requestId
  attemptLog { at statusCode error durationMs } } } }"""
ENDPOINTS = "{ webhookEndpoints { id enabled disabledReason failingSince } }"
ORDER = """mutation { placeOrder(input: {customer: {email: "ann@example.com"}, channel: ONLINE,
  lines: [{sku: "MUG", quantity: 3}]}) { order { id } userErrors { code } } }"""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A shop's HTTP endpoint: answers with the statuses it is given (then 200), records every request."""

    base: str
    answers: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    while_answering: Callable[[Received], None] | None = None  # e.g. time passing before it answers

    @property
    def url(self) -> str:
        return f"{self.base}/hook"

    async def wait_for(self, count: int) -> list[Received]:
        await eventually(lambda: len(self.requests) >= count, what=f"{count} requests received")
        return self.requests


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    recorder = Receiver(base=f"http://127.0.0.1:{port}")

    async def hook(request: Request) -> Response:
        received = Received(request.url.path, dict(request.headers), await request.body())
        recorder.requests.append(received)
        if recorder.while_answering is not None:
            recorder.while_answering(received)
        status = recorder.answers.pop(0) if recorder.answers else 200
        return Response(status_code=status, headers={"Location": f"{recorder.base}/elsewhere"} if 300 <= status < 400
                        else None)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"]), Route("/elsewhere", hook, methods=["GET", "POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, what="the receiver starts")
    yield recorder
    server.should_exit = True
    await asyncio.wait_for(task, 10)


async def endpoint(api, url: str, events: list[str]) -> tuple[str, str]:
    made = (await api.gql(CREATE, {"url": url, "events": events}))["data"]["createWebhookEndpoint"]
    assert made["userErrors"] == [], made
    return made["webhookEndpoint"]["id"], made["secret"]


async def deliveries(api, endpoint_id: str) -> list[dict[str, Any]]:
    return (await api.gql(DELIVERIES, {"id": endpoint_id}))["data"]["webhookDeliveries"]["nodes"]


async def settled(api, endpoint_id: str, attempts: int) -> list[dict[str, Any]]:
    """The deliveries once `attempts` attempts in all are recorded and none is being sent. The receiver having
    seen a request says nothing of that: the dispatcher records the answer afterwards, and a clock moved
    before it has would date the attempt (and its retry) from the moved clock."""
    return await eventually(lambda: deliveries(api, endpoint_id), lambda found: sum(
        d["attempts"] for d in found) >= attempts and all(d["status"] != "SENDING" for d in found),
        what=f"{attempts} attempts recorded, none being sent")


async def endpoint_row(api, disabled: bool) -> dict[str, Any]:
    """The one endpoint, once it is (or is not) disabled."""
    async def row() -> dict[str, Any]:
        [only] = (await api.gql(ENDPOINTS))["data"]["webhookEndpoints"]
        return only

    return await eventually(row, lambda r: r["enabled"] is not disabled, what=f"the endpoint disabled: {disabled}")


async def product(api) -> None:
    made = await api.gql('mutation { upsertProduct(input: {sku: "MUG", name: "Mug", price: {amount: "9.50"}}) '
                         "{ userErrors { code } } }")
    assert made["data"]["upsertProduct"]["userErrors"] == []


@pytest.mark.api_settings(webhooks=ALLOWED)
async def test_a_receiver_gets_signed_deliveries_of_the_events_it_chose(api, receiver):
    await product(api)
    endpoint_id, secret = await endpoint(api, receiver.url, ["ORDER_PLACED", "BACKORDER_CREATED"])
    response = await api.client.post(f"{api.base}/graphql", json={"query": ORDER},
                                     headers={"Authorization": f"Bearer {api.token}"})
    request_id = response.headers["x-request-id"]
    received = await receiver.wait_for(2)
    # stock.changed etc. were not chosen: no delivery of theirs was recorded (with the events, in their transaction)
    assert len(await deliveries(api, endpoint_id)) == 2
    assert len(receiver.requests) == 2
    assert {r.event["type"] for r in received} == {"order.placed", "backorder.created"}
    for r in received:
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-backorder-event-id"] == r.event["id"]
        assert r.headers["x-backorder-event"] == r.event["type"]
        assert r.headers["x-backorder-signature"].startswith("sha256=")
        assert verify(secret, r.headers["x-backorder-timestamp"], r.body, r.headers["x-backorder-signature"],
                      now=api.clock.now().timestamp())
    created = next(r.event for r in received if r.event["type"] == "backorder.created")
    assert created["data"]["sku"] == "MUG" and created["data"]["customerEmail"] == "ann@example.com"
    log = await deliveries(api, endpoint_id)
    assert [(d["status"], d["attempts"], d["lastStatusCode"]) for d in log] == [("DELIVERED", 1, 200)] * 2
    assert {d["requestId"] for d in log} == {request_id}  # traced to the request that placed the order


@pytest.mark.api_settings(webhooks=ALLOWED)
async def test_goodwill_given_is_delivered_without_the_agents_note(api, receiver):
    await product(api)
    placed = (await api.gql(ORDER.replace("order { id }", "backorders { id }")))["data"]["placeOrder"]
    await endpoint(api, receiver.url, ["BACKORDER_GOODWILL_OFFERED"])
    given = await api.gql("""mutation($id: ID!) { offerGoodwill(input: {backorderId: $id, note: "VIP complaint",
        credit: {amount: "5", currency: "EUR"}, discountCode: "SORRY5"}) { userErrors { code } } }""",
                          {"id": placed["backorders"][0]["id"]})
    assert given["data"]["offerGoodwill"]["userErrors"] == []
    [received] = await receiver.wait_for(1)
    assert received.event["type"] == "backorder.goodwill_offered"
    data = received.event["data"]
    assert (data["creditAmount"], data["creditCurrency"], data["discountCode"]) == ("5.00", "EUR", "SORRY5")
    assert "VIP complaint" not in received.body.decode()


@pytest.mark.api_settings(webhooks=ALLOWED)
async def test_a_purchase_order_received_says_where_its_units_were_received(api, receiver):
    await product(api)
    await api.desk.upsert_location("LEEDS", "Leeds store")
    po = await api.desk.create_purchase_order((await api.desk.upsert_supplier(None, "Acme", 10)).id,
                                              api.clock.today(), [LineRequest("MUG", 2)], number="PO-7")
    await endpoint(api, receiver.url, ["PURCHASE_ORDER_RECEIVED"])
    received = await api.gql("""mutation($id: ID!) { receivePurchaseOrder(input: {id: $id, location: "LEEDS"}) {
        userErrors { code } } }""", {"id": encode_id("PurchaseOrder", po.id)})
    assert received["data"]["receivePurchaseOrder"]["userErrors"] == []
    [delivery] = await receiver.wait_for(1)
    assert delivery.event["type"] == "purchase_order.received"
    assert (delivery.event["data"]["number"], delivery.event["data"]["location"]) == ("PO-7", "LEEDS")


@pytest.mark.api_settings(webhooks=ALLOWED)
async def test_a_500_is_retried_after_a_backoff_and_delivered_once_with_the_same_id(api, receiver):
    await product(api)
    receiver.answers = [500]
    endpoint_id, secret = await endpoint(api, receiver.url, ["ORDER_PLACED"])
    assert (await api.gql(ORDER))["data"]["placeOrder"]["userErrors"] == []
    [first] = await receiver.wait_for(1)
    [waiting] = await settled(api, endpoint_id, attempts=1)
    await asyncio.sleep(0.3)  # sleep-ok: a silence checked (a slow dispatcher would only weaken it)
    assert len(receiver.requests) == 1  # not before its backoff is over
    assert (waiting["status"], waiting["attempts"], waiting["lastStatusCode"]) == ("QUEUED", 1, 500)
    wait = (datetime.fromisoformat(waiting["nextAttemptAt"]) - api.clock.now()).total_seconds()
    assert 0.8 * 60 <= wait <= 1.2 * 60  # the first backoff, with its jitter
    [endpoint_row] = (await api.gql(ENDPOINTS))["data"]["webhookEndpoints"]
    assert endpoint_row["failingSince"] is not None and endpoint_row["enabled"]

    api.clock.advance(timedelta(seconds=wait + 1))
    second = (await receiver.wait_for(2))[1]
    assert second.body == first.body and second.headers["x-backorder-event-id"] == first.headers[
        "x-backorder-event-id"]
    assert verify(secret, second.headers["x-backorder-timestamp"], second.body,
                  second.headers["x-backorder-signature"], now=api.clock.now().timestamp())
    [done] = await settled(api, endpoint_id, attempts=2)
    assert (done["status"], done["attempts"]) == ("DELIVERED", 2)
    assert [a["statusCode"] for a in done["attemptLog"]] == [500, 200]
    # the receiver de-duplicating on the event id has the event exactly once
    accepted = {r.headers["x-backorder-event-id"] for r in receiver.requests[1:]}
    assert len(accepted) == 1 and len(receiver.requests) == 2
    assert (await api.gql(ENDPOINTS))["data"]["webhookEndpoints"][0]["failingSince"] is None

    redelivered = await api.gql("mutation($d: ID!) { redeliverWebhook(input: {deliveryId: $d}) "
                                "{ delivery { status } userErrors { code } } }", {"d": done["id"]})
    assert redelivered["data"]["redeliverWebhook"]["userErrors"] == []
    assert redelivered["data"]["redeliverWebhook"]["delivery"]["status"] in ("QUEUED", "SENDING", "DELIVERED")
    third = (await receiver.wait_for(3))[2]
    assert third.body == first.body


@pytest.mark.api_settings(webhooks=ALLOWED)
async def test_a_retry_is_due_a_backoff_after_the_attempt_was_sent_however_long_the_answer_took(api, receiver):
    # given a receiver that takes 30 s to answer its first request with a 500 (the backoff is 60 s, +-20 %)
    await product(api)
    receiver.answers = [500]
    receiver.while_answering = lambda _: api.clock.advance(timedelta(seconds=30)) if len(receiver.requests) == 1 \
        else None
    endpoint_id, _ = await endpoint(api, receiver.url, ["ORDER_PLACED"])
    # when the event is delivered
    await api.gql(ORDER)
    [first] = await receiver.wait_for(1)
    [waiting] = await settled(api, endpoint_id, attempts=1)
    # then the attempt is logged as sent when it was signed, and its retry is due the backoff after that: the
    # 30 s spent waiting for the answer count towards it
    assert waiting["status"] == "QUEUED", waiting
    sent = datetime.fromisoformat(waiting["attemptLog"][0]["at"])
    assert sent.timestamp() == int(first.headers["x-backorder-timestamp"]) == api.clock.now().timestamp() - 30
    due = datetime.fromisoformat(waiting["nextAttemptAt"])
    assert 0.8 * 60 <= (due - sent).total_seconds() <= 1.2 * 60
    api.clock.set(due + timedelta(seconds=1))
    await receiver.wait_for(2)
    [done] = await settled(api, endpoint_id, attempts=2)
    assert [a["statusCode"] for a in done["attemptLog"]] == [500, 200]


@pytest.mark.api_settings(webhooks=ALLOWED)
async def test_a_receiver_detects_a_forged_or_replayed_delivery(api, receiver):
    await product(api)
    _, secret = await endpoint(api, receiver.url, ["ORDER_PLACED"])
    await api.gql(ORDER)
    [r] = await receiver.wait_for(1)
    timestamp, signature, now = r.headers["x-backorder-timestamp"], r.headers["x-backorder-signature"], \
        api.clock.now().timestamp()
    assert verify(secret, timestamp, r.body, signature, now=now)
    tampered = r.body.replace(b'"backorderedUnits":3', b'"backorderedUnits":0')
    assert tampered != r.body and not verify(secret, timestamp, tampered, signature, now=now)
    assert not verify("whsec_another-shops-secret", timestamp, r.body, signature, now=now)
    assert not verify(secret, str(int(timestamp) + 1), r.body, signature, now=now)  # the timestamp is signed
    assert not verify(secret, timestamp, r.body, signature, now=now + 3600)  # replayed an hour later


@pytest.mark.api_settings(webhooks=ALLOWED)
async def test_redirects_are_not_followed(api, receiver):
    await product(api)
    receiver.answers = [307]
    endpoint_id, _ = await endpoint(api, receiver.url, ["ORDER_PLACED"])
    await api.gql(ORDER)
    await receiver.wait_for(1)
    [delivery] = await settled(api, endpoint_id, attempts=1)  # a redirect followed would be asked for by now
    assert [r.path for r in receiver.requests] == ["/hook"]
    assert delivery["status"] == "QUEUED" and "redirects are not followed" in delivery["lastError"]


@pytest.mark.api_settings(webhooks=ALLOWED)
async def test_an_endpoint_failing_for_a_day_is_disabled(api, receiver):
    await product(api)
    receiver.answers = [500] * 100
    endpoint_id, _ = await endpoint(api, receiver.url, ["ORDER_PLACED"])
    await api.gql(ORDER)
    await receiver.wait_for(1)
    await settled(api, endpoint_id, attempts=1)
    for tries in range(1, 4):  # failing for 18 hours: not yet a day
        api.clock.advance(timedelta(hours=6))  # only once the last failure is recorded: its retry is due now
        await receiver.wait_for(tries + 1)
        await settled(api, endpoint_id, attempts=tries + 1)
    assert (await api.gql(ENDPOINTS))["data"]["webhookEndpoints"][0]["enabled"] is True
    api.clock.advance(timedelta(hours=7))  # 25 hours since the first failure
    await receiver.wait_for(5)
    row = await endpoint_row(api, disabled=True)
    assert row["enabled"] is False and "failed for 24 hours" in row["disabledReason"]
    seen = len(receiver.requests)
    await api.gql(ORDER.replace("quantity: 3", "quantity: 1"))  # a new event: no delivery for a disabled endpoint
    api.clock.advance(timedelta(hours=2))
    await asyncio.sleep(0.3)  # sleep-ok: a silence checked (a slow dispatcher would only weaken it)
    assert len(receiver.requests) == seen
    assert all(d["status"] in ("FAILED", "DEAD") for d in await deliveries(api, endpoint_id))


SSRF = ["http://127.0.0.1:8000/hook", "http://localhost/hook", "http://LOCALHOST./x", "http://169.254.169.254/latest",
        "http://10.0.0.5/hook", "http://192.168.1.1/", "http://172.16.0.1/", "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/", "http://[fe80::1]/",
        "ftp://example.com/hook", "file:///etc/passwd", "gopher://example.com/", "http://user:pw@example.com/",
        "https://", "http://example.com:99999/"]


async def test_requests_to_internal_addresses_are_refused(api):
    for url in SSRF:
        made = (await api.gql(CREATE, {"url": url, "events": ["ORDER_PLACED"]}))["data"]["createWebhookEndpoint"]
        assert made["webhookEndpoint"] is None and made["secret"] is None, url
        assert [(e["field"], e["code"]) for e in made["userErrors"]] == [("url", "INVALID_INPUT")], url
    assert (await api.gql(ENDPOINTS))["data"]["webhookEndpoints"] == []
    made = (await api.gql(CREATE, {"url": "https://8.8.8.8/hook", "events": ["ORDER_PLACED"]}))
    assert made["data"]["createWebhookEndpoint"]["userErrors"] == []  # a public address is fine


@given(st.one_of(*(st.ip_addresses(network=n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/8",
    "224.0.0.0/4", "::1/128", "fc00::/7", "fe80::/10", "::ffff:127.0.0.0/104", "::ffff:10.0.0.0/104",
    "2002:7f00::/24", "2002:a00::/24"))))
def test_no_internal_address_counts_as_public(address):
    assert not public_address(str(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are(address):
    assert public_address(address)


async def test_a_name_resolving_inward_is_refused_when_connecting(receiver):
    """Registration checks the URL; the connection checks again where the name points now (DNS rebinding):
    `localhost` here stands for any name whose address changed after it was registered."""
    guarded = GuardedBackend(allow_private=False)
    port = int(receiver.base.rsplit(":", 1)[1])
    with pytest.raises(RefusedAddress):
        await guarded.connect_tcp("localhost", port)
    with pytest.raises(RefusedAddress):
        await guarded.connect_tcp("127.0.0.1", port)
    stream = await GuardedBackend(allow_private=True).connect_tcp("localhost", port)  # the test configuration
    await stream.aclose()
    assert receiver.requests == []
