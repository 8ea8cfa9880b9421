"""What the outbox keeps never holds a secret, whatever happens while messages wait: sign-in links asked for, back-in-
stock subscriptions, orders and stock, the mail server saying "later", customers changing language, time passing.
After every round the rows (which staff read: subject, body, HTML, headers, what they are about) hold none of the
customers' sign-in tokens or unsubscribe tokens, and every email that went carries working ones: the sign-in token
signed for a link of its recipient, the unsubscribe link for its recipient's address."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.services import ProductInput
from domain.store import notify as store
from domain.store import portal
from domain.store.portal import get_preferences, save_preferences
from notifications.outbox import read_unsubscribe_token, unsubscribe_token
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import order, plain, send_sign_in_link

CUSTOMERS = 3
step = st.one_of(
    st.tuples(st.just("link"), st.integers(0, CUSTOMERS - 1), st.integers(1, 90)),
    st.tuples(st.just("subscribe"), st.integers(0, CUSTOMERS - 1)),
    st.tuples(st.just("order"), st.integers(0, CUSTOMERS - 1), st.integers(1, 3)),
    st.tuples(st.just("receive"), st.integers(1, 4)),
    st.tuples(st.just("defer"), st.integers(0, CUSTOMERS - 1), st.booleans()),
    st.tuples(st.just("language"), st.integers(0, CUSTOMERS - 1), st.sampled_from(["en", "de", "fr", "es"])),
    st.tuples(st.just("wait"), st.integers(1, 40)),
    st.tuples(st.just("deliver"),),
)


async def _secrets(emails: list[str]) -> list[str]:
    key = await portal.signing_key()
    found = [portal.link_token(key, link.id, link.expires_at)
             for link in await portal.PortalLink.filter(email__in=emails)]
    for email in emails:
        token = unsubscribe_token(key, email, "EMAIL")
        found += [token, quote(token), token.rsplit(":", 1)[1]]
    return found


async def _check(emails: list[str], smtp: Any, sent_before: int) -> None:
    secrets = await _secrets(emails)
    for row in await store.OutboxMessage.filter(recipient__in=emails):
        kept = json.dumps([row.subject, row.body_text, row.body_html, row.headers, row.about])
        assert not [s for s in secrets if s in kept], (row.kind, row.status, kept)
    key = await portal.signing_key()
    for mail in smtp.messages[sent_before:]:
        text, to = plain(mail), mail["To"]
        if "#token=" in text:
            token = text.split("#token=", 1)[1].split()[0]
            link = await portal.PortalLink.get(id=portal.link_of_token(key, token))  # signed, and a real link
            assert link.email == to
        unsubscribe = mail["List-Unsubscribe"]
        if unsubscribe:
            token = unquote(unsubscribe.split("token=", 1)[1].rstrip(">"))
            assert read_unsubscribe_token(key, token) == ("EMAIL", to)
            assert quote(token) in text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(history=st.lists(step, min_size=1, max_size=20))
async def test_no_outbox_row_keeps_a_secret_and_every_email_carries_working_ones(db, smtp, history):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0, retry_base_seconds=60.0))
    await shop.desk.upsert_product(ProductInput(sku="LAMP", name="Anglepoise lamp", price=Decimal("29.50"),
                                                currency="GBP"))
    run = uuid.uuid4().hex[:8]  # the database lives for all examples: each has customers of its own
    emails = [f"c{i}-{run}@example.com" for i in range(CUSTOMERS)]
    sent_before = len(smtp.messages)
    smtp.handler.defer = set()
    for op in [*history, ("defer", 0, False), ("defer", 1, False), ("defer", 2, False), ("deliver",), ("wait", 5),
                         ("deliver",)]:
        kind, *args = op
        if kind == "link":
            await send_sign_in_link(shop, emails[args[0]], shop.clock.now() + timedelta(minutes=args[1]))
        elif kind == "subscribe":
            await shop.notifications.subscribe_to_product("LAMP", emails[args[0]], None)
        elif kind == "order":
            await order(shop, emails[args[0]], args[1], name=f"Customer {args[0]}")
        elif kind == "receive":
            await shop.desk.receive_stock("LAMP", args[0])
        elif kind == "defer":
            (smtp.handler.defer.add if args[1] else smtp.handler.defer.discard)(emails[args[0]])
        elif kind == "language":
            prefs = await get_preferences(emails[args[0]])
            await save_preferences(dataclasses.replace(prefs, language=args[1]))
        elif kind == "wait":
            shop.clock.advance(timedelta(minutes=args[0]))
        else:
            await shop.deliver()
        await _check(emails, smtp, sent_before)
