"""Customers are told in their language (en, de, fr, es): the catalogues are complete and current, dates,
times and zones follow the locale, and a German customer gets German email and texts end to end."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from domain.causes import Cause, CauseKind, RequestedBy
from domain.currency import ExchangeRate
from domain.customers import SUPPORTED_LANGUAGES, NotificationPreferences
from domain.model import Channel, Money, OrderLine
from domain.pricing import compare_prices
from domain.services import CustomerDetails, LineRequest, ProductInput
from domain.store.portal import save_preferences
from notifications import wording
from notifications.compose import Item, Now, WindowNews
from notifications.i18n import LOCALE_DIR, format_moment, format_money
from notifications.render import ItemView, is_gsm7, render_digest, sms_segments
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import send_sign_in_link

ROOT = Path(__file__).parents[2]
TRANSLATED = [language for language in SUPPORTED_LANGUAGES if language != "en"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _catalogue(language: str):  # type: ignore[no-untyped-def]
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language)


def test_the_template_holds_every_phrase_the_code_marks_for_translation(tmp_path):
    # given the phrases extracted from notifications/ now, as scripts/i18n.sh does
    fresh = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg", "--no-location",
                    "-o", str(fresh), "."], cwd=ROOT, check=True, capture_output=True)
    with fresh.open("rb") as f:
        extracted = {m.id for m in read_po(f) if m.id}
    with (LOCALE_DIR / "messages.pot").open("rb") as f:
        committed = {m.id for m in read_po(f) if m.id}
    # then the committed template is current: run scripts/i18n.sh after changing wording
    assert extracted == committed


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_phrase_is_translated_with_the_same_placeholders(language):
    catalogue = _catalogue(language)
    with (LOCALE_DIR / "messages.pot").open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    assert {m.id for m in catalogue if m.id} == wanted, "run scripts/i18n.sh"
    for message in catalogue:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s.strip() for s in strings), f"{language}: {ids[0]!r} is not translated"
        names = set(PLACEHOLDER.findall(ids[-1]))
        for s in strings:
            assert set(PLACEHOLDER.findall(s)) <= names | {"count", "n"}, (language, ids[0], s)
            assert names - {"count", "n"} <= set(PLACEHOLDER.findall(s)), (language, ids[0], s)


def test_moments_are_on_the_locales_clock_with_the_zone_named():
    at = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)
    assert format_moment(at, "Europe/London", "en") == "2 December 2026, 14:30 (Greenwich Mean Time)"
    assert format_moment(at, "Europe/Berlin", "de") == "2. Dezember 2026, 15:30 (Mitteleuropäische Normalzeit)"
    assert format_moment(at, "Europe/Paris", "fr") == "2 décembre 2026, 15:30 (heure normale d’Europe centrale)"
    assert format_moment(at, "Europe/Madrid", "es") == "2 de diciembre de 2026, 15:30 (hora estándar de Europa central)"


def test_history_is_worded_in_the_customers_language():
    asked = Cause.cancelled(2, "agent-kim", "customer found one locally", RequestedBy.CUSTOMER)
    arrived = Cause(kind=CauseKind.PO_RECEIVED, reference="PO-9")
    assert [wording.customer_cause("QUANTITY", asked, lang) for lang in SUPPORTED_LANGUAGES] == [
        "2 cancelled at your request", "2 auf Ihren Wunsch storniert", "2 annulé(s) à votre demande",
        "2 cancelado(s) a petición suya"]
    assert wording.customer_cause("STATUS", arrived, "de") == "eine Lieferung des Lieferanten ist eingetroffen"


def _item(head: str, wish: str | None = None) -> Item:
    news = WindowNews(backorder_id="b1", order_id="o1", sku="LAMP", created=head == "created",
                      cancel_wishes={wish}, eta_before=date(2026, 3, 10), eta_changed=True)
    now = Now(status="PARTIALLY_ALLOCATED", original_quantity=6, allocated_quantity=2, shipped_quantity=1,
              cancelled_quantity=1, substituted_quantity=1, waiting_quantity=2, queue_position=4,
              eta=date(2026, 4, 15), eta_confidence="MEDIUM", promised_date=date(2026, 3, 10))
    return Item(news=news, now=now, headline=head, long_delay=head == "long_delay")


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_texts_stay_gsm7_where_the_language_allows_and_count_segments_honestly_where_not(language):
    url = "https://orders.lamp-and-co.example.com/"
    for head in wording.SUBJECTS:
        for wish in ("customer", "shop", None):
            view = ItemView(item=_item(head, wish), product="Anglepoise Type 75 Mini Desk Lamp, Brass",
                            order_number="BD-1", substitute="Brass desk lamp", substitutes=("Brass desk lamp",))
            text = render_digest([view], name="Ann", language=language, shop_name="Lamp & Co", portal_url=url,
                                 short_url=url, unsubscribe_url=url + "u").sms or ""
            assert url in text and "STOP" in text, text
            assert is_gsm7(text), text  # every letter of these words is in GSM-7 (é, ä, ñ, ü, ß are)
            assert sms_segments(text) <= 2, (sms_segments(text), text)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_a_digest_explains_the_queue_in_the_portals_words(language):
    # given a backorder 3rd in a fair-share queue, one of the two ahead of it placed after it
    base = _item("eta_later")
    now = Now(**{**base.now.__dict__, "queue_position": 3, "placed_in_turn": False, "fair_share": True})
    view = ItemView(item=Item(news=base.news, now=now, headline="eta_later"), product="Anglepoise lamp",
                    order_number="BD-1")
    url = "https://shop.test/"
    rendered = render_digest([view], name="Ann", language=language, shop_name="Lamp & Co", portal_url=url,
                             short_url=url, unsubscribe_url=url + "u")
    # then the email says what Backorder.queueExplanation says, in text and HTML alike
    sentence = wording.queue_explanation(3, False, fair_share=True, language=language)
    assert sentence in rendered.text and sentence in html.unescape(rendered.html or "")
    if language == "en":
        assert sentence == ("You are 3rd in line: 2 orders are waiting ahead of yours. Arriving stock is shared out: "
                            "every waiting order gets a share first.")
    # and nothing at all once nothing waits
    done = Now(**{**now.__dict__, "status": "ALLOCATED", "waiting_quantity": 0, "allocated_quantity": 4})
    quiet = render_digest([ItemView(item=Item(news=base.news, now=done, headline="allocated"), product="Lamp",
                                    order_number="BD-1")], name="Ann", language=language, shop_name="Lamp & Co",
                          portal_url=url, short_url=url, unsubscribe_url=url + "u")
    assert sentence not in quiet.text and wording.queue_explanation(3, True, fair_share=True, language=language) \
        not in quiet.text


PAID = {  # what an alternative taken for 2 units costs, converted from euros: in each language's own formats
    "en": "You pay £68.00 for 2 × Brass lamp (£34.00 each): its price of €40.00 each converted at our exchange "
          "rate of 1 March 2026 (1 EUR = 0.85 GBP).",
    "de": "Sie zahlen 68,00 £ für 2 × Brass lamp (34,00 £ pro Stück): Stückpreis 40,00 €, umgerechnet zu unserem "
          "Wechselkurs vom 1. März 2026 (1 EUR = 0,85 GBP).",
    "fr": "Vous payez 68,00 £GB pour 2 × Brass lamp (34,00 £GB l’unité) : son prix de 40,00 € l’unité, converti à "
          "notre taux de change du 1 mars 2026 (1 EUR = 0,85 GBP).",
    "es": "Usted paga 68,00 GBP por 2 × Brass lamp (34,00 GBP cada uno): su precio de 40,00 € por unidad, "
          "convertido a nuestro tipo de cambio del 1 de marzo de 2026 (1 EUR = 0,85 GBP).",
}


SMS_PAID = {"en": "2 replaced, you pay £68.00", "de": "2 ersetzt, Sie zahlen 68,00 £",
            "fr": "2 remplacés, vous payez 68,00 £GB", "es": "2 sustituidos, paga 68,00 GBP"}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_an_alternative_confirmed_says_what_the_customer_pays_in_their_language(language):
    # given 2 units replaced by an alternative priced in euros, the order in pounds, at the shop's rate of 1 March
    base = _item("substituted")
    news = WindowNews(**{**base.news.__dict__, "substituted": 2, "substitute_sku": "ALT"})
    now = Now(**{**base.now.__dict__, "status": "SUBSTITUTED", "waiting_quantity": 0, "substituted_quantity": 2})
    line = OrderLine(id="l2", order_id="o1", sku="ALT", quantity=2, unit_price=Money.of("34.00", "GBP"),
                     substitute_for="b1", list_price=Money.of("40.00", "EUR"),
                     exchange_rate=ExchangeRate("EUR", "GBP", Decimal("0.85000000"), date(2026, 3, 1)))
    view = ItemView(item=Item(news=news, now=now, headline="substituted"), product="Lamp", order_number="BD-1",
                    substitute="Brass lamp", paid=(line,))
    url = "https://shop.test/"
    rendered = render_digest([view], name="Ann", language=language, shop_name="Lamp & Co", portal_url=url,
                             short_url=url, unsubscribe_url=url + "u")
    # then text and HTML say it in the language's words and formats
    assert PAID[language] in " ".join(rendered.text.split())
    assert PAID[language] in " ".join(html.unescape(rendered.html or "").split())
    # and the text, in few words: the total they pay, as the language writes it
    assert SMS_PAID[language] in " ".join((rendered.sms or "").split()), rendered.sms
    # and with no conversion, the price and the total alone
    same = OrderLine(id="l3", order_id="o1", sku="ALT", quantity=1, unit_price=Money.of("34.00", "GBP"),
                     substitute_for="b1")
    alone = render_digest([ItemView(item=view.item, product="Lamp", order_number="BD-1", substitute="Brass lamp",
                                    paid=(same,))], name="Ann", language=language, shop_name="Lamp & Co",
                          portal_url=url, short_url=url, unsubscribe_url=url + "u")
    money = format_money(Decimal("34.00"), "GBP", language)
    assert wording.price_paid(quantity=1, name="Brass lamp", price=money, total=money, language=language) in alone.text
    assert money in alone.text


OFFERED = {  # an alternative offered at 40 euros, 34 pounds at the shop's rate, beside the 29.50 pounds they pay
    "en": "An alternative is in stock now: Brass lamp (£34.00 each at our exchange rate of 1 March 2026, £4.50 more "
          "than you pay); Tin lamp.",
    "de": "Brass lamp (34,00 £ pro Stück zu unserem Wechselkurs vom 1. März 2026, 4,50 £ mehr als Ihr Preis)",
    "fr": "Brass lamp (34,00 £GB l’unité à notre taux de change du 1 mars 2026, 4,50 £GB de plus que votre prix)",
    "es": "Brass lamp (34,00 GBP cada uno a nuestro tipo de cambio del 1 de marzo de 2026, 4,50 GBP más que su "
          "precio)",
}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_an_offered_alternative_is_named_with_its_price_beside_what_the_customer_pays(language):
    base = _item("substitute_offered")
    rate = ExchangeRate("EUR", "GBP", Decimal("0.85"), date(2026, 3, 1))
    priced = compare_prices(Money.of("29.50", "GBP"), Money.of("40.00", "EUR"), {rate.pair: rate})
    view = ItemView(item=Item(news=base.news, now=base.now, headline="substitute_offered"), product="Lamp",
                    order_number="BD-1", substitutes=("Brass lamp", "Tin lamp"), offer_prices=(priced, None))
    url = "https://shop.test/"
    rendered = render_digest([view], name="Ann", language=language, shop_name="Lamp & Co", portal_url=url,
                             short_url=url, unsubscribe_url=url + "u")
    text = " ".join(rendered.text.split())
    assert OFFERED[language] in text and OFFERED[language] in " ".join(html.unescape(rendered.html or "").split())
    assert "; Tin lamp" in text  # one it cannot price in their currency: named, no figure made up


def test_a_letter_outside_gsm7_makes_a_text_ucs2_and_it_is_counted_so():
    url = "https://orders.lamp-and-co.example.com/"
    august = _item("created")
    august = Item(news=august.news, now=Now(**{**august.now.__dict__, "eta": date(2026, 8, 20)}), headline="created")
    view = ItemView(item=august, product="Lampe Anglepoise", order_number="BD-1")
    text = render_digest([view], name="Zoé", language="fr", shop_name="Lamp & Co", portal_url=url, short_url=url,
                         unsubscribe_url=url + "u").sms or ""
    assert "20 août" in text and not is_gsm7(text)  # û: no GSM-7 look-alike is put in the customer's words
    assert sms_segments(text) == -(-len(text.encode("utf-16-le")) // 2 // 67) <= 3


async def test_a_german_customer_gets_german_email_and_texts(db, smtp, twilio):
    shop = make_shop(make_settings(smtp, twilio))
    desk = shop.desk
    supplier = await desk.upsert_supplier(None, "Lumen GmbH", 20)
    await desk.upsert_product(ProductInput(sku="LAMP", name="Schreibtischlampe", price=Decimal("29.50"),
                                           currency="EUR", supplier_id=supplier.id))
    await desk.create_purchase_order(supplier.id, date(2026, 3, 10), [LineRequest("LAMP", 5)], number="PO-9")
    await save_preferences(NotificationPreferences(
        email="jonas@example.de", by_email=True, by_sms=True, phone="+4915112345678", quiet_hours_start=None,
        quiet_hours_end=None, timezone="Europe/Berlin", language="de"))
    placed = await desk.place_order(CustomerDetails("jonas@example.de", "Jonas Weber"), Channel.ONLINE,
                                    [LineRequest("LAMP", 2)])
    shop.clock.advance(timedelta(seconds=601))
    await shop.deliver()

    [mail] = smtp.messages
    assert mail["Subject"] == "Schreibtischlampe: wird nachgeliefert"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Hallo Jonas," in text
    assert "Wir hatten nicht genug auf Lager und liefern das Fehlende, sobald es eintrifft." in text
    assert "Stand jetzt: 2 noch ausstehend." in text
    assert "Sie sind als Nächste dran: Vor Ihrer Bestellung wartet keine andere." in text
    assert "Erwartet: 10. März 2026 (vom Lieferanten bestätigt)." in text
    assert f"Bestellung {placed.number}" in text
    html = mail.get_body(("html",)).get_content()
    assert '<html lang="de">' in html and "Ihre Bestellungen ansehen" in html
    [sms] = twilio.bodies
    assert sms == ("Lamp & Co: Schreibtischlampe: wird nachgeliefert; 2 warten, erw. 10. März. http://shop.test/ "
                   "Abmelden: STOP antworten")
    assert is_gsm7(sms) and sms_segments(sms) == 1

    # a sign-in link: the time on a 24-hour clock in Berlin, the zone named in German
    await send_sign_in_link(shop, "jonas@example.de", datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
    await shop.deliver()
    link = smtp.messages[-1]
    assert link["Subject"] == "Ihr Link zu Ihren Bestellungen"
    assert "läuft am 2. März 2026, 11:30 (Mitteleuropäische Normalzeit) ab" in link.get_body(
        ("plain",)).get_content().replace("\r\n", "\n")


async def test_a_back_in_stock_subscriber_who_is_a_customer_is_told_in_their_language(db, smtp):
    shop = make_shop(make_settings(smtp, None, coalesce_seconds=0))
    await shop.desk.upsert_product(ProductInput(sku="LAMP", name="Schreibtischlampe", price=Decimal("29.50"),
                                                currency="EUR"))
    await save_preferences(NotificationPreferences(email="jonas@example.de", language="de"))
    for who in ("jonas@example.de", "ann@example.com"):
        assert await shop.notifications.subscribe_to_product("LAMP", who, None) == "ACTIVE"
    await shop.desk.receive_stock("LAMP", 5)
    await shop.deliver()
    assert {m["To"]: m["Subject"] for m in smtp.messages} == {
        "jonas@example.de": "Schreibtischlampe ist wieder vorrätig",
        "ann@example.com": "Schreibtischlampe is back in stock"}
