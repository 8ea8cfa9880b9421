"""The customer's messages when an agent offers an alternative and when the customer takes it: each says what
happened to the item, by the alternative's name, and the second no longer talks of a queue or a date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.services import ProductInput
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import WINDOW, catalogue, order, plain


async def test_an_offered_then_accepted_alternative_is_told_in_two_messages(db, smtp):
    # given Ann's lamp on backorder (2 waiting), told once
    shop = make_shop(make_settings(smtp, None))
    await catalogue(shop)
    placed = await order(shop)
    shop.clock.advance(WINDOW)
    await shop.deliver()
    backorder_id = placed.lines[0].backorder_id
    assert backorder_id is not None and len(smtp.messages) == 1

    # when an agent offers the brass lamp
    await shop.desk.offer_substitute(backorder_id, "LAMP-ALT", "agent@desk")
    shop.clock.advance(WINDOW)
    await shop.deliver()
    offered = smtp.messages[1]
    assert offered["Subject"] == "Anglepoise lamp: an alternative is in stock"
    text = plain(offered)
    # with what it costs next to what she pays for the lamp (£29.50), the figures she needs to decide
    assert "An alternative is in stock now: Brass desk lamp (£34.00 each, £4.50 more than you pay)." in text
    assert "Now: 2 still on backorder." in text and "agent@desk" not in text

    # and Ann takes it
    await shop.desk.accept_substitute(backorder_id, "LAMP-ALT")
    shop.clock.advance(WINDOW)
    await shop.deliver()
    [accepted] = smtp.messages[2:]
    assert accepted["Subject"] == "Anglepoise lamp: alternative confirmed"
    text = plain(accepted)
    assert "The alternative you chose takes its place." in text
    assert "Now: 2 replaced by Brass desk lamp." in text
    assert "You pay £68.00 for 2 × Brass desk lamp (£34.00 each)." in text  # what it costs them, in the order's
    assert "queue" not in text and "Expected" not in text


async def test_an_alternative_priced_in_another_currency_is_confirmed_with_what_the_customer_pays(db, smtp):
    # given Ann's lamp (in pounds) on backorder, an alternative priced in euros and the shop's EUR->GBP rate
    shop = make_shop(make_settings(smtp, None))
    await catalogue(shop)
    await shop.desk.upsert_product(ProductInput(sku="LAMP-EU", name="Bauhaus lamp", price=Decimal("40.00"),
                                                currency="EUR"))
    await shop.desk.receive_stock("LAMP-EU", 5)
    await shop.desk.upsert_product(ProductInput(sku="LAMP", name="Anglepoise lamp", price=Decimal("29.50"),
                                                currency="GBP", substitutes=("LAMP-EU",)))
    await shop.desk.upsert_exchange_rate("EUR", "GBP", "0.85", date(2026, 3, 1))
    placed = await order(shop)
    backorder_id = placed.lines[0].backorder_id
    assert backorder_id is not None

    # when she takes it
    await shop.desk.accept_substitute(backorder_id, "LAMP-EU")
    shop.clock.advance(WINDOW)
    await shop.deliver()

    # then the confirmation says what she pays in pounds, converted from its price in euros at which rate of when
    text = plain(smtp.messages[-1])
    assert ("You pay £68.00 for 2 × Bauhaus lamp (£34.00 each): its price of €40.00 each converted at our "
            "exchange rate of 1 March 2026 (1 EUR = 0.85 GBP).") in " ".join(text.split())
