"""Provider refusals, classified: only a fault of the address or number itself records the customer as
unreachable; relay, policy, sender, credential and account faults fail the message and suppress nobody."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from twilio.base.exceptions import TwilioRestException

from domain.customers import NotificationPreferences
from domain.store import notify as store
from domain.store.portal import save_preferences
from notifications.channels import Outgoing, PermanentError, TransientError
from notifications.email import EmailChannel, RecipientRefused, recipient_refusal
from notifications.settings import SmtpSettings
from notifications.sms import AccountRefused, NumberRefused, classify, retry_after_seconds
from tests.notifications.conftest import free_port, make_settings, make_shop
from tests.notifications.support import catalogue, order


# -- SMTP -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("code", "text", "outcome"), [
    (550, "5.1.1 No such user", "suppress"),
    (550, "5.1.10 Null MX", "suppress"),
    (553, "5.1.3 Bad address syntax", "suppress"),
    (550, "5.2.1 Mailbox disabled", "suppress"),
    (550, "Requested action not taken: mailbox unavailable", "suppress"),  # bare 550/551/553 at RCPT
    (551, "User not local", "suppress"),
    (550, "5.7.1 Relaying denied", "retry"),  # our relay's policy: every customer would be suppressed
    (554, "5.7.1 Client host rejected: Access denied", "retry"),
    (550, "5.1.8 Sender address rejected: Domain not found", "fail"),  # about our sender, not them
    (552, "5.2.2 Mailbox full", "fail"),
    (554, "Transaction failed", "fail"),
    (450, "4.2.0 Mailbox busy", "retry"),
])
def test_only_a_mailbox_fault_at_rcpt_suppresses_the_address(code, text, outcome):
    error = recipient_refusal(code, text)
    assert isinstance(error, {"suppress": RecipientRefused, "fail": PermanentError, "retry": TransientError}[outcome])
    assert getattr(error, "recipient_at_fault", False) is (outcome == "suppress")


async def test_relaying_denied_fails_the_message_and_suppresses_nobody(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0, max_attempts=2, retry_base_seconds=1))
    await catalogue(shop, stock=0)
    smtp.handler.rcpt_replies["ann@example.com"] = "550 5.7.1 Relaying denied"
    await order(shop, "ann@example.com", quantity=1)
    await shop.deliver(rounds=1)
    [row] = await store.OutboxMessage.all()
    assert row.status == "QUEUED" and "5.7.1" in (row.last_error or "")
    shop.clock.advance(timedelta(minutes=5))
    await shop.deliver(rounds=1)
    row = await store.OutboxMessage.get(id=row.id)
    assert row.status == "DEAD"  # agents see it and can resend it once the relay is fixed
    assert not await store.is_email_suppressed("ann@example.com")


async def test_a_refused_sender_stops_the_batch_and_suppresses_nobody(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    smtp.handler.mail_reply = "550 5.7.1 Sender not allowed"
    for n in range(3):
        await order(shop, f"c{n}@example.com", quantity=1)
    before = smtp.connections
    await shop.deliver(rounds=1)
    rows = await store.OutboxMessage.all()
    assert {r.status for r in rows} == {"QUEUED"} and {r.attempts for r in rows} == {1}
    assert all("sender refused" in (r.last_error or "") for r in rows)
    assert smtp.connections - before == 1
    assert await store.EmailSuppression.all().count() == 0
    smtp.handler.mail_reply = None  # the setting is fixed: they all go on the next try
    shop.clock.advance(timedelta(hours=1))
    await shop.deliver()
    assert sorted(m["To"] for m in smtp.messages) == ["c0@example.com", "c1@example.com", "c2@example.com"]


async def test_content_refused_at_data_fails_that_message_only(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    await catalogue(shop)
    smtp.handler.data_reply = "554 5.6.0 Message content rejected"
    await order(shop)
    await shop.deliver()
    [row] = await store.OutboxMessage.all()
    assert row.status == "FAILED" and "5.6.0" in (row.last_error or "")
    assert not await store.is_email_suppressed("ann@example.com")


class RefusingServer:
    """Accepts TCP connections and closes them at once with 421: an SMTP server that is down."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0

    async def __aenter__(self) -> RefusingServer:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.write(b"421 4.3.2 Service not available\r\n")
            await writer.drain()
            writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()


async def test_a_server_that_is_down_is_tried_once_per_batch_not_once_per_message(db):
    async with RefusingServer() as down:
        settings = make_settings(None, None, coalesce_seconds=0)
        shop = make_shop(replace(settings, smtp=SmtpSettings(host="127.0.0.1", port=down.port, starttls=False)))
        await catalogue(shop, stock=0)
        for n in range(5):
            await order(shop, f"c{n}@example.com", quantity=1)
        await shop.deliver(rounds=1)
        assert down.connections == 1
    rows = await store.OutboxMessage.all()
    assert {r.status for r in rows} == {"QUEUED"} and {r.attempts for r in rows} == {1}


def test_smtp_credentials_require_tls():
    assert SmtpSettings.parse("smtp://mail.test").requires_starttls is None  # no password: opportunistic
    assert SmtpSettings.parse("smtp://ann:secret@mail.test:587").requires_starttls is True
    assert SmtpSettings.parse("smtps://ann:secret@mail.test").requires_starttls is False  # TLS from the start
    assert SmtpSettings.parse("smtps://ann:secret@mail.test").implicit_tls
    with pytest.raises(SystemExit):
        SmtpSettings.parse("smtp+plain://ann:secret@mail.test")
    with pytest.raises(ValueError):
        SmtpSettings(host="mail.test", port=25, username="ann", password="secret", starttls=False)
    # built by hand with "STARTTLS when offered": a login still insists on it
    assert SmtpSettings(host="mail.test", port=25, username="ann", password="secret").requires_starttls is True


async def test_no_password_goes_to_a_server_without_starttls(smtp):
    channel = EmailChannel(SmtpSettings(host="127.0.0.1", port=smtp.port, username="ann", password="secret"),
                           "shop@shop.test")
    await channel.open()
    with pytest.raises(TransientError, match="STARTTLS"):  # refused before AUTH: no password in the clear
        await channel.send(Outgoing(id="m1", idempotency_key="k1", channel="EMAIL", recipient="bob@example.com",
                                    body_text="hello", subject="hi"))
    await channel.close()
    assert smtp.messages == []


# -- Twilio -----------------------------------------------------------------------------------
def _refusal(status: int, code: int) -> TwilioRestException:
    return TwilioRestException(status, "/Messages.json", "refused", code)


@pytest.mark.parametrize(("status", "code", "kind"), [
    (400, 21211, NumberRefused),  # invalid To
    (400, 21610, NumberRefused),  # the recipient replied STOP
    (400, 21614, NumberRefused),  # not a mobile number
    (400, 21612, NumberRefused),
    (400, 21635, NumberRefused),  # landline
    (400, 21606, AccountRefused),  # our From number
    (400, 21212, AccountRefused),
    (401, 20003, AccountRefused),  # credentials
    (403, 20003, AccountRefused),
    (404, 20404, AccountRefused),  # a wrong account SID
    (400, 21408, TransientError),  # region not enabled on the account
    (400, 21219, TransientError),  # trial account, number not verified
    (400, 21602, PermanentError),  # empty body: this message, not the number
    (400, 21617, PermanentError),  # body too long
    (400, 99999, TransientError),  # unknown: retried, then dead-lettered, never an opt-out
    (500, 20500, TransientError),
    (503, 20503, TransientError),
])
def test_only_a_fault_of_the_number_opts_it_out(status, code, kind):
    error = classify(_refusal(status, code))
    assert type(error) is kind
    assert getattr(error, "recipient_at_fault", False) is (kind is NumberRefused)


def test_retry_after_is_read_as_seconds_or_a_date():
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Mon, 02 Mar 2026 09:01:00 GMT", now=1772442000.0) == 60.0  # 09:00:00 UTC
    assert retry_after_seconds("999999") == 3600.0  # capped
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert classify(_refusal(429, 20429), "7").retry_after == 7.0
    assert classify(_refusal(429, 20429)).retry_after == 30.0


async def sms_customers(shop, count: int) -> list[str]:
    phones = []
    for n in range(count):
        email, phone = f"c{n}@example.com", f"+4477009001{n:02d}"
        await save_preferences(NotificationPreferences(email=email, by_email=False, by_sms=True, phone=phone,
                                                       quiet_hours_start=None, quiet_hours_end=None))
        await order(shop, email, quantity=1)
        phones.append(phone)
    return phones


@pytest.mark.parametrize(("status", "code"), [(401, 20003), (404, 20404)])  # 21606 & co: see the table above
async def test_a_wrong_account_or_sender_opts_nobody_out(db, twilio, status, code):
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    phones = await sms_customers(shop, 3)
    twilio.fail_next(status, code, "refused")
    await shop.deliver(rounds=1)
    assert twilio.refused == 1 and twilio.requests == []  # the batch stopped at the first refusal
    rows = await store.OutboxMessage.all()
    assert {r.status for r in rows} == {"QUEUED"}
    assert not [p for p in phones if await store.sms_opted_out(p)]


async def test_a_message_twilio_will_never_take_fails_without_opting_out(db, twilio):
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    [phone] = await sms_customers(shop, 1)
    twilio.fail_next(400, 21617, "The concatenated message body exceeds the 1600 character limit")
    await shop.deliver()
    [row] = await store.OutboxMessage.all()
    assert row.status == "FAILED" and "21617" in (row.last_error or "")
    assert not await store.sms_opted_out(phone)


async def test_rate_limit_waits_as_long_as_twilio_asks_and_holds_back_the_rest(db, twilio):
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    await sms_customers(shop, 3)
    twilio.fail_next(429, 20429, "Too Many Requests", headers={"Retry-After": "120"})
    await shop.deliver(rounds=1)
    assert twilio.refused == 1 and twilio.requests == []  # one refusal, then the others were not tried
    rows = await store.OutboxMessage.all().order_by("next_attempt_at")
    assert {r.status for r in rows} == {"QUEUED"}
    assert all(r.next_attempt_at >= shop.clock.now() + timedelta(seconds=120) for r in rows)
    assert sorted(r.attempts for r in rows) == [0, 0, 1]  # waiting for the provider costs no try
    shop.clock.advance(timedelta(seconds=60))
    await shop.deliver()
    assert twilio.requests == []
    shop.clock.advance(timedelta(minutes=5))
    await shop.deliver()
    assert len(twilio.requests) == 3
