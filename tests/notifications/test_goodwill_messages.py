"""The customer is told of an agent's goodwill once, in their language, worded when the message is sent: the
credit in their money format and the code to type, never the agent's name or note."""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.customers import SUPPORTED_LANGUAGES, NotificationPreferences
from domain.goodwill import check_discount_code
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


# -- what each language's goodwill and offer messages say, email and text ------------------------------------
_NOW = dict(original_quantity=2, allocated_quantity=0, shipped_quantity=0, cancelled_quantity=0,
            substituted_quantity=0, waiting_quantity=2, queue_position=2, eta_confidence="MEDIUM", placed_in_turn=True)
_STOP = {"en": "Reply STOP to opt out", "de": "Abmelden: STOP antworten", "fr": "STOP pour vous désabonner",
         "es": "Responda STOP para darse de baja"}
# codes as the desk accepts them (domain.goodwill.check_discount_code: a letter or digit at each end, so a text's
# closing stop never runs into one); it drew "0..", which no agent can give, and failed on its closing stop
_codes = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,22}[A-Za-z0-9])?", fullmatch=True).filter(
    lambda code: check_discount_code(code) == code)
_amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
_currencies = st.sampled_from(["GBP", "EUR", "USD", "CHF", "SEK", "JPY"])


def _render(views, language: str, product: str = "Anglepoise lamp"):
    from notifications.render import render_digest

    return render_digest(views if isinstance(views, list) else [views], name="Jonas", language=language,
                         shop_name="Lamp & Co",
                         portal_url="http://shop.test/", short_url="http://shop.test/",
                         unsubscribe_url="http://shop.test/unsubscribe?token=x")


def _fits(sms: str) -> bool:
    from notifications.render import is_gsm7, sms_segments

    return sms_segments(sms) <= (2 if is_gsm7(sms) else 3)


@settings(max_examples=60, deadline=None)
@given(language=st.sampled_from(SUPPORTED_LANGUAGES), amount=st.none() | _amounts, currency=_currencies,
       code=st.none() | _codes, beside=st.sampled_from(["goodwill", "eta_later", "created"]),
       product=st.sampled_from(["Anglepoise lamp", "Anglepoise Type 75 Mini Desk Lamp with Extra Long Arm",
                                "Lampe « Île-de-France » en laiton"]), with_another=st.booleans())
def test_goodwill_is_stated_in_the_email_and_the_text_in_every_language(language, amount, currency, code, beside,
                                                                       product, with_another):
    """The text carries what the email does (a text may be all the customer reads): the credit in their money
    format, the code; in their language, within its segments, no sentence closed twice."""
    from datetime import UTC, date, datetime

    from domain.goodwill import Goodwill
    from domain.model import Money
    from notifications.compose import Item, Now, WindowNews
    from notifications.i18n import format_money
    from notifications.render import ItemView, gsm_punctuation

    assume(amount is not None or code is not None)
    credit = Money(amount, currency) if amount is not None else None
    gift = Goodwill(id="g1", backorder_id="b1", at=datetime(2026, 3, 2, tzinfo=UTC), agent="agent@desk",
                    credit=credit, discount_code=code, note="secret: VIP complaint")
    news = WindowNews(backorder_id="b1", order_id="o1", sku="LAMP", goodwill=["g1"], created=beside == "created",
                      eta_before=date(2026, 3, 10), eta_changed=beside == "eta_later")
    now = Now(status="WAITING", eta=date(2026, 8, 20), promised_date=date(2026, 3, 10), **_NOW)  # type: ignore[arg-type]
    views = [ItemView(item=Item(news=news, now=now, headline=beside), product=product, order_number="BO-1",
                      goodwill=(gift,))]
    if with_another:  # a text about several items says "2 updates on your orders": the goodwill still in it
        views.append(ItemView(item=Item(news=WindowNews(backorder_id="b2", order_id="o1", sku="DESK", created=True),
                                        now=now, headline="created"), product="Oak desk", order_number="BO-1"))
    rendered = _render(views, language, product)
    email, sms = " ".join(rendered.text.split()), rendered.sms or ""
    if credit is not None:
        money = format_money(credit.amount, credit.currency, language)
        assert " ".join(money.split()) in email
        assert " ".join(gsm_punctuation(money).split()) in sms, sms
    if code is not None:
        assert code in email and code in sms, sms
    for said in (email, sms):
        assert "agent@desk" not in said and "VIP" not in said
    assert "email" not in sms.lower() and "e-mail" not in sms.lower()  # never "see your email": it may not come
    closed_twice = re.search(r"(?<!\.)\.\.(?!\.)", sms)  # "20. Aug.." (a cut name's "..." is not)
    assert sms.endswith(_STOP[language]) and not closed_twice and _fits(sms), sms
    if language != "en":  # the text's own words are the language's, not the English msgids
        assert not any(english in sms for english in ("credit ", "waiting", "something for the wait",
                                                      "For the wait")), sms


@settings(max_examples=40, deadline=None)
@given(language=st.sampled_from(SUPPORTED_LANGUAGES), paid=_amounts, offered=_amounts,
       currency=st.sampled_from(["GBP", "EUR", "USD"]))
def test_a_text_offering_an_alternative_states_its_price_difference(language, paid, offered, currency):
    from datetime import date

    from domain.model import Money
    from domain.pricing import PriceComparison
    from notifications import wording
    from notifications.compose import Item, Now, WindowNews
    from notifications.i18n import format_money, translations
    from notifications.render import ItemView, gsm_punctuation

    comparison = PriceComparison(original=Money(paid, currency), substitute=Money(offered, currency),
                                 converted=Money(offered, currency), rate=None)
    news = WindowNews(backorder_id="b1", order_id="o1", sku="LAMP", offered_substitutes=["ALT"])
    now = Now(status="WAITING", eta=date(2026, 8, 20), promised_date=date(2026, 3, 10), **_NOW)  # type: ignore[arg-type]
    sms = _render(ItemView(item=Item(news=news, now=now, headline="substitute_offered"), product="Anglepoise lamp",
                           order_number="BO-1", substitutes=("Brass desk lamp",), offer_prices=(comparison,)),
                  language).sms or ""
    gettext = translations(language).gettext
    if offered == paid:
        assert gettext(wording._("{name}: same price")).format(name="Brass desk lamp") in sms, sms
    else:
        difference = gsm_punctuation(format_money(abs(offered - paid), currency, language))
        phrase = "{name}: {difference} more each" if offered > paid else "{name}: {difference} less each"
        assert gsm_punctuation(gettext(phrase)).format(name="Brass desk lamp", difference=difference) in sms, sms
    assert sms.endswith(_STOP[language]) and _fits(sms), sms
