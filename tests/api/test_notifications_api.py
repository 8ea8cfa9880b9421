"""Agents and the outbox over the API: every field of a `Notification`, and `retryNotification` queueing a
dead message again (which the dispatcher then sends), refusing one that is not failed or dead, and one that
does not exist."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.ids import encode_id
from domain.store import notify as store
from tests.api import support as s
from tests.waiting import eventually

FIELDS = ("id kind channel recipient customerEmail subject body status deliveryStatus attempts lastError "
          "createdAt nextAttemptAt sentAt")
RETRY = f"""mutation($id: ID!) {{ retryNotification(input: {{id: $id}}) {{
  notification {{ {FIELDS} }} userErrors {{ field message code }} }} }}"""
ONE = f"query($id: ID!) {{ notification(id: $id) {{ {FIELDS} }} }}"


async def _dead_message(api) -> str:
    """Given an email to Ann that was tried 8 times and given up on."""
    created = api.clock.now() - timedelta(hours=2)
    assert await store.enqueue(key="digest:ann:1", kind="DIGEST", channel="EMAIL", recipient="ann@example.com",
                               customer_email="ann@example.com", subject="Your backorder", body_text="It moved.",
                               now=created)
    [entry], _, _ = await store.list_outbox(first=1)
    await store.mark(entry.id, status=store.DEAD, attempts=8, last_error="451 try again later",
                     delivery_status="undelivered")
    return encode_id("Notification", entry.id)


async def test_a_notification_shows_every_field(api):
    gid = await _dead_message(api)
    shown = (await api.gql(ONE, {"id": gid}))["data"]["notification"]
    assert shown == {
        "id": gid, "kind": "DIGEST", "channel": "EMAIL", "recipient": "ann@example.com",
        "customerEmail": "ann@example.com", "subject": "Your backorder", "body": "It moved.", "status": "DEAD",
        "deliveryStatus": "undelivered", "attempts": 8, "lastError": "451 try again later",
        "createdAt": (api.clock.now() - timedelta(hours=2)).isoformat(),
        "nextAttemptAt": None,  # only a queued message has a next attempt
        "sentAt": None}
    listed = (await api.gql("{ notifications(filter: {status: [DEAD], channel: EMAIL, customerEmail: "
                            '" Ann@Example.com"}) { totalCount nodes { id } } }'))["data"]["notifications"]
    assert listed == {"totalCount": 1, "nodes": [{"id": gid}]}


async def test_retrying_a_dead_message_queues_it_again_and_it_is_sent(api):
    gid = await _dead_message(api)
    retried = (await api.gql(RETRY, {"id": gid}))["data"]["retryNotification"]
    assert retried["userErrors"] == []
    again = retried["notification"]
    assert (again["status"], again["attempts"], again["lastError"]) == ("QUEUED", 0, None)
    assert again["nextAttemptAt"] == api.clock.now().isoformat()
    # the dispatcher was woken: with no SMTP configured the message is logged as not sent, one try
    async def shown() -> dict[str, Any]:
        return (await api.gql(ONE, {"id": gid}))["data"]["notification"]

    sent = await eventually(shown, lambda n: n["status"] not in ("QUEUED", "SENDING"),
                            what="the woken dispatcher tries the message")
    assert (sent["status"], sent["attempts"], sent["sentAt"]) == ("LOGGED", 1, api.clock.now().isoformat())
    # a message that has not failed is not retried
    refused = (await api.gql(RETRY, {"id": gid}))["data"]["retryNotification"]
    assert refused["notification"] is None
    assert [(e["code"], e["message"]) for e in refused["userErrors"]] == [
        ("INVALID_STATE", "only failed or dead messages can be retried; this one is LOGGED")]


async def test_retrying_an_unknown_message_is_not_found(api):
    gid = encode_id("Notification", "0" * 32)
    refused = (await api.gql(RETRY, {"id": gid}))["data"]["retryNotification"]
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("id", "NOT_FOUND")]


async def test_an_agent_offers_a_listed_substitute(api):
    # given Ann's mug backordered, with a cup listed as its substitute and in stock
    await s.product(api.desk, "CUP", stock=5, price="12.00")
    await s.product(api.desk, "MUG", price="10.00", substitutes=["CUP"])
    [backorder] = s.backorder_ids(await s.order(api.desk, "ann@example.com", ("MUG", 2)))
    offer = """mutation($id: ID!, $sku: String!) { offerSubstitute(input: {backorderId: $id, substituteSku: $sku}) {
      backorder { id status backorderedQuantity } userErrors { field code } } }"""
    # when an agent offers the cup
    offered = (await api.gql(offer, {"id": backorder, "sku": "CUP"}))["data"]["offerSubstitute"]
    # then the backorder waits as before, and Ann's next message will carry the offer (recorded for her)
    assert offered["userErrors"] == []
    assert (offered["backorder"]["id"], offered["backorder"]["status"],
            offered["backorder"]["backorderedQuantity"]) == (backorder, "WAITING", 2)
    recorded = await store.NotificationEvent.filter(kind="SubstituteOffered").values_list("email", "sku")
    assert recorded == [("ann@example.com", "MUG")]
    # an item that is not a listed substitute is not offered
    refused = (await api.gql(offer, {"id": backorder, "sku": "MUG"}))["data"]["offerSubstitute"]
    assert refused["userErrors"] == [{"field": "substituteSku", "code": "NOT_A_SUBSTITUTE"}]
