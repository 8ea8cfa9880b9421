"""Real messages in every supported language, end to end: an English customer and one in each other language
order the same lamp and hear the same news (on backorder, a new date, a credit and a code for the wait, the
date moving while a text is held), a sign-in link and a back-in-stock email; everything arrives at the real SMTP
server (aiosmtpd) and through the real twilio client at its stand-in, and is read there.

Checked in each message as it arrived: no English sentence of the English customer's message left in the other
language's (this catches a phrase never marked for translation, which the catalogue tests cannot see), no
catalogue phrase left in English where its translation differs, no placeholder left unfilled, and dates, moments
and money as Babel writes them for the locale."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from babel.messages.pofile import read_po

from domain.customers import SUPPORTED_LANGUAGES, NotificationPreferences
from domain.model import Channel
from domain.services import CustomerDetails, LineRequest
from domain.store.portal import save_preferences
from notifications.i18n import LOCALE_DIR, format_day, format_moment, format_money, format_short_day, translations
from notifications.render import gsm_punctuation
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import WINDOW, catalogue, plain, send_sign_in_link

TRANSLATED = [language for language in SUPPORTED_LANGUAGES if language != "en"]
NAMES = ("Anglepoise lamp", "Brass desk lamp", "Lamp & Co", "http", "SORRY10")  # names, not words to translate
PHONES = {"en": "+447700900100", "de": "+4915112345678", "fr": "+33612345678", "es": "+34612345678"}
ZONES = {"en": "Europe/London", "de": "Europe/Berlin", "fr": "Europe/Paris", "es": "Europe/Madrid"}


def _visible(page: str) -> str:
    """An HTML body's words as a reader sees them."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _sentences(text: str) -> list[str]:
    """A message's sentences of three words or more that are not names, links or figures alone."""
    parts = re.split(r"[\n.:;!?()]+", re.sub(r"\S+://\S+", " ", text))
    return [p for p in (" ".join(part.split()) for part in parts)
            if len(re.findall(r"[^\W\d_]{2,}", p)) >= 3 and not any(name in p for name in NAMES)]


def _catalogue_fragments(language: str) -> list[str]:
    """The English words of every catalogue phrase whose translation is different, between its placeholders: any
    of them in a message in `language` is English left in it."""
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = read_po(po, locale=language)
    fragments = []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for english in ids:
            for fragment in re.split(r"\{\w+\}", english):
                fragment = " ".join(fragment.strip(" .,:;()").split())
                if len(re.findall(r"[^\W\d_]{2,}", fragment)) >= 2 and not any(fragment in s for s in strings):
                    fragments.append(fragment)
    return fragments


async def _customer(shop, language: str) -> str:  # type: ignore[no-untyped-def]
    email = f"{language}@example.com"
    await save_preferences(NotificationPreferences(
        email=email, by_email=True, by_sms=True, phone=PHONES[language], quiet_hours_start=time(22, 0),
        quiet_hours_end=time(7, 0), timezone=ZONES[language], language=language))
    return email


@pytest.mark.parametrize("language", TRANSLATED)
async def test_every_message_reads_in_the_customers_language_end_to_end(db, smtp, twilio, language):
    # given an English customer and one who reads `language`, both waiting for the same lamp
    shop = make_shop(make_settings(smtp, twilio))
    shop.clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    ids = await catalogue(shop, stock=0)
    customers = {lang: await _customer(shop, lang) for lang in ("en", language)}
    backorders = {}
    for lang, email in customers.items():
        placed = await shop.desk.place_order(CustomerDetails(email, "Robin Meyer"), Channel.ONLINE,
                                             [LineRequest("LAMP", 2)])
        backorders[lang] = placed.lines[0].backorder_id
    shop.clock.advance(WINDOW)
    await shop.deliver()
    # when the supplier's date moves and an agent gives each a credit and a code for the wait
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 3, 20))
    for backorder_id in backorders.values():
        await shop.desk.offer_goodwill(backorder_id, credit_amount=Decimal("5"), credit_currency="GBP",
                                       discount_code="SORRY10", note="late supplier", agent="agent-kim")
    shop.clock.advance(WINDOW)
    await shop.deliver()
    # and the date moves again late at night: the text waits for the morning, and says the date of the morning
    shop.clock.set(datetime(2026, 3, 2, 22, 30, tzinfo=UTC))
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 3, 27))
    shop.clock.advance(WINDOW)
    await shop.deliver()
    await shop.desk.update_purchase_order(ids["po"], expected_date=date(2026, 4, 3))
    shop.clock.advance(WINDOW)
    await shop.deliver()
    shop.clock.set(datetime(2026, 3, 3, 7, 0, 30, tzinfo=UTC))
    await shop.deliver()
    expires = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    for email in customers.values():
        await send_sign_in_link(shop, email, expires)
        assert await shop.notifications.subscribe_to_product("LAMP-ALT", email, None) == "ACTIVE"
    await shop.desk.receive_stock("LAMP-ALT", 5)
    await shop.deliver()

    mails = {lang: [m for m in smtp.messages if m["To"] == email] for lang, email in customers.items()}
    texts = {lang: [r["Body"] for r in twilio.requests if r["To"] == PHONES[lang]] for lang in customers}
    # then each gets the same messages: four digests, a sign-in link, a back-in-stock email; three texts (the
    # night's two windows in one, in the morning)
    assert [len(mails[lang]) for lang in customers] == [6, 6], {k: [m["Subject"] for m in v] for k, v in mails.items()}
    assert [len(texts[lang]) for lang in customers] == [3, 3], texts

    english = [s for m in mails["en"] for s in _sentences(f"{m['Subject']}\n{plain(m)}")]
    english += [s for m in mails["en"] for s in _sentences(_visible(m.get_body(("html",)).get_content()))]
    english += [s for t in texts["en"] for s in _sentences(t)]
    assert len(set(english)) > 20, english  # the English customer was told a good deal: the comparison means something
    fragments = _catalogue_fragments(language)
    gettext = translations(language).gettext
    for mail in mails[language]:
        page = mail.get_body(("html",)).get_content()
        assert f'lang="{language}"' in page
        for part, words in (("subject", str(mail["Subject"])), ("text", plain(mail)), ("html", _visible(page))):
            left = [s for s in english if s in words] + [f for f in fragments if f in words]
            assert not left, (part, left, words)
            assert not re.search(r"\{\w*\}", words), (part, words)  # no placeholder left unfilled
        # greeted in the language (a back-in-stock subscriber by no name: the subscription has none)
        assert plain(mail).startswith((gettext("Hello {name},").format(name="Robin"), gettext("Hello,"))), plain(mail)
    for body in texts[language]:
        left = [s for s in english if s in body] + [f for f in fragments if f in body]
        assert not left and not re.search(r"\{\w*\}", body), (left, body)
        assert body.endswith(gettext("Reply STOP to opt out")), body

    # dates, moments and money in the locale's own formats, Babel's
    digests = [plain(m) for m in mails[language][:4]]
    assert format_day(date(2026, 3, 10), language) in digests[0]
    assert format_day(date(2026, 3, 20), language) in digests[1]
    assert format_money(Decimal("5"), "GBP", language) in digests[1]
    assert format_day(date(2026, 4, 3), language) in digests[3]
    assert gsm_punctuation(format_short_day(date(2026, 3, 10), language)) in texts[language][0]
    # (a text's spaces are plain ones: GSM-7 has no no-break space)
    assert gsm_punctuation(format_money(Decimal("5"), "GBP", language)) in texts[language][1]
    assert gsm_punctuation(format_short_day(date(2026, 4, 3), language)) in texts[language][2]
    link = plain(mails[language][4])
    assert format_moment(expires, ZONES[language], language) in " ".join(link.split())
    assert mails[language][5]["Subject"] == gettext("{product} is back in stock").format(product="Brass desk lamp")
