"""Notification delivery against real peers (aiosmtpd, a local Twilio stand-in): an SMTP outage ends with every
message delivered exactly once, permanent failures stop retries and are recorded, transient ones retry then go to
dead letter, Twilio's rate limit is retried and an invalid number is permanent, and one SMTP connection serves a
batch. Shared helpers are in support.py."""

from __future__ import annotations

from datetime import timedelta

from domain.customers import NotificationPreferences
from domain.store import notify as store
from domain.store.portal import save_preferences
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import catalogue, order


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
