"""Every message in the language of the one it goes to, end to end.

A long-delay email carries the shop's goodwill words for the customer's language, or a translated default (with the
code) when the shop wrote none for it; never another language's words (real SMTP, aiosmtpd). A phone-only
back-in-stock subscriber is asked, told and answered (YES, HELP, STOP in their language) in the language they
subscribed in: given, else negotiated from the request's Accept-Language as the portal chooses (the real GraphQL
mutation, the real twilio client at its stand-in)."""

from __future__ import annotations

import html
from datetime import date
from decimal import Decimal

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from domain.customers import NotificationPreferences
from domain.services import ProductInput
from domain.store import notify as store
from domain.store.portal import save_preferences
from notifications.i18n import translations
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import catalogue, order, plain, signed

ENGLISH_GOODWILL = "As an apology, 10% off your next order."
GERMAN_GOODWILL = "Als Entschuldigung 10 % Rabatt auf Ihre nächste Bestellung."


@pytest.mark.parametrize("language", ["de", "fr", "es"])
async def test_long_delay_goodwill_is_in_the_customers_language_or_a_translated_default(db, smtp, language):
    # given a shop whose goodwill words are written in English and German only, and a code
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0, long_delay_days=14, goodwill_code="SORRY10",
                                   goodwill_texts={"en": ENGLISH_GOODWILL, "de": GERMAN_GOODWILL}))
    ids = await catalogue(shop)
    email = f"{language}@example.com"
    await save_preferences(NotificationPreferences(email=email, by_email=True, language=language))
    await order(shop, email)
    await shop.deliver()
    # when the supplier's date moves far beyond the one first promised
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 4, 15))
    await shop.deliver()
    # then the long-delay email offers goodwill in the customer's language, with the code, and no English words
    mail = smtp.messages[-1]
    assert mail["To"] == email
    text, page = plain(mail), html.unescape(mail.get_body(("html",)).get_content())
    gettext = translations(language).gettext
    expected = GERMAN_GOODWILL if language == "de" else gettext(
        "As an apology for the wait, please use this code on your next order.")
    assert expected != "As an apology for the wait, please use this code on your next order."  # it is translated
    assert f"{expected} {gettext('Code: {code}').format(code='SORRY10')}" in text, text
    assert expected in page
    assert ENGLISH_GOODWILL not in text and ENGLISH_GOODWILL not in page
    assert "SORRY10" in page


PHONE = "+33612345678"
# what a browser sends from a page in each language; the Spanish reader's first language is not one the shop speaks
ACCEPT = {"de": "de-CH, de;q=0.9, en;q=0.5", "fr": "fr-FR,fr;q=0.9,en-GB;q=0.8,en;q=0.7",
          "es": "pt-BR, es;q=0.7, en;q=0.3"}
HELP = {"de": "Hilfe", "fr": "aide", "es": "AYUDA"}
STOP = {"de": "stopp", "fr": "Arrêt", "es": "baja"}
SUBSCRIBE = """mutation ($input: SubscribeToProductInput!) {
  subscribeToProduct(input: $input) { status userErrors { field code } } }"""


@pytest.mark.parametrize("language", ["de", "fr", "es"])
async def test_a_phone_only_subscriber_is_texted_and_answered_in_the_language_they_subscribed_in(db, twilio,
                                                                                              language):
    # given a product out of stock, and the shop's app in front of the real twilio client's stand-in
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    await shop.desk.upsert_product(ProductInput(sku="RARE", name="Rare lamp", price=Decimal("99"), currency="GBP"))
    app = create_app(Settings(public_url="http://shop.test", inprocess_worker=False), clock=shop.clock,
                     bus=shop.bus, notifications=shop.notifications, manage_database=False)
    gettext = translations(language).gettext
    stop_line = gettext("Reply STOP to opt out")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as client:

        async def reply(word: str) -> str:
            params = {"From": PHONE, "Body": word}
            response = await client.post("/webhooks/twilio/inbound", data=params,
                                         headers=signed("http://shop.test/webhooks/twilio/inbound", params))
            return html.unescape(response.text)

        # when someone subscribes with a number alone, from a page in their language
        answer = await client.post("/graphql", json={"query": SUBSCRIBE, "variables": {
            "input": {"sku": "RARE", "phone": PHONE}}}, headers={"Accept-Language": ACCEPT[language]})
        assert answer.json()["data"]["subscribeToProduct"] == {"status": "PENDING", "userErrors": []}, answer.json()
        await shop.deliver()
        # then the opt-in question is in it
        question = gettext("{shop}: reply YES to get one text when {product} is back in stock.").format(
            shop="Lamp & Co", product="Rare lamp")
        assert twilio.bodies == [f"{question} {stop_line}"]
        # and so is the answer to YES, and the back-in-stock text (worded when queued and again when sent)
        assert gettext("{shop}: thanks, we will text you once when it is back in stock.").format(
            shop="Lamp & Co") in await reply("yes")
        await shop.desk.receive_stock("RARE", 1)
        await shop.deliver()
        assert twilio.bodies[-1] == " ".join((
            gettext("{shop}: {product} is back in stock.").format(shop="Lamp & Co", product="Rare lamp"),
            "http://shop.test/", stop_line))
        # and HELP and STOP, written in that language, are understood and answered in it
        assert gettext("{shop}: order updates by text. Manage them at {url} . Reply STOP to opt out.").format(
            shop="Lamp & Co", url="http://shop.test/") in await reply(HELP[language])
        assert not await store.sms_opted_out(PHONE)
        assert gettext("{shop}: you will get no more texts from us. Reply START to undo.").format(
            shop="Lamp & Co") in await reply(STOP[language])
        assert await store.sms_opted_out(PHONE)
    assert not any("reply YES to get one text" in body or "is back in stock." in body for body in twilio.bodies)


async def test_an_explicit_language_wins_over_the_page_and_a_bad_one_is_refused(db, twilio):
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    app = create_app(Settings(public_url="http://shop.test", inprocess_worker=False), clock=shop.clock,
                     bus=shop.bus, notifications=shop.notifications, manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as client:
        refused = await client.post("/graphql", json={"query": SUBSCRIBE, "variables": {
            "input": {"sku": "LAMP", "phone": PHONE, "language": "pt"}}})
        assert refused.json()["data"]["subscribeToProduct"] == {
            "status": None, "userErrors": [{"field": "language", "code": "INVALID_INPUT"}]}, refused.json()
        assert await store.ProductSubscription.all().count() == 0  # nothing changed
        given = await client.post("/graphql", json={"query": SUBSCRIBE, "variables": {
            "input": {"sku": "LAMP", "phone": PHONE, "language": "es"}}}, headers={"Accept-Language": "de, en"})
        assert given.json()["data"]["subscribeToProduct"]["status"] == "PENDING", given.json()
    await shop.deliver()
    assert twilio.bodies[0].startswith(translations("es").gettext(
        "{shop}: reply YES to get one text when {product} is back in stock.").format(
        shop="Lamp & Co", product="Anglepoise lamp")), twilio.bodies
