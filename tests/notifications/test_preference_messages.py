"""The customer's messages when their own preferences act for them: a backorder cancelled by their "cancel if
not by" date says so, with the date, once; a substitute taken under their consent says what they got."""

from __future__ import annotations

from datetime import date

from domain.preferences import SubstituteConsent
from domain.store.portal import get_preferences, save_preferences
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import WINDOW, catalogue, order, plain


async def test_a_backorder_cancelled_by_its_date_is_told_once_and_why(db, smtp):
    # given Ann's lamp on backorder (2 waiting, expected 10 March), told once, and her latest date the 14th
    shop = make_shop(make_settings(smtp, None))
    ids = await catalogue(shop)
    placed = await order(shop)
    shop.clock.advance(WINDOW)
    await shop.deliver()
    backorder_id = placed.lines[0].backorder_id
    assert backorder_id is not None and len(smtp.messages) == 1
    await shop.desk.set_backorder_preferences(backorder_id, cancel_if_not_by=date(2026, 3, 14))

    # when the supplier's date moves to the 20th
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 3, 20))
    shop.clock.advance(WINDOW)
    await shop.deliver()

    # then one message says it is cancelled, by her date, and no date of the PO that moved
    [cancelled] = smtp.messages[1:]
    assert cancelled["Subject"] == "Anglepoise lamp: cancelled"
    text = plain(cancelled)
    assert "Cancelled: it could not reach you by 14 March 2026, the latest date you chose." in text
    assert "20 March" not in text and "PO-9" not in text
    shop.clock.advance(WINDOW)
    await shop.deliver()
    assert len(smtp.messages) == 2  # told once


async def test_the_message_speaks_the_customers_language(db, smtp):
    shop = make_shop(make_settings(smtp, None))
    ids = await catalogue(shop)
    prefs = await get_preferences("ann@example.com")
    prefs.language = "de"
    await save_preferences(prefs)
    placed = await order(shop)
    backorder_id = placed.lines[0].backorder_id
    assert backorder_id is not None
    await shop.desk.set_backorder_preferences(backorder_id, cancel_if_not_by=date(2026, 3, 14))
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 3, 20))
    shop.clock.advance(WINDOW)
    await shop.deliver()
    # created and cancelled in one window: one message, about the cancel
    [told] = smtp.messages
    assert "Storniert: Es hätte Sie nicht bis 14. März 2026 erreicht" in plain(told)


async def test_a_substitute_taken_under_consent_says_what_they_got(db, smtp):
    shop = make_shop(make_settings(smtp, None))
    await catalogue(shop)
    placed = await order(shop)
    shop.clock.advance(WINDOW)
    await shop.deliver()
    backorder_id = placed.lines[0].backorder_id
    assert backorder_id is not None
    await shop.desk.set_backorder_preferences(backorder_id, substitutes=SubstituteConsent.ANY_LISTED)
    shop.clock.advance(WINDOW)
    await shop.deliver()
    [substituted] = smtp.messages[1:]
    assert substituted["Subject"] == "Anglepoise lamp: alternative confirmed"
    text = plain(substituted)
    assert "As you agreed in advance, an alternative in stock takes its place." in text
    assert "Now: 2 replaced by Brass desk lamp." in text
