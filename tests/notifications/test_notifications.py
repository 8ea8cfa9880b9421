"""Notifications end to end, what they say and when: domain change -> outbox (same transaction) -> digest ->
real SMTP server (aiosmtpd) and the real twilio client against a local stand-in. Covers the wording of each kind
of message, the coalescing window, ETA thresholds, long-delay offers, SMS quiet hours and running without
providers. Delivery failures and retries are in test_notification_delivery.py; opt-outs, unsubscribing and
back-in-stock subscriptions in test_notification_subscriptions.py; shared helpers in support.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from domain.causes import RequestedBy
from domain.customers import NotificationPreferences
from domain.model import Channel
from domain.services import CustomerDetails, LineRequest
from domain.store import notify as store
from domain.store.portal import save_preferences
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import WINDOW, catalogue, order, plain, statuses

# the consumers of committed events, with a long queue's change in either form (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("both_event_forms")


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
                                   goodwill_texts={"en": "As an apology, 10% off your next order."},
                                   goodwill_code="SORRY10"))
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


async def test_without_providers_messages_are_logged_not_sent(db, caplog):
    shop = make_shop(make_settings(None, None, coalesce_seconds=0))
    await catalogue(shop)
    await order(shop)
    await shop.deliver()
    [row] = await store.OutboxMessage.all()
    assert row.status == "LOGGED" and row.last_error == "not sent: no provider configured"
    assert "NOT SENT (no email provider configured) to ann@example.com" in caplog.text
