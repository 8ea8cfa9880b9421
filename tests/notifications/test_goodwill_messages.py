"""The customer is told of an agent's goodwill once, in their language, worded when the message is sent: the
credit in their money format and the code to type, never the agent's name or note."""

from __future__ import annotations

from decimal import Decimal

from domain.customers import NotificationPreferences
from domain.store.portal import save_preferences
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import WINDOW, catalogue, order, plain


async def test_goodwill_is_told_once_in_the_customers_language(db, smtp):
    # given Jonas (German) waits for 2 lamps at £29.50, told once of his backorder
    shop = make_shop(make_settings(smtp, None))
    await catalogue(shop)
    await save_preferences(NotificationPreferences(email="jonas@example.de", language="de"))
    placed = await order(shop, "jonas@example.de", name="Jonas")
    shop.clock.advance(WINDOW)
    await shop.deliver()
    backorder_id = placed.lines[0].backorder_id
    assert backorder_id is not None and len(smtp.messages) == 1

    # when an agent gives him a credit and a code
    await shop.desk.offer_goodwill(backorder_id, credit_amount=Decimal("5"), credit_currency="GBP",
                                   discount_code="SORRY-10", note="secret: VIP complaint", agent="agent@desk")
    shop.clock.advance(WINDOW)
    await shop.deliver()

    # then one message says so, in German, with the amount as Germans write pounds, and the code
    [told] = smtp.messages[1:]
    text = " ".join(plain(told).split())
    assert told["Subject"] == "Anglepoise lamp: etwas für die Wartezeit"
    assert "Es tut uns leid, dass Sie warten müssen, und wir haben etwas für Sie." in text
    assert "Wir haben Ihnen für die Wartezeit 5,00 £ gutgeschrieben." in text
    assert "Ihr Rabattcode für die Wartezeit: SORRY-10" in text
    assert "agent@desk" not in text and "VIP complaint" not in text

    # and only once: the next window's news does not repeat it
    await shop.desk.offer_substitute(backorder_id, "LAMP-ALT", "agent@desk")
    shop.clock.advance(WINDOW)
    await shop.deliver()
    [later] = smtp.messages[2:]
    assert "SORRY-10" not in plain(later) and "gutgeschrieben" not in plain(later)


def _change(kind: str, at: int, **data: object):
    from datetime import UTC, datetime

    from notifications.compose import Change

    return Change(kind=kind, backorder_id="b1", order_id="o1", sku="LAMP",
                  occurred_at=datetime(2026, 3, 2, 9, at, tzinfo=UTC), data=data)


def test_goodwill_is_the_news_alone_and_rides_beside_any_other_headline():
    from datetime import date

    from notifications.compose import Now, Rules, compose

    now = Now(status="WAITING", original_quantity=2, allocated_quantity=0, shipped_quantity=0, cancelled_quantity=0,
              substituted_quantity=0, waiting_quantity=2, queue_position=1, eta=date(2026, 3, 20),
              eta_confidence="HIGH", promised_date=date(2026, 3, 10))
    [alone] = compose([_change("GoodwillOffered", 1, goodwill_id="g1")], {"b1": now}, Rules())
    assert (alone.headline, alone.news.goodwill) == ("goodwill", ["g1"])
    [beside] = compose([_change("EtaChanged", 1, old_date="2026-03-10", new_date="2026-03-20"),
                        _change("GoodwillOffered", 2, goodwill_id="g2")], {"b1": now}, Rules())
    assert (beside.headline, beside.news.goodwill) == ("eta_later", ["g2"])
    assert compose([_change("EtaChanged", 1, old_date="2026-03-20", new_date="2026-03-20")], {"b1": now},
                   Rules()) == []
