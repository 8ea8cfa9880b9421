"""Messages a person would write: subject, plain text, HTML and SMS from Jinja2 templates.

One set of templates for every language: their phrases go through the language's gettext catalogue, and
the sentences about backorders come from notifications.wording (notifications.i18n: catalogues, and
Babel's formats for dates, times, numbers and money).
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from domain.goodwill import Goodwill
from domain.model import OrderLine
from domain.pricing import PriceComparison
from notifications import wording
from notifications.compose import Item, cancel_wish
from notifications.i18n import (
    format_day,
    format_moment,
    format_money,
    format_rate,
    format_short_day,
    language_of,
    translations,
)

_env = Environment(
    loader=PackageLoader("notifications", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

def phrases(language: str) -> dict[str, str]:
    """Subjects of the one-off messages, in the customer's language."""
    gettext = translations(language).gettext
    return {"portal_subject": gettext("Your link to see your orders"),
            "back_in_stock_subject": gettext("{product} is back in stock")}


def goodwill_offer(texts: Mapping[str, str], code: str | None, language: str) -> str | None:
    """The shop's goodwill words for a long delay in `language`: its own, set for that language; else, when it
    offers goodwill at all (words in some language, or a code), a translated default that promises nothing
    beyond the code; never another language's words. None: the shop offers none."""
    if texts.get(language):
        return texts[language]
    if not texts and not code:
        return None
    gettext = translations(language).gettext
    if code:
        return gettext("As an apology for the wait, please use this code on your next order.")
    return gettext("We are sorry for the wait.")


def format_date(value: date | None, language: str) -> str:
    return format_day(value, language) if value is not None else ""


def format_short_date(value: date | None, language: str) -> str:
    return format_short_day(value, language) if value is not None else ""


def format_datetime(value: datetime, timezone: str, language: str) -> str:
    return format_moment(value, timezone, language)


@dataclass(frozen=True)
class ItemView:
    """What the templates need about one backorder: its item (news and state now) and the names to show."""

    item: Item
    product: str
    order_number: str
    substitute: str | None = None  # the alternative the customer took, by name
    substitutes: tuple[str, ...] = ()  # alternatives in stock to offer, by name
    paid: tuple[OrderLine, ...] = ()  # the order's lines of the alternatives that took its place: what they cost
    # beside `substitutes`, each one's price next to what the customer pays (None: not in their currency)
    offer_prices: tuple[PriceComparison | None, ...] = ()
    goodwill: tuple[Goodwill, ...] = ()  # what an agent gave in the window, read when the message is worded


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    sms: str | None


PRODUCT_IN_SMS = 28  # characters of a product name in a text, before anything needs cutting
SMS_MAX_SEGMENTS = 2
SMS_MAX_SEGMENTS_UCS2 = 3  # 201 characters: what a French or Spanish text needs when its words leave GSM-7
SMS_OFFERS = 2  # alternatives a text names (with their prices); the email and the portal list them all


def _short(name: str, limit: int = PRODUCT_IN_SMS) -> str:
    """Cut to `limit` characters with "..." (not "…", which is not GSM-7 and would make a text UCS-2)."""
    if len(name) <= limit:
        return name
    if limit <= 3:
        return name[:limit].rstrip()
    return name[: limit - 3].rstrip(" -,;:") + "..."


def _item(view: ItemView, language: str) -> dict[str, object]:
    item, now, news = view.item, view.item.now, view.item.news
    wish = cancel_wish(news)
    eta = format_date(now.eta, language)
    offers = [_offer(name, price, language) for name, price in itertools.zip_longest(
        view.substitutes, view.offer_prices[:len(view.substitutes)])]
    sentence = wording.headline_sentence(item.headline, wish, language, old=format_date(news.eta_before, language),
                                         new=eta, names=("; " if any(view.offer_prices) else ", ").join(offers),
                                         release=format_date(now.release_date, language),
                                         deadline=format_date(news.not_by, language))
    if item.long_delay and item.headline != "long_delay":
        sentence += " " + wording.headline_sentence("long_delay", None, language, new=eta)
    waiting = now.waiting_quantity if now.active else 0
    numbers = {"shipped": now.shipped_quantity, "held": now.held if now.active else 0, "waiting": waiting,
               "substituted": now.substituted_quantity, "cancelled": now.cancelled_quantity}
    return {
        "product": view.product,
        "product_short": _short(view.product),
        "order_number": view.order_number,
        "sentence": sentence,
        "facts": wording.facts(**numbers, substitute=view.substitute, language=language),
        "paid": [_price_paid(line, view.substitute or line.sku, language) for line in view.paid],
        # a text's sentence in parts: the offered alternatives' names are cut to fit (`_sms_sentence`)
        "sms_head": wording.sms_headline(item.headline, wish, language),
        "sms_offers": [(name, _sms_offer(price, language)) for name, price in itertools.zip_longest(
            view.substitutes, view.offer_prices[:len(view.substitutes)])][:SMS_OFFERS]
        if item.headline == "substitute_offered" else [],
        "sms_facts": wording.sms_facts(**numbers, eta=format_short_date(now.eta, language) if waiting else "",
                                       paid=_total_paid(view.paid, language), language=language),
        # in a text of one item after its facts; in a text of several, after "3 updates ...": always said
        "sms_goodwill": [part for g in view.goodwill for part in wording.sms_goodwill(
            (g.credit.amount, g.credit.currency) if g.credit else None, g.discount_code, language)],
        # the portal's Backorder.queueExplanation, from the state now: the same sentence in both places
        "queue_sentence": wording.queue_explanation(now.queue_position, now.placed_in_turn, fair_share=now.fair_share,
                                                    language=language) if waiting and now.queue_position else None,
        "eta": eta if waiting and now.eta else None,
        "confidence_words": wording.confidence_words(now.eta_confidence, language) if waiting else "",
        "long_delay": item.long_delay,
        "substitutes": list(view.substitutes),
        "goodwill": [line for g in view.goodwill for line in wording.goodwill_lines(
            (g.credit.amount, g.credit.currency) if g.credit else None, g.discount_code, language)],
    }


def _sms_offer(price: PriceComparison | None, language: str) -> str:
    if price is None:
        return "{name}"
    return wording.sms_offer(difference=format_money(abs(price.difference.amount), price.difference.currency,
                                                     language),
                             more=price.difference.amount > 0, less=price.difference.amount < 0, language=language)


def _sms_sentence(item: dict[str, Any], name_limit: int) -> str:
    """One item's text: headline; the alternatives offered, each with how its price compares (names cut to
    `name_limit`, like the product's); the facts and any goodwill. No closing stop of its own: the template puts
    one ("20. Aug." would end in two)."""
    offers = [phrase.replace("{name}", _short(gsm_text(name), name_limit)) for name, phrase in item["sms_offers"]]
    return "; ".join([item["sms_head"], *offers, *item["sms_facts"], *item["sms_goodwill"]]).rstrip(".")


def _offer(name: str, price: PriceComparison | None, language: str) -> str:
    if price is None:
        return name
    return wording.offered_price(
        name=name, price=format_money(price.converted.amount, price.converted.currency, language),
        difference=format_money(abs(price.difference.amount), price.difference.currency, language),
        more=price.difference.amount > 0, less=price.difference.amount < 0,
        rate_date=format_day(price.rate.as_of, language) if price.rate is not None else None, language=language)


def _total_paid(lines: tuple[OrderLine, ...], language: str) -> str:
    """What the alternatives that took a backorder's place cost in all, for a text ("" when there are none, or
    when they are not in one currency, which an order's lines always are)."""
    if not lines or len({line.unit_price.currency for line in lines}) != 1:
        return ""
    total = sum((line.unit_price.amount * line.quantity for line in lines), Decimal(0))
    return format_money(total, lines[0].unit_price.currency, language)


def _price_paid(line: OrderLine, name: str, language: str) -> str:
    price = line.unit_price
    rate = line.exchange_rate
    return wording.price_paid(
        quantity=line.quantity, name=name, price=format_money(price.amount, price.currency, language),
        total=format_money(price.amount * line.quantity, price.currency, language),
        list_price=format_money(line.list_price.amount, line.list_price.currency, language)
        if line.list_price is not None else None,
        rate=format_rate(rate.rate, language) if rate is not None else None,
        rate_date=format_day(rate.as_of, language) if rate is not None else None,
        from_currency=rate.from_currency if rate is not None else "",
        to_currency=rate.to_currency if rate is not None else "", language=language)


def _template_context(language: str) -> dict[str, Any]:
    t = translations(language)
    return {"_": t.gettext, "gettext": t.gettext, "ngettext": t.ngettext, "language": language}


def render_digest(views: list[ItemView], *, name: str, language: str, shop_name: str, portal_url: str,
                  short_url: str, unsubscribe_url: str, goodwill_texts: Mapping[str, str] | None = None,
                  goodwill_code: str | None = None) -> Rendered:
    language = language_of(language)
    goodwill_text = goodwill_offer(goodwill_texts or {}, goodwill_code, language)
    gettext = translations(language).gettext
    items = [_item(v, language) for v in views]
    if len(views) == 1:
        subject = gettext("{product}: {what}").format(product=views[0].product,
                                                what=wording.subject_words(views[0].item.headline, language))
    else:
        subject = translations(language).ngettext("Updates on {count} item you ordered",
                                                  "Updates on {count} items you ordered", len(views)).format(
            count=len(views))
    delayed = any(v.item.long_delay for v in views)
    context = {**_template_context(language), "items": items, "name": name, "shop_name": shop_name,
               "portal_url": portal_url, "short_url": short_url, "unsubscribe_url": unsubscribe_url,
               "subject": subject, "goodwill_text": goodwill_text if delayed else None,
               "goodwill_code": goodwill_code if delayed else None}
    text = _env.get_template("digest.txt.j2").render(context)
    html = _env.get_template("digest.html.j2").render(context)

    def sms_context(product_limit: int, shop_limit: int) -> dict[str, Any]:
        return {**context, "shop_name": _short(gsm_text(shop_name.strip()), shop_limit),
                "sms_gifts": [part for item in items for part in item["sms_goodwill"]],  # type: ignore[attr-defined]
                "items": [{**item, "product_short": _short(gsm_text(str(item["product"])), product_limit),
                           "sms_sentence": _sms_sentence(item, product_limit)} for item in items]}

    sms = _fit_sms("digest.sms.j2", sms_context, shop_name)
    return Rendered(subject=subject, text=_tidy(text), html=html, sms=sms)


def render_portal_link(*, name: str, link: str, expires_at: datetime, timezone: str, language: str,
                       shop_name: str) -> Rendered:
    language = language_of(language)
    p = phrases(language)
    context = {**_template_context(language), "name": name, "link": link, "shop_name": shop_name,
               "expires": format_datetime(expires_at, timezone, language), "subject": p["portal_subject"]}
    return Rendered(subject=p["portal_subject"],
                    text=_tidy(_env.get_template("portal_link.txt.j2").render(context)),
                    html=_env.get_template("portal_link.html.j2").render(context), sms=None)


def render_back_in_stock(*, product: str, language: str, shop_name: str, shop_url: str,
                         unsubscribe_url: str) -> Rendered:
    language = language_of(language)
    subject = phrases(language)["back_in_stock_subject"].format(product=product)
    context = {**_template_context(language), "product": product, "product_short": _short(product),
               "shop_name": shop_name, "shop_url": shop_url, "unsubscribe_url": unsubscribe_url, "subject": subject}
    return Rendered(subject=subject,
                    text=_tidy(_env.get_template("back_in_stock.txt.j2").render(context)),
                    html=_env.get_template("back_in_stock.html.j2").render(context),
                    sms=_fit_sms("back_in_stock.sms.j2", _named(context, product, shop_name), shop_name, product))


def render_sms_opt_in(*, product: str, language: str, shop_name: str) -> str:
    context = {**_template_context(language_of(language)), "shop_name": shop_name}
    return _fit_sms("sms_opt_in.sms.j2", _named(context, product, shop_name), shop_name, product)


def _named(context: dict[str, Any], product: str, shop_name: str) -> Callable[[int, int], dict[str, Any]]:
    def fill(product_limit: int, shop_limit: int) -> dict[str, Any]:
        return {**context, "product_short": _short(gsm_text(product), product_limit),
                "shop_name": _short(gsm_text(shop_name.strip()), shop_limit)}
    return fill


def _fit_sms(template: str, fill: Callable[[int, int], dict[str, Any]], shop_name: str, product: str = "") -> str:
    """The text from `template` in at most SMS_MAX_SEGMENTS segments (3 when the language's words need UCS-2),
    GSM-7 where the words allow.

    Only the variable parts are cut: first the product's name (down to 12 characters), then the shop's,
    then both to nothing; the template's own words, the link and "Reply STOP to opt out" never are."""
    product_len = min(len(product), PRODUCT_IN_SMS) if product else PRODUCT_IN_SMS
    shop_len = len(shop_name)
    readable = [(product_len, shop_len), *((n, shop_len) for n in range(product_len - 1, 11, -1))]
    readable += [(min(product_len, 12), n) for n in range(shop_len - 1, 11, -1)]
    cut = [(n, n) for n in range(min(product_len, 12), -1, -1)]
    # names (typed by people) were brought to GSM-7 look-alikes in `fill`; our own words keep their letters: a
    # text whose words need more than GSM-7 (French "août") goes as UCS-2, counted so, and takes a third segment
    # before its names are cut below 12 characters (": : une alternative ..." names nothing), then names go
    bodies: dict[tuple[int, int], str] = {}

    def body(limits: tuple[int, int]) -> str:
        if limits not in bodies:
            bodies[limits] = gsm_punctuation(" ".join(_env.get_template(template).render(fill(*limits)).split()))
        return bodies[limits]

    words_need_ucs2 = not is_gsm7(body((0, 0)))  # a name in another script is cut instead (it is only a name)
    for budgets in (readable, cut):
        for limits in budgets:
            if sms_segments(body(limits)) <= SMS_MAX_SEGMENTS:
                return body(limits)
        for limits in budgets if words_need_ucs2 else ():
            if sms_segments(body(limits)) <= SMS_MAX_SEGMENTS_UCS2:
                return body(limits)
    return body((cut or readable or [(product_len, shop_len)])[-1])  # only a link longer than that gets here


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


# GSM 03.38: the default alphabet (one septet each) and its extension table (two septets: escape + char)
GSM7_BASIC = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                       "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
_GSM_LOOKALIKES = {
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'", "“": '"', "”": '"', "„": '"',
    "‟": '"', "″": '"', "«": '"', "»": '"', "‹": "'", "›": "'", "–": "-", "—": "-", "‒": "-", "―": "-",
    "−": "-", "‐": "-", "‑": "-", "…": "...", "•": "-", "·": "-", "\u00a0": " ", "\u2007": " ",
    "\u2009": " ", "\u202f": " ", "\u200b": "", "\t": " ", "×": "x", "©": "(c)", "®": "(R)", "™": "TM",
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Œ": "OE", "œ": "oe", "ı": "i", "ç": "c", "Þ": "Th", "þ": "th",
}


def gsm_text(text: str) -> str:
    """The text in the GSM-7 alphabet where a character has a plain look-alike (’ -> ', – -> -,
    á -> a; letters GSM-7 has, like é or ü, stay); anything else is kept, and makes the text UCS-2."""
    if all(ch in GSM7_BASIC for ch in text):
        return text
    out = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENDED:
            out.append(ch)
        elif ch in _GSM_LOOKALIKES:
            out.append(_GSM_LOOKALIKES[ch])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            out.append(base if base and all(c in GSM7_BASIC for c in base) else ch)
    return "".join(out)


_GSM_PUNCTUATION = {ch: plain for ch, plain in _GSM_LOOKALIKES.items() if not ch.isalpha()}


def gsm_punctuation(text: str) -> str:
    """Typographic punctuation and spaces in their GSM-7 look-alikes (’ -> ', – -> -, … -> ...); letters
    stay as the language writes them."""
    return "".join(_GSM_PUNCTUATION.get(ch, ch) for ch in text)


def is_gsm7(body: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in body)


def sms_segments(body: str) -> int:
    """How many SMS segments a body takes: GSM-7 160 septets, or 153 a part when split (an extension
    character takes two); otherwise UCS-2, 70 UTF-16 units, or 67 a part."""
    if is_gsm7(body):
        length, single, multi = sum(2 if ch in GSM7_EXTENDED else 1 for ch in body), 160, 153
    else:
        length, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if length <= single else -(-length // multi)
