"""Claims and leases: a send never outlives its lease, a lost lease is not sent on, and a crash between
sending and marking sends the message at most once more, recognisably the same message."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from tortoise.transactions import in_transaction

from domain.customers import NotificationPreferences
from domain.store import notify as store
from domain.store.portal import save_preferences
from notifications.channels import Outgoing
from notifications.dispatcher import Dispatcher
from notifications.email import EmailChannel
from notifications.settings import NotificationSettings, TwilioSettings
from notifications.sms import SmsChannel
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import catalogue, order


class ProcessDied(BaseException):
    """Not an Exception: nothing in the dispatcher catches it, as nothing survives a killed process."""


class DiesAfterSending:
    """A channel whose process dies after the provider took the message, before the outbox is marked."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.sends = inner, inner.name, True

    async def open(self) -> None:
        await self.inner.open()

    async def send(self, message: Outgoing) -> str:
        await self.inner.send(message)
        raise ProcessDied

    async def close(self) -> None:
        await self.inner.close()


async def test_a_crash_between_sending_and_marking_resends_once_with_the_same_message_id(db, smtp):
    settings = make_settings(smtp, None, coalesce_seconds=0)
    shop = make_shop(settings)
    await catalogue(shop)
    await order(shop)
    await shop.dispatcher.compose_due()
    doomed = Dispatcher(settings, shop.clock, email=DiesAfterSending(EmailChannel(settings.smtp, settings.email_from)))
    with pytest.raises(ProcessDied):
        await doomed.send_due()
    assert len(smtp.messages) == 1
    [row] = await store.OutboxMessage.all()
    assert row.status == "SENDING"  # sent, but the outbox never heard
    await shop.deliver()  # another dispatcher: the lease still runs, so it waits
    assert len(smtp.messages) == 1
    shop.clock.advance(timedelta(seconds=settings.lease_seconds + 1))
    for _ in range(3):
        await shop.deliver()
        shop.clock.advance(timedelta(hours=1))
    assert len(smtp.messages) == 2  # once more, never again
    first, again = smtp.messages
    assert first["Message-ID"] == again["Message-ID"]  # recognisably the same message
    row = await store.OutboxMessage.get(id=row.id)
    assert row.status == "SENT" and row.attempts == 2


async def test_a_crashed_dispatchers_message_is_sent_again_within_a_minute(db, smtp):
    settings = make_settings(smtp, None, coalesce_seconds=0)  # the default lease and poll
    shop = make_shop(settings)
    await catalogue(shop)
    await order(shop)
    await shop.dispatcher.compose_due()
    doomed = Dispatcher(settings, shop.clock, email=DiesAfterSending(EmailChannel(settings.smtp, settings.email_from)))
    with pytest.raises(ProcessDied):
        await doomed.send_due()
    # the next dispatcher polls every poll_seconds: its last poll within the minute must find the message
    shop.clock.advance(timedelta(seconds=60 - settings.poll_seconds))
    await shop.deliver(rounds=1)
    assert len(smtp.messages) == 2


async def test_a_crashed_sms_is_resent_once_carrying_the_same_outbox_id(db, twilio):
    settings = make_settings(None, twilio, coalesce_seconds=0)
    shop = make_shop(settings)
    await catalogue(shop)
    await save_preferences(NotificationPreferences(email="ann@example.com", by_email=False, by_sms=True,
                                                   phone="+447700900123", quiet_hours_start=None,
                                                   quiet_hours_end=None))
    await order(shop)
    await shop.dispatcher.compose_due()
    channel = SmsChannel(settings.twilio, status_callback="http://shop.test/webhooks/twilio/status")
    doomed = Dispatcher(settings, shop.clock, sms=DiesAfterSending(channel))
    with pytest.raises(ProcessDied):
        await doomed.send_due()
    shop.clock.advance(timedelta(seconds=settings.lease_seconds + 1))
    for _ in range(3):
        await shop.deliver()
        shop.clock.advance(timedelta(hours=1))
    first, again = twilio.requests
    assert first["Body"] == again["Body"] and first["StatusCallback"] == again["StatusCallback"]
    [row] = await store.OutboxMessage.all()
    assert parse_qs(urlsplit(first["StatusCallback"]).query)["message"] == [row.id]
    assert row.status == "SENT" and row.provider_id == "SM" + "2".zfill(32)


class Hangs:
    name, sends = "email", True

    async def open(self) -> None:
        return None

    async def send(self, message: Outgoing) -> str:
        await asyncio.sleep(3600)  # sleep-ok: a provider that never answers
        return "never"

    async def close(self) -> None:
        return None


async def test_a_send_that_hangs_is_cut_off_well_inside_its_lease(db):
    settings = make_settings(None, None, coalesce_seconds=0, send_timeout_seconds=0.05, lease_seconds=0.3)
    shop = make_shop(settings)
    await catalogue(shop)
    await order(shop)
    await shop.dispatcher.compose_due()
    await Dispatcher(settings, shop.clock, email=Hangs()).send_due()
    [row] = await store.OutboxMessage.all()
    assert row.status == "QUEUED" and row.last_error == "no answer within 0.05 s"


class Slow:
    """Each send takes most of a lease (on the test clock), and notes the lease the next one ran under."""

    name, sends = "email", True

    def __init__(self, clock, takes: timedelta) -> None:
        self.clock, self.takes, self.leases = clock, takes, []

    async def open(self) -> None:
        return None

    async def send(self, message: Outgoing) -> str:
        row = await store.OutboxMessage.get(id=message.id)
        self.leases.append(row.claimed_until - self.clock.now())
        self.clock.advance(self.takes)
        return f"slow:{message.id}"

    async def close(self) -> None:
        return None


async def test_the_lease_is_renewed_before_a_send_that_could_outlive_it(db):
    settings = make_settings(None, None, coalesce_seconds=0)
    shop = make_shop(settings)
    await catalogue(shop, stock=0)
    for n in range(3):
        await order(shop, f"c{n}@example.com", quantity=1)
    await shop.dispatcher.compose_due()
    slow = Slow(shop.clock, timedelta(seconds=settings.lease_seconds) - timedelta(seconds=30))
    await Dispatcher(settings, shop.clock, email=slow).send_due()
    needed = timedelta(seconds=2 * settings.send_timeout_seconds)
    assert len(slow.leases) == 3 and all(lease >= needed for lease in slow.leases)
    assert {r.status for r in await store.OutboxMessage.all()} == {"SENT"}


async def test_a_lease_taken_over_by_another_dispatcher_is_not_renewed(db):
    shop = make_shop(make_settings(None, None, coalesce_seconds=0))
    await catalogue(shop)
    await order(shop)
    await shop.dispatcher.compose_due()
    now, lease = shop.clock.now(), timedelta(minutes=5)
    async with in_transaction() as conn:
        [mine] = await store.claim_messages(now, 10, lease, conn)
    later = now + lease + timedelta(seconds=1)  # this dispatcher stalled past its lease
    async with in_transaction() as conn:
        [theirs] = await store.claim_messages(later, 10, lease, conn)
    assert theirs.id == mine.id and theirs.attempts == mine.attempts + 1
    assert not await store.renew_lease(mine, later + lease)
    assert not await store.settle(mine, status=store.SENT)
    assert await store.renew_lease(theirs, later + lease)


def test_twilio_calls_have_a_timeout():
    channel = SmsChannel(TwilioSettings(account_sid="AC" + "1" * 32, auth_token="t", from_number="+15005550006"))
    assert channel.client.http_client is channel.http and channel.http.timeout == 10.0


def test_a_lease_must_outlast_several_sends():
    with pytest.raises(ValueError):
        NotificationSettings(lease_seconds=60, send_timeout_seconds=60)
