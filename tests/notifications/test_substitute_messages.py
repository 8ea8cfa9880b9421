"""The customer's messages when an agent offers an alternative and when the customer takes it: each says what
happened to the item, by the alternative's name, and the second no longer talks of a queue or a date."""

from __future__ import annotations

from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.test_notifications import WINDOW, catalogue, order, plain


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
    assert "An alternative is in stock now: Brass desk lamp." in text
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
    assert "queue" not in text and "Expected" not in text
