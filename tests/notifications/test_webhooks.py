"""What customers and providers tell us afterwards: delivery reports, STOP/START replies, unsubscribe
links, and what each changes (the message's status, the number, the preferences the portal shows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from domain.customers import NotificationPreferences
from domain.store import notify as store
from domain.store.portal import consent_of, get_preferences, preference_changes, save_preferences
from notifications.channels import Outgoing
from notifications.dispatcher import Dispatcher
from notifications.sms import RECIPIENT_DELIVERY_CODES, SmsChannel
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import catalogue, order, send_sign_in_link, signed

ANN_PHONE = "+447700900123"
STATUS_URL = "http://shop.test/webhooks/twilio/status"


async def texting_shop(twilio):
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0))
    await catalogue(shop)
    await save_preferences(NotificationPreferences(email="ann@example.com", by_email=False, by_sms=True,
                                                   phone=ANN_PHONE, quiet_hours_start=None, quiet_hours_end=None))
    return shop


async def post(shop, path: str, params: dict[str, str]) -> httpx.Response:
    app = Starlette(routes=shop.notifications.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as client:
        return await client.post(path, data=params, headers=signed(f"http://shop.test{path}", params))


def test_only_delivery_errors_about_the_number_count_against_it():
    assert {30004, 30005, 30006, 21610, 21211} <= RECIPIENT_DELIVERY_CODES  # blocked, unknown, landline, ...
    assert not {30003, 30007, 30008, 30001} & RECIPIENT_DELIVERY_CODES  # handset off; filtering; unknown; queue


@pytest.mark.parametrize(("code", "opted_out"), [
    ("30005", True),  # unknown number
    ("30003", False),  # handset off or out of coverage: temporary
    ("", False),
])
async def test_a_failed_delivery_fails_the_message_and_only_a_bad_number_is_opted_out(db, twilio, code, opted_out):
    shop = await texting_shop(twilio)
    await order(shop)
    await shop.deliver()
    [row] = await store.OutboxMessage.filter(channel="SMS")
    assert row.status == "SENT"
    report = {"MessageSid": row.provider_id, "MessageStatus": "undelivered", "ErrorCode": code}
    assert (await post(shop, "/webhooks/twilio/status", report)).status_code == 200
    row = await store.OutboxMessage.get(id=row.id)
    assert row.status == "FAILED" and row.delivery_status == "undelivered"  # agents find it under FAILED
    assert (code in (row.last_error or "")) if code else row.last_error == "Twilio delivery undelivered"
    assert await store.sms_opted_out(ANN_PHONE) is opted_out
    # a late, out-of-order "sent" does not undo what is known
    await post(shop, "/webhooks/twilio/status", {"MessageSid": row.provider_id, "MessageStatus": "sent"})
    row = await store.OutboxMessage.get(id=row.id)
    assert row.status == "FAILED" and row.delivery_status == "undelivered"


class ReportBeatsTheMark:
    """Twilio's failure report arrives before the dispatcher has recorded the send."""

    def __init__(self, inner: SmsChannel, shop) -> None:
        self.inner, self.shop, self.name, self.sends = inner, shop, "sms", True

    async def open(self) -> None:
        await self.inner.open()

    async def send(self, message: Outgoing) -> str:
        sid = await self.inner.send(message)
        await post(self.shop, f"/webhooks/twilio/status?message={message.id}",
                   {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "30005"})
        return sid

    async def close(self) -> None:
        await self.inner.close()


async def test_a_report_that_beats_the_record_of_the_send_is_kept(db, twilio):
    shop = await texting_shop(twilio)
    await order(shop)
    await shop.dispatcher.compose_due()
    channel = SmsChannel(shop.notifications.settings.twilio, status_callback=STATUS_URL)
    await Dispatcher(shop.notifications.settings, shop.clock, sms=ReportBeatsTheMark(channel, shop)).send_due()
    [row] = await store.OutboxMessage.filter(channel="SMS")
    assert row.status == "FAILED" and row.provider_id is not None and row.sent_at is not None
    assert await store.sms_opted_out(ANN_PHONE)


async def test_stop_turns_texts_off_in_the_preferences_and_start_turns_them_back_on(db, twilio):
    shop = await texting_shop(twilio)
    reply = await post(shop, "/webhooks/twilio/inbound", {"From": ANN_PHONE, "Body": "Stop"})
    assert "no more texts" in reply.text
    assert (await get_preferences("ann@example.com")).by_sms is False  # what the portal shows
    assert await store.sms_opted_out(ANN_PHONE)
    assert (await consent_of("ann@example.com")).sms_at is None  # no agent turns texts back on for her now
    await post(shop, "/webhooks/twilio/inbound", {"From": ANN_PHONE, "Body": "START"})
    assert (await get_preferences("ann@example.com")).by_sms is True
    assert not await store.sms_opted_out(ANN_PHONE)
    assert (await consent_of("ann@example.com")).sms_phone == ANN_PHONE  # her own START is her consent
    changes = [(c.field, c.old_value, c.new_value) for c in await preference_changes("ann@example.com")]
    assert changes == [("by_sms", "off", "on"), ("by_sms", "on", "off")]  # both kept, the latest first


async def test_start_from_a_number_that_bounced_does_not_choose_texts_for_the_customer(db, twilio):
    shop = await texting_shop(twilio)
    prefs = await get_preferences("ann@example.com")
    prefs.by_sms = False
    await save_preferences(prefs)
    await store.set_sms_consent(ANN_PHONE, True, datetime(2026, 3, 1, tzinfo=UTC), "undeliverable (30005)")
    await post(shop, "/webhooks/twilio/inbound", {"From": ANN_PHONE, "Body": "START"})
    assert not await store.sms_opted_out(ANN_PHONE)
    assert (await get_preferences("ann@example.com")).by_sms is False


async def unsubscribe(shop, smtp) -> None:
    link = smtp.messages[-1]["List-Unsubscribe"].strip("<>").removeprefix("http://shop.test")
    app = Starlette(routes=shop.notifications.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as client:
        assert (await client.post(link, data={"List-Unsubscribe": "One-Click"})).status_code == 200


async def test_a_sign_in_link_still_goes_after_an_unsubscribe(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    await catalogue(shop)
    await order(shop)
    await shop.deliver()
    await unsubscribe(shop, smtp)
    # email is off, her consent to it withdrawn (no agent turns it back on), and the change kept
    assert (await get_preferences("ann@example.com")).by_email is False
    assert (await consent_of("ann@example.com")).email_at is None
    assert [(c.by, c.field, c.new_value) for c in await preference_changes("ann@example.com")] == [
        ("unsubscribe link", "by_email", "off")]
    await send_sign_in_link(shop, "ann@example.com", shop.clock.now() + timedelta(minutes=30))
    await shop.deliver()
    assert smtp.messages[-1]["Subject"] == "Your link to see your orders"
    assert [r.status for r in await store.OutboxMessage.filter(kind="PORTAL_LINK")] == ["SENT"]


async def test_no_sign_in_link_goes_to_an_address_that_does_not_exist(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    await catalogue(shop)
    smtp.handler.refuse.add("ghost@example.com")
    await order(shop, "ghost@example.com")
    await shop.deliver()
    assert await store.is_email_suppressed("ghost@example.com", transactional=True)
    await store.suppress_email("ghost@example.com", store.UNSUBSCRIBED, shop.clock.now())  # does not hide the bounce
    await send_sign_in_link(shop, "ghost@example.com", shop.clock.now() + timedelta(minutes=30))
    await shop.deliver()
    assert smtp.messages == []
    assert [r.status for r in await store.OutboxMessage.filter(kind="PORTAL_LINK")] == ["SUPPRESSED"]
