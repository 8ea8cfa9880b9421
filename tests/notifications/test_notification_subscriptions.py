"""Notification opt-outs and subscriptions over the real webhooks: STOP by SMS stops texts and unsigned webhooks
are refused, delivery-status callbacks are recorded, one-click unsubscribe stops email, back-in-stock subscribers
are told once and fairly, an SMS subscription needs a YES, and the public form cannot make the shop text without
limit (nor past its ceiling under concurrent requests). Shared helpers are in support.py."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import unquote

import httpx
import pytest
from starlette.applications import Starlette

from domain.customers import NotificationPreferences
from domain.errors import DomainError, ErrorCode
from domain.services import ProductInput
from domain.store import notify as store
from domain.store.portal import save_preferences
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import catalogue, order, signed


async def test_stop_by_sms_stops_texts_and_unsigned_webhooks_are_refused(db, smtp, twilio):
    shop = make_shop(make_settings(smtp, twilio, coalesce_seconds=0))
    await catalogue(shop)
    await save_preferences(NotificationPreferences(email="ann@example.com", by_sms=True, phone="+447700900123",
                                                   quiet_hours_start=None, quiet_hours_end=None))
    app = Starlette(routes=shop.notifications.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as client:
        params = {"From": "+447700900123", "Body": " stop ", "MessageSid": "SM1"}
        unsigned = await client.post("/webhooks/twilio/inbound", data=params)
        assert unsigned.status_code == 403
        forged = await client.post("/webhooks/twilio/inbound", data=params, headers={"X-Twilio-Signature": "abc"})
        assert forged.status_code == 403
        ok = await client.post("/webhooks/twilio/inbound", data=params,
                               headers=signed("http://shop.test/webhooks/twilio/inbound", params))
        assert ok.status_code == 200 and "no more texts" in ok.text
    await order(shop)
    await shop.deliver()
    assert twilio.requests == []  # opted out: no SMS, not even queued
    assert len(smtp.messages) == 1
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as client:
        params = {"From": "+447700900123", "Body": "START"}
        await client.post("/webhooks/twilio/inbound", data=params,
                          headers=signed("http://shop.test/webhooks/twilio/inbound", params))
    await order(shop, quantity=1)
    await shop.deliver()
    assert len(twilio.requests) == 1


async def test_delivery_status_callback_is_recorded(db, twilio):
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0))
    await catalogue(shop)
    await save_preferences(NotificationPreferences(email="ann@example.com", by_email=False, by_sms=True,
                                                   phone="+447700900123", quiet_hours_start=None,
                                                   quiet_hours_end=None))
    await order(shop)
    await shop.deliver()
    [row] = await store.OutboxMessage.filter(channel="SMS")
    params = {"MessageSid": row.provider_id, "MessageStatus": "delivered"}
    app = Starlette(routes=shop.notifications.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as client:
        assert (await client.post("/webhooks/twilio/status", data=params)).status_code == 403
        response = await client.post("/webhooks/twilio/status", data=params,
                                     headers=signed("http://shop.test/webhooks/twilio/status", params))
    assert response.status_code == 200
    assert (await store.OutboxMessage.get(id=row.id)).delivery_status == "delivered"


async def test_one_click_unsubscribe_stops_email(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    ids = await catalogue(shop)
    await order(shop)
    await shop.deliver()
    link = smtp.messages[0]["List-Unsubscribe"].strip("<>")
    path = link.removeprefix("http://shop.test")
    app = Starlette(routes=shop.notifications.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as client:
        page = await client.get(path)  # a link scanner's GET changes nothing
        assert page.status_code == 200 and "Stop these messages?" in page.text
        assert not await store.is_email_suppressed("ann@example.com")
        bad = await client.post(path.replace("ann", "bob"), data={"List-Unsubscribe": "One-Click"})
        assert bad.status_code == 400
        done = await client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "unsubscribed" in done.text
    assert "ann@example.com" in unquote(path)
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 3, 25))
    await shop.deliver()
    assert len(smtp.messages) == 1


async def test_back_in_stock_subscribers_are_told_once_earliest_first(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    for who in ("first@example.com", "second@example.com", "third@example.com"):
        assert await shop.notifications.subscribe_to_product("LAMP-ALT", who, None) == "ACTIVE"
        shop.clock.advance(timedelta(seconds=1))
    assert await shop.notifications.subscribe_to_product("LAMP-ALT", "first@example.com", None) == "ACTIVE"
    await shop.desk.receive_stock("LAMP-ALT", 2)  # in stock already (10): only two can be told per 2 units? no:
    await shop.deliver()
    told = [m["To"] for m in smtp.messages]
    # LAMP-ALT had 10 available, so all three hear, earliest first, exactly once
    assert told == ["first@example.com", "second@example.com", "third@example.com"]
    assert smtp.messages[0]["Subject"] == "Brass desk lamp is back in stock"
    await shop.desk.receive_stock("LAMP-ALT", 1)
    await shop.deliver()
    assert len(smtp.messages) == 3


async def test_back_in_stock_is_fair_when_few_units_arrive(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    await shop.desk.upsert_product(ProductInput(sku="RARE", name="Rare lamp", price=Decimal("99"), currency="GBP"))
    for who in ("a@example.com", "b@example.com", "c@example.com"):
        await shop.notifications.subscribe_to_product("RARE", who, None)
        shop.clock.advance(timedelta(seconds=1))
    await shop.desk.receive_stock("RARE", 2)
    await shop.deliver()
    assert [m["To"] for m in smtp.messages] == ["a@example.com", "b@example.com"]
    await shop.desk.receive_stock("RARE", 5)
    await shop.deliver()
    assert [m["To"] for m in smtp.messages] == ["a@example.com", "b@example.com", "c@example.com"]


async def test_sms_subscription_needs_a_yes(db, twilio):
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    await shop.desk.upsert_product(ProductInput(sku="RARE", name="Rare lamp", price=Decimal("99"), currency="GBP"))
    assert await shop.notifications.subscribe_to_product("RARE", None, "+447700900555") == "PENDING"
    await shop.deliver()
    assert twilio.bodies == ["Lamp & Co: reply YES to get one text when Rare lamp is back in stock. "
                             "Reply STOP to opt out"]
    await shop.desk.receive_stock("RARE", 1)
    await shop.deliver()
    assert len(twilio.requests) == 1  # not confirmed: not told
    app = Starlette(routes=shop.notifications.routes())
    params = {"From": "+447700900555", "Body": "yes"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as client:
        reply = await client.post("/webhooks/twilio/inbound", data=params,
                                  headers=signed("http://shop.test/webhooks/twilio/inbound", params))
    assert "we will text you once" in reply.text
    await shop.desk.receive_stock("RARE", 1)
    await shop.deliver()
    assert twilio.bodies[-1].startswith("Lamp & Co: Rare lamp is back in stock.")


async def test_a_public_form_cannot_make_the_shop_text_without_limit(db, twilio):
    # given a shop that allows 3 opt-in texts an hour in all
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0, opt_in_sms_per_hour=3))
    await catalogue(shop, stock=0)
    await shop.desk.upsert_product(ProductInput(sku="RARE", name="Rare lamp", price=Decimal("99"), currency="GBP"))
    for n in range(3):
        assert await shop.notifications.subscribe_to_product("RARE", None, f"+44770090060{n}") == "PENDING"
    # when a fourth number asks, it is refused as rate limited, and nothing more is texted
    with pytest.raises(DomainError) as refused:
        await shop.notifications.subscribe_to_product("RARE", None, "+447700900609")
    assert (refused.value.code, refused.value.field) == (ErrorCode.RATE_LIMITED, "phone")
    await shop.deliver()
    assert len(twilio.requests) == 3
    # email subscriptions are not texts: they still work
    assert await shop.notifications.subscribe_to_product("RARE", "zoe@example.com", None) == "ACTIVE"
    # and an hour later texting opens again
    shop.clock.advance(timedelta(hours=1, seconds=1))
    assert await shop.notifications.subscribe_to_product("RARE", None, "+447700900609") == "PENDING"


async def test_the_opt_in_ceiling_counts_texts_and_holds_under_concurrent_requests(db, twilio):
    # given a ceiling of 3 texts an hour, and a number that replied STOP (subscribing it sends no text)
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0, opt_in_sms_per_hour=3))
    await catalogue(shop, stock=0)
    await shop.desk.upsert_product(ProductInput(sku="RARE", name="Rare lamp", price=Decimal("99"), currency="GBP"))
    await store.record_sms_opt_out("+447700900699", shop.clock.now(), "STOP")
    assert await shop.notifications.subscribe_to_product("RARE", None, "+447700900699") == "PENDING"
    # when ten numbers ask at once, exactly three are texted and the rest are refused as rate limited
    outcomes = await asyncio.gather(*(shop.notifications.subscribe_to_product("RARE", None, f"+44770090061{n}")
                                      for n in range(10)), return_exceptions=True)
    assert outcomes.count("PENDING") == 3, outcomes
    assert all(getattr(o, "code", None) is ErrorCode.RATE_LIMITED for o in outcomes if o != "PENDING"), outcomes
    await shop.deliver()
    assert len(twilio.requests) == 3
