"""Notifications end to end: domain change -> outbox (same transaction) -> digest -> real SMTP server
(aiosmtpd) and the real twilio client against a local stand-in."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import unquote

import httpx
import pytest
from starlette.applications import Starlette
from twilio.request_validator import RequestValidator

from domain.causes import RequestedBy
from domain.customers import NotificationPreferences
from domain.errors import DomainError, ErrorCode
from domain.model import Channel
from domain.services import CustomerDetails, LineRequest, ProductInput
from domain.store import notify as store
from domain.store.portal import save_preferences
from tests.notifications.conftest import AUTH_TOKEN, make_settings, make_shop

WINDOW = timedelta(seconds=601)


async def catalogue(shop, stock: int = 1) -> dict[str, str]:
    """Given a lamp (1 in stock, substitute in stock) and a PO of 5 due 10 March."""
    desk = shop.desk
    supplier = await desk.upsert_supplier(None, "Lumen Ltd", 20)
    await desk.upsert_product(ProductInput(sku="LAMP-ALT", name="Brass desk lamp", price=Decimal("34"), currency="GBP"))
    await desk.upsert_product(ProductInput(sku="LAMP", name="Anglepoise lamp", price=Decimal("29.50"), currency="GBP",
                                           substitutes=("LAMP-ALT",), supplier_id=supplier.id))
    if stock:
        await desk.receive_stock("LAMP", stock)
    await desk.receive_stock("LAMP-ALT", 10)
    po = await desk.create_purchase_order(supplier.id, date(2026, 3, 10), [LineRequest("LAMP", 5)], number="PO-9")
    return {"po": po.id, "supplier": supplier.id}


async def order(shop, email: str = "ann@example.com", quantity: int = 3, name: str = "Ann Baker",
                phone: str | None = None):
    return await shop.desk.place_order(CustomerDetails(email, name, phone), Channel.ONLINE,
                                       [LineRequest("LAMP", quantity)])


def plain(mail) -> str:
    return mail.get_body(("plain",)).get_content().replace("\r\n", "\n")


async def statuses() -> list[tuple[str, str, str]]:
    rows = await store.OutboxMessage.all().order_by("created_at", "id")
    return [(r.channel, r.recipient, r.status) for r in rows]


async def test_backorder_created_email_says_what_when_and_how_to_stop(db, smtp):
    shop = make_shop(make_settings(smtp, None))
    await catalogue(shop)
    await order(shop)
    await shop.deliver()
    assert smtp.messages == []  # the coalescing window is still open
    shop.clock.advance(WINDOW)
    await shop.deliver()
    [mail] = smtp.messages
    assert mail["To"] == "ann@example.com"
    assert mail["From"] == "Lamp & Co <orders@shop.test>"
    assert mail["Subject"] == "Anglepoise lamp: on backorder"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Hello Ann," in text
    assert "We did not have enough in stock, so we will send what is missing as soon as it arrives." in text
    assert "Now: 2 still on backorder." in text
    assert "You are next in line: no order is waiting before yours." in text
    assert "Expected: 10 March 2026 (confirmed by the supplier)." in text
    assert "http://shop.test/" in text
    html = mail.get_body(("html",)).get_content()
    assert "<strong>10 March 2026</strong>" in html
    unsubscribe = mail["List-Unsubscribe"]
    assert unsubscribe.startswith("<http://shop.test/unsubscribe?token=")
    # RFC 2369/8058: the URL as is on one header line; an encoded-word is not a link to a mail client
    assert f"List-Unsubscribe: {unsubscribe}\r\n".encode() in smtp.handler.raw[0]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Message-ID"].endswith("@backorder-desk>")
    assert await statuses() == [("EMAIL", "ann@example.com", "SENT")]


async def test_changes_in_one_window_are_one_message_and_an_undone_change_sends_nothing(db, smtp):
    shop = make_shop(make_settings(smtp, None))
    ids = await catalogue(shop, stock=0)
    await shop.desk.place_order(CustomerDetails("ann@example.com", "Ann"), Channel.ONLINE,
                                [LineRequest("LAMP", 2), LineRequest("LAMP-ALT", 1)])
    await shop.desk.place_order(CustomerDetails("ann@example.com", "Ann"), Channel.PHONE, [LineRequest("LAMP", 1)])
    shop.clock.advance(WINDOW)
    await shop.deliver()
    [first] = smtp.messages
    assert first["Subject"] == "Updates on 2 items you ordered"
    # the PO slips to 20 March and back to 10 March within ten minutes: nothing to say
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 3, 20))
    shop.clock.advance(timedelta(minutes=3))
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 3, 10))
    shop.clock.advance(WINDOW)
    await shop.deliver()
    assert len(smtp.messages) == 1
    # a real move is news: one message listing both backorders
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 3, 17))
    shop.clock.advance(WINDOW)
    await shop.deliver()
    assert len(smtp.messages) == 2
    text = smtp.messages[1].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.count("The expected date has moved from 10 March 2026 to 17 March 2026.") == 2


async def test_small_eta_moves_below_the_threshold_are_not_news(db, smtp):
    shop = make_shop(make_settings(smtp, None, eta_threshold_days=3))
    ids = await catalogue(shop)
    await order(shop)
    shop.clock.advance(WINDOW)
    await shop.deliver()
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 3, 12))
    shop.clock.advance(WINDOW)
    await shop.deliver()
    assert len(smtp.messages) == 1


async def test_window_zero_sends_at_once(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    await catalogue(shop)
    await order(shop)
    await shop.deliver()
    assert len(smtp.messages) == 1


async def test_allocation_shipment_and_cancellation_messages(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    ids = await catalogue(shop)
    placed = await order(shop)
    await shop.deliver()
    await shop.desk.receive_purchase_order(ids["po"])
    await shop.deliver()
    assert smtp.messages[-1]["Subject"] == "Anglepoise lamp: ready to ship"
    assert "Good news: it has arrived and is set aside for you, ready to ship." in plain(smtp.messages[-1])
    assert "Now: 2 set aside for you." in plain(smtp.messages[-1])
    await shop.desk.ship_allocated(placed.id)
    await shop.deliver()
    assert smtp.messages[-1]["Subject"] == "Anglepoise lamp: on its way"
    other = await order(shop, "bob@example.com", quantity=10)
    await shop.deliver()
    backorder_id = other.lines[0].backorder_id
    await shop.desk.cancel_backorder(backorder_id, 2, by="customer", reason="changed my mind")
    await shop.deliver()
    assert ("Part of it is cancelled, as you asked. You will not be charged for cancelled items.\n"
            "  Now: 5 still on backorder; 2 cancelled.")  # 3 of his 10 were in stock in plain(smtp.messages[-1])
    await shop.desk.cancel_backorder(backorder_id, by="agent Sam", reason="discontinued", requested_by=RequestedBy.SHOP)
    await shop.deliver()
    assert "we had to cancel it" in smtp.messages[-1].get_body(("plain",)).get_content().replace("\r\n", "\n")


async def test_long_delay_offers_options_and_goodwill(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0, long_delay_days=14,
                                   goodwill_text="As an apology, 10% off your next order.", goodwill_code="SORRY10"))
    ids = await catalogue(shop)
    await order(shop)
    await shop.deliver()
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 4, 15))
    await shop.deliver()
    mail = smtp.messages[-1]
    assert mail["Subject"] == "Anglepoise lamp: delayed: your options"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "It is taking longer than we first said: now expected 15 April 2026." in text
    assert "take an alternative we have in stock (Brass desk lamp)" in text
    assert "As an apology, 10% off your next order. Code: SORRY10" in text


async def test_sms_waits_for_the_end_of_quiet_hours(db, smtp, twilio):
    shop = make_shop(make_settings(smtp, twilio, coalesce_seconds=0))
    await catalogue(shop)
    await save_preferences(NotificationPreferences(
        email="ann@example.com", by_email=True, by_sms=True, phone="+447700900123",
        quiet_hours_start=time(21, 0), quiet_hours_end=time(8, 0), timezone="Europe/London"))
    shop.clock.set(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))  # 3 a.m. in London
    await order(shop)
    await shop.deliver()
    assert len(smtp.messages) == 1  # email is not held back
    assert twilio.requests == []  # no text at 3 a.m.
    shop.clock.set(datetime(2026, 3, 2, 7, 59, tzinfo=UTC))
    await shop.deliver()
    assert twilio.requests == []
    shop.clock.set(datetime(2026, 3, 2, 8, 0, 30, tzinfo=UTC))
    await shop.deliver()
    [sms] = twilio.requests
    assert sms["To"] == "+447700900123" and sms["From"] == "+15005550006"
    assert sms["Body"].startswith("Lamp & Co: Anglepoise lamp: on backorder; 2 waiting, exp. 10 Mar.")
    assert sms["Body"].endswith("Reply STOP to opt out")
    assert len(sms["Body"]) <= 160
    [row] = await store.OutboxMessage.filter(channel="SMS")
    # the outbox id rides along, so a delivery report that beats our record of the send still finds it
    assert sms["StatusCallback"] == f"http://shop.test/webhooks/twilio/status?message={row.id}"
    assert sms["_auth"].startswith("Basic ")


def signed(url: str, params: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, params)}


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


async def test_smtp_down_then_every_message_delivered_exactly_once(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0, retry_base_seconds=30))
    await catalogue(shop, stock=0)
    smtp.stop()
    for n in range(5):
        await order(shop, f"c{n}@example.com", quantity=1)
    await shop.deliver()
    rows = await store.OutboxMessage.all()
    assert len(rows) == 5 and {r.status for r in rows} == {"QUEUED"}
    assert all(r.attempts == 1 and "unreachable" in (r.last_error or "") for r in rows)
    shop.clock.advance(timedelta(seconds=10))
    await shop.deliver()  # still backing off: nothing retried yet
    assert {r.attempts for r in await store.OutboxMessage.all()} == {1}
    smtp.start()
    shop.clock.advance(timedelta(minutes=5))
    await shop.deliver()
    await shop.deliver()
    assert sorted(m["To"] for m in smtp.messages) == [f"c{n}@example.com" for n in range(5)]
    assert len({m["Message-ID"] for m in smtp.messages}) == 5
    assert {r.status for r in await store.OutboxMessage.all()} == {"SENT"}


async def test_a_permanent_failure_stops_retries_and_is_recorded(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    await catalogue(shop)
    smtp.handler.refuse.add("ghost@example.com")
    await order(shop, "ghost@example.com")
    await shop.deliver()
    [row] = await store.OutboxMessage.all()
    assert row.status == "FAILED" and "550" in (row.last_error or "")
    assert await store.is_email_suppressed("ghost@example.com")
    shop.clock.advance(timedelta(hours=2))
    await shop.deliver()
    assert (await store.OutboxMessage.get(id=row.id)).attempts == 1


async def test_transient_failures_retry_then_dead_letter(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0, max_attempts=3, retry_base_seconds=1))
    await catalogue(shop)
    smtp.handler.defer.add("slow@example.com")
    await order(shop, "slow@example.com")
    for _ in range(4):
        await shop.deliver(rounds=1)
        shop.clock.advance(timedelta(minutes=10))
    [row] = await store.OutboxMessage.all()
    assert row.status == "DEAD" and row.attempts == 3 and "451" in (row.last_error or "")


async def test_twilio_rate_limit_is_retried_and_invalid_number_is_permanent(db, twilio):
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    for email, phone in (("ann@example.com", "+447700900123"), ("bad@example.com", "+15005550001")):
        await save_preferences(NotificationPreferences(email=email, by_email=False, by_sms=True, phone=phone,
                                                       quiet_hours_start=None, quiet_hours_end=None))
    twilio.fail_next(429, 20429, "Too Many Requests")
    await order(shop, "ann@example.com", quantity=1)
    await shop.deliver()
    [row] = await store.OutboxMessage.all()
    assert row.status == "QUEUED" and row.next_attempt_at >= shop.clock.now() + timedelta(seconds=30)
    shop.clock.advance(timedelta(minutes=3))
    await shop.deliver()
    assert len(twilio.requests) == 1
    twilio.fail_next(400, 21211, "The 'To' number +15005550001 is not a valid phone number.")
    await order(shop, "bad@example.com", quantity=1)
    await shop.deliver()
    bad = await store.OutboxMessage.get(recipient="+15005550001")
    assert bad.status == "FAILED" and "21211" in (bad.last_error or "")
    assert await store.sms_opted_out("+15005550001")


async def test_one_smtp_connection_serves_a_batch(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    for n in range(20):
        await order(shop, f"c{n}@example.com", quantity=1)
    before = smtp.connections
    await shop.deliver(rounds=1)
    assert len(smtp.messages) == 20
    assert smtp.connections - before == 1


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


async def test_without_providers_messages_are_logged_not_sent(db, caplog):
    shop = make_shop(make_settings(None, None, coalesce_seconds=0))
    await catalogue(shop)
    await order(shop)
    await shop.deliver()
    [row] = await store.OutboxMessage.all()
    assert row.status == "LOGGED" and row.last_error == "not sent: no provider configured"
    assert "NOT SENT (no email provider configured) to ann@example.com" in caplog.text


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
