"""The pages a customer reaches from a message speak their language: the one stored for whoever the link was sent
to (their preference, else the one they subscribed in), else the browser's Accept-Language negotiated as the portal
does, else English; `<html lang>` says which. The one-click unsubscribe (RFC 8058 POST) works in each. And the
answer to subscribeToProduct is worded in the subscription's language. All over HTTP, through the real app."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from urllib.parse import quote

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from domain.customers import NotificationPreferences
from domain.services import ProductInput
from domain.store import notify as store
from domain.store.portal import save_preferences, signing_key
from notifications.i18n import translations
from notifications.outbox import unsubscribe_token
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import catalogue

LANGUAGES = ["de", "fr", "es"]
# what a browser sends from a page in each language; the Spanish reader's first language is not one the shop speaks
ACCEPT = {"de": "de-CH, de;q=0.9, en;q=0.5", "fr": "fr-FR,fr;q=0.9,en-GB;q=0.8,en;q=0.7",
          "es": "pt-BR, es;q=0.7, en;q=0.3", "en": "en-GB"}
ENGLISH = ("Stop these messages?", "Stop them", "You are unsubscribed", "This link is not valid")
SUBSCRIBE = """mutation ($input: SubscribeToProductInput!) {
  subscribeToProduct(input: $input) { status message userErrors { field code } } }"""


async def client_for(shop) -> httpx.AsyncClient:
    app = create_app(Settings(public_url="http://shop.test", inprocess_worker=False), clock=shop.clock,
                     bus=shop.bus, notifications=shop.notifications, manage_database=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test")


def lang_of(page: httpx.Response) -> str:
    found = re.search(r'<html lang="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def link(address: str, channel: str = "EMAIL") -> str:
    return f"/unsubscribe?token={quote(unsubscribe_token(await signing_key(), address, channel))}"


def assert_in(language: str, page: httpx.Response, *phrases: str) -> None:
    gettext = translations(language).gettext
    text = html.unescape(page.text)
    assert lang_of(page) == language
    for phrase in phrases:
        assert gettext(phrase) in text, (phrase, text)
    if language != "en":
        assert not any(english in text for english in ENGLISH), text


@pytest.mark.parametrize("language", LANGUAGES)
async def test_an_email_unsubscribe_page_speaks_the_customers_language_and_one_click_works(db, smtp, language):
    # given a customer who reads `language`, on a browser that asks for English
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    email = f"{language}@example.com"
    await save_preferences(NotificationPreferences(email=email, by_email=True, language=language))
    url = await link(email)
    async with await client_for(shop) as client:
        # the page a mail scanner may follow asks, in her language, and changes nothing
        page = await client.get(url, headers={"Accept-Language": "en-GB"})
        assert page.status_code == 200
        assert_in(language, page, "Stop these messages?", "Stop them")
        assert translations(language).gettext(
            "{address} will get no more emails from {shop} about orders or restocks.").format(
            address=email, shop="Lamp & Co") in html.unescape(page.text)
        assert not await store.is_email_suppressed(email)
        # and the one-click POST (RFC 8058) unsubscribes her, and says so in her language
        done = await client.post(url, data={"List-Unsubscribe": "One-Click"}, headers={"Accept-Language": "en"})
        assert done.status_code == 200
        assert_in(language, done, "You are unsubscribed")
    assert await store.is_email_suppressed(email)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_number_subscribed_in_a_language_is_answered_and_unsubscribed_in_it(db, twilio, language):
    # given someone who subscribes with a number alone, from a page in their language
    shop = make_shop(make_settings(None, twilio, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    await shop.desk.upsert_product(ProductInput(sku="RARE", name="Rare lamp", price=Decimal("99"), currency="GBP"))
    phone = "+33612345678"
    async with await client_for(shop) as client:
        answer = await client.post("/graphql", json={"query": SUBSCRIBE, "variables": {
            "input": {"sku": "RARE", "phone": phone}}}, headers={"Accept-Language": ACCEPT[language]})
        # then the mutation's message is in their language
        assert answer.json()["data"]["subscribeToProduct"] == {
            "status": "PENDING", "userErrors": [],
            "message": translations(language).gettext("We have texted you: reply YES to confirm.")}, answer.json()
        # and the unsubscribe page of that number is too, whatever browser opens it
        url = await link(phone, "SMS")
        page = await client.get(url)
        assert_in(language, page, "Stop these messages?", "Stop them")
        done = await client.post(url, data={"List-Unsubscribe": "One-Click"}, headers={"Accept-Language": "en"})
        assert done.status_code == 200
        assert_in(language, done, "You are unsubscribed")
    assert await store.sms_opted_out(phone)


@pytest.mark.parametrize("language", [*LANGUAGES, "en"])
async def test_an_email_subscription_is_answered_in_the_language_given(db, smtp, language):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    await catalogue(shop, stock=0)
    await shop.desk.upsert_product(ProductInput(sku="RARE", name="Rare lamp", price=Decimal("99"), currency="GBP"))
    async with await client_for(shop) as client:
        answer = await client.post("/graphql", json={"query": SUBSCRIBE, "variables": {
            "input": {"sku": "RARE", "email": "watcher@example.com", "language": language}}},
            headers={"Accept-Language": "en"})
        assert answer.json()["data"]["subscribeToProduct"]["message"] == translations(language).gettext(
            "We will email you once when it is back in stock."), answer.json()
        # and the unsubscribe page of that address speaks it (nothing else is stored for it)
        page = await client.get(await link("watcher@example.com"), headers={"Accept-Language": "en"})
        assert_in(language, page, "Stop these messages?")


@pytest.mark.parametrize("language", [*LANGUAGES, "en"])
async def test_with_nothing_stored_the_page_speaks_the_browsers_language(db, smtp, language):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    url = await link("stranger@example.com")
    async with await client_for(shop) as client:
        page = await client.get(url, headers={"Accept-Language": ACCEPT[language]})
        assert page.status_code == 200
        assert_in(language, page, "Stop these messages?", "Stop them")
        done = await client.post(url, data={"List-Unsubscribe": "One-Click"},
                                 headers={"Accept-Language": ACCEPT[language]})
        assert done.status_code == 200
        assert_in(language, done, "You are unsubscribed")
        # a link that is not valid: whose it was is unknown, so the browser's language too
        bad = await client.get("/unsubscribe?token=nonsense", headers={"Accept-Language": ACCEPT[language]})
        assert bad.status_code == 400
        assert_in(language, bad, "This link is not valid", "Please use the link from one of our emails.")
    assert await store.is_email_suppressed("stranger@example.com")


async def test_with_nothing_stored_and_no_language_asked_the_page_is_english(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    async with await client_for(shop) as client:
        page = await client.get(await link("stranger@example.com"))
        assert_in("en", page, "Stop these messages?")
