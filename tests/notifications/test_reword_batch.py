"""A batch of messages is worded at send time from reads made for the whole batch: one statement per kind of row
(what each is about, their windows' events, backorders, products, orders, goodwill, preferences, customers,
suppressions), however many messages it holds; and each message still says its own customer's truth."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal

from domain.customers import NotificationPreferences
from domain.store import notify as store
from domain.store.portal import save_preferences
from tests.api.statements import listening
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import WINDOW, catalogue, order, plain


class _Selects(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().lstrip()
        if message.upper().startswith("SELECT"):
            self.statements.append(message)


@contextmanager
def selects() -> Iterator[list[str]]:
    handler = _Selects()
    with listening(handler):
        yield handler.statements


async def test_a_batch_is_worded_from_one_read_per_kind_however_many_it_holds(db, smtp):
    # given 15 customers, each waiting for lamps, in three languages, every other one given a credit, one
    # unsubscribed after their digest was queued; every digest is worded again when it is sent
    shop = make_shop(make_settings(smtp, None))
    await catalogue(shop, stock=0)
    placed = []
    for n in range(15):
        email = f"c{n}@example.com"
        await save_preferences(NotificationPreferences(email=email, language=("en", "de", "fr")[n % 3]))
        placed.append(await order(shop, email, quantity=1 + n % 3, name=f"Customer{n} Baker"))
    for p in placed[::2]:
        await shop.desk.offer_goodwill(p.lines[0].backorder_id, credit_amount=Decimal("5"), credit_currency="GBP",
                                       discount_code=None, note="late", agent="agent@desk")
    shop.clock.advance(WINDOW)
    while await shop.dispatcher.compose_due():
        pass
    assert await store.OutboxMessage.filter(status="QUEUED").count() == 15
    await store.suppress_email("C4@example.com", store.UNSUBSCRIBED, shop.clock.now())

    # when a round sends a batch of 3, and the next a batch of the other 12
    counts = []
    for size in (3, 12):
        shop.dispatcher.settings = replace(shop.dispatcher.settings, batch_size=size)
        with selects() as statements:
            assert await shop.dispatcher.send_due() == size
        counts.append(len(statements))
    assert await store.OutboxMessage.filter(status="QUEUED").count() == 0

    # then the reads do not grow with the batch
    assert counts[0] == counts[1], counts
    # and each customer got their own news (not the one who unsubscribed), in their language, their credit
    assert sorted(m["To"] for m in smtp.messages) == sorted(f"c{n}@example.com" for n in range(15) if n != 4)
    for mail in smtp.messages:
        n = int(mail["To"].split("@")[0][1:])
        text = plain(mail)
        assert text.startswith(("Hello", "Hallo", "Bonjour")[n % 3] + f" Customer{n},"), (n, text[:40])
        assert "Anglepoise lamp" in text
        assert ("5,00" in text or "£5.00" in text) == (n % 2 == 0), (n, text)
    [unsubscribed] = await store.OutboxMessage.filter(recipient="c4@example.com")
    assert unsubscribed.status == "SUPPRESSED"
