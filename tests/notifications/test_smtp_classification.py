"""The email channel's classification of what a real SMTP server (aiosmtpd on loopback) answers after RCPT:
DATA refusals (deferred, refused by policy, refused for good) and MAIL FROM refusals (a temporary one, and
one about our sender address, which marks the server down for the rest of the batch)."""

from __future__ import annotations

import pytest

from notifications.channels import Outgoing, PermanentError, TransientError
from notifications.email import EmailChannel, RecipientRefused
from notifications.settings import SmtpSettings


def _mail(n: int = 1) -> Outgoing:
    return Outgoing(id=f"m{n}", idempotency_key=f"k{n}", channel="EMAIL", recipient="ann@example.com",
                    body_text="Your lamp is on its way.", subject="Anglepoise lamp: shipped")


def _channel(smtp) -> EmailChannel:
    return EmailChannel(SmtpSettings(host="127.0.0.1", port=smtp.port, starttls=False), "Lamp & Co <orders@shop.test>")


@pytest.mark.parametrize(("reply", "kind", "says"), [
    ("451 4.3.0 Try again later", TransientError, "message deferred"),
    ("554 5.7.1 SPF check failed", TransientError, "refused by policy"),  # our domain's setup: fixable, retry
    ("554 5.6.0 Message content rejected", PermanentError, "message refused"),
    ("552 Message too big", PermanentError, "message refused"),
])
async def test_a_refusal_at_data_is_classified_by_its_code(smtp, reply, kind, says):
    smtp.handler.data_reply = reply
    channel = _channel(smtp)
    try:
        with pytest.raises(kind) as refused:
            await channel.send(_mail())
    finally:
        await channel.close()
    assert type(refused.value) is kind and not isinstance(refused.value, RecipientRefused)  # nobody suppressed
    assert says in str(refused.value) and reply.split()[0] in str(refused.value)
    assert smtp.messages == []


async def test_a_temporary_sender_refusal_is_retried_and_the_next_message_goes(smtp):
    smtp.handler.mail_reply = "451 4.7.1 Greylisted, try again"
    channel = _channel(smtp)
    try:
        with pytest.raises(TransientError):
            await channel.send(_mail(1))
        smtp.handler.mail_reply = None
        await channel.send(_mail(2))  # the server is not taken for down
    finally:
        await channel.close()
    assert [m["Subject"] for m in smtp.messages] == ["Anglepoise lamp: shipped"]


async def test_our_sender_refused_for_good_stops_the_batch_without_more_connections(smtp):
    smtp.handler.mail_reply = "550 5.7.1 Sender address rejected"
    channel = _channel(smtp)
    try:
        with pytest.raises(TransientError) as first:
            await channel.send(_mail(1))
        assert "sender refused" in str(first.value)
        connections = smtp.connections
        with pytest.raises(TransientError) as second:
            await channel.send(_mail(2))
        assert str(second.value).startswith("not tried")  # every message would be refused alike
        assert smtp.connections == connections
    finally:
        await channel.close()
