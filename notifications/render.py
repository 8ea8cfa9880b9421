"""Messages a person would write: subject, plain text, HTML and SMS from Jinja2 templates.

One template folder and one phrase book per language (`templates/<lang>/`, `PHRASES[lang]`); adding a
language means adding both and listing it in `domain.customers.SUPPORTED_LANGUAGES`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notifications.compose import BackorderNews

_env = Environment(
    loader=PackageLoader("notifications", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

MONTHS = {"en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                 "October", "November", "December"]}

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "created": "We did not have enough in stock, so {quantity} {units} on backorder.",
        "eta_later": "The expected date has moved from {old} to {new}.",
        "eta_earlier": "Good news: it is now expected earlier, on {new} (was {old}).",
        "partially_allocated": "Part of it has arrived and is set aside for you.",
        "allocated": "It has arrived and is set aside for you: ready to ship.",
        "shipped": "It is on its way.",
        "cancelled_customer": "Cancelled, as you asked. You will not be charged for cancelled items.",
        "cancelled_shop": "We are sorry: we had to cancel it. You will not be charged for it.",
        "partly_cancelled": "{quantity} cancelled. You will not be charged for them.",
        "substituted": "Replaced by the alternative you chose.",
        "substitute_offered": "An alternative is in stock now: {names}.",
        "long_delay": "It is taking longer than we first said: now expected {new}.",
        "update": "There is an update.",
        "sms_created": "backordered, expected {new}",
        "sms_eta_later": "now expected {new} (was {old})",
        "sms_eta_earlier": "now expected earlier, {new}",
        "sms_partially_allocated": "part has arrived",
        "sms_allocated": "arrived, ready to ship",
        "sms_shipped": "shipped",
        "sms_cancelled": "cancelled",
        "sms_partly_cancelled": "{quantity} cancelled",
        "sms_substituted": "replaced by your alternative",
        "sms_substitute_offered": "an alternative is in stock",
        "sms_long_delay": "delayed to {new}; see options",
        "sms_update": "updated",
        "conf_HIGH": "confirmed by the supplier",
        "conf_MEDIUM": "our estimate",
        "conf_LOW": "uncertain: the supplier has been late",
        "subject_one": "{product}: {what}",
        "subject_many": "Updates on {count} items you ordered",
        "what_created": "on backorder",
        "what_eta_later": "new expected date",
        "what_eta_earlier": "arriving earlier",
        "what_partially_allocated": "part has arrived",
        "what_allocated": "ready to ship",
        "what_shipped": "on its way",
        "what_cancelled": "cancelled",
        "what_partly_cancelled": "partly cancelled",
        "what_substituted": "alternative confirmed",
        "what_substitute_offered": "an alternative is in stock",
        "what_long_delay": "delayed: your options",
        "what_update": "update",
        "portal_subject": "Your link to see your orders",
        "back_in_stock_subject": "{product} is back in stock",
    }
}


def phrases(language: str) -> dict[str, str]:
    return PHRASES.get(language, PHRASES["en"])


def format_date(value: date | None, language: str) -> str:
    if value is None:
        return ""
    months = MONTHS.get(language, MONTHS["en"])
    return f"{value.day} {months[value.month - 1]} {value.year}"


def format_short_date(value: date | None, language: str) -> str:
    if value is None:
        return ""
    return f"{value.day} {MONTHS.get(language, MONTHS['en'])[value.month - 1][:3]}"


def format_datetime(value: datetime, timezone: str, language: str) -> str:
    local = value.astimezone(ZoneInfo(timezone))
    return f"{format_date(local.date(), language)}, {local:%H:%M} ({timezone})"


@dataclass(frozen=True)
class ItemView:
    """What the templates need about one backorder (current state plus its news)."""

    news: BackorderNews
    product: str
    order_number: str
    quantity: int
    position: int | None
    eta: date | None
    confidence: str | None
    substitutes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    sms: str | None


PRODUCT_IN_SMS = 28  # characters of a product name in a text, before anything needs cutting
SMS_MAX_SEGMENTS = 2


def _short(name: str, limit: int = PRODUCT_IN_SMS) -> str:
    """Cut to `limit` characters with "..." (not "…", which is not GSM-7 and would make a text UCS-2)."""
    if len(name) <= limit:
        return name
    if limit <= 3:
        return name[:limit].rstrip()
    return name[: limit - 3].rstrip(" -,;:") + "..."


def _item(view: ItemView, language: str) -> dict[str, object]:
    p = phrases(language)
    n = view.news
    head = n.headline
    old, new = format_date(n.old_eta, language), format_date(n.new_eta or view.eta, language)
    key = head
    if head == "cancelled":
        key = "cancelled_customer" if (n.cancelled_by or "") == "customer" else "cancelled_shop"
    values = {"quantity": n.cancelled_quantity if head == "partly_cancelled" else view.quantity,
              "units": "item is" if view.quantity == 1 else "items are", "old": old, "new": new,
              "names": ", ".join(view.substitutes)}
    if head == "created":
        values["quantity"] = int((n.created or {}).get("quantity", view.quantity))
        values["units"] = "item is" if values["quantity"] == 1 else "items are"
    sentence = p.get(key, p["update"]).format(**values)
    if n.long_delay and head != "long_delay":
        sentence += " " + p["long_delay"].format(**values)
    sms_values = {**values, "old": format_short_date(n.old_eta, language),
                  "new": format_short_date(n.new_eta or view.eta, language)}
    sms_key = "sms_" + ("cancelled" if head == "cancelled" else head)
    waiting = head in ("created", "eta_later", "eta_earlier", "long_delay", "update", "substitute_offered",
                       "partially_allocated", "partly_cancelled")
    return {
        "product": view.product,
        "product_short": _short(view.product),
        "order_number": view.order_number,
        "quantity": view.quantity,
        "sentence": sentence,
        "sms_sentence": p.get(sms_key, p["sms_update"]).format(**sms_values),
        "position": view.position if waiting else None,
        "eta": format_date(view.eta, language) if waiting and view.eta else None,
        "confidence_words": p.get(f"conf_{view.confidence}", "") if waiting and view.confidence else "",
        "long_delay": n.long_delay,
        "substitutes": list(view.substitutes),
    }


def render_digest(views: list[ItemView], *, name: str, language: str, shop_name: str, portal_url: str,
                  short_url: str, unsubscribe_url: str, goodwill_text: str | None = None,
                  goodwill_code: str | None = None) -> Rendered:
    p = phrases(language)
    items = [_item(v, language) for v in views]
    if len(views) == 1:
        head = views[0].news.headline
        subject = p["subject_one"].format(product=views[0].product, what=p.get(f"what_{head}", p["what_update"]))
    else:
        subject = p["subject_many"].format(count=len(views))
    context = {"items": items, "name": name, "language": language, "shop_name": shop_name, "portal_url": portal_url,
               "short_url": short_url, "unsubscribe_url": unsubscribe_url, "subject": subject,
               "goodwill_text": goodwill_text if any(v.news.long_delay for v in views) else None,
               "goodwill_code": goodwill_code if any(v.news.long_delay for v in views) else None}
    text = _env.get_template(f"{language}/digest.txt.j2").render(context)
    html = _env.get_template(f"{language}/digest.html.j2").render(context)

    def sms_context(product_limit: int, shop_limit: int) -> dict[str, Any]:
        return {**context, "shop_name": _short(gsm_text(shop_name.strip()), shop_limit),
                "items": [{**item, "product_short": _short(gsm_text(str(item["product"])), product_limit)}
                          for item in items]}

    sms = _fit_sms(f"{language}/digest.sms.j2", sms_context, shop_name)
    return Rendered(subject=subject, text=_tidy(text), html=html, sms=sms)


def render_portal_link(*, name: str, link: str, expires_at: datetime, timezone: str, language: str,
                       shop_name: str) -> Rendered:
    p = phrases(language)
    context = {"name": name, "link": link, "expires": format_datetime(expires_at, timezone, language),
               "shop_name": shop_name, "language": language, "subject": p["portal_subject"]}
    return Rendered(subject=p["portal_subject"],
                    text=_tidy(_env.get_template(f"{language}/portal_link.txt.j2").render(context)),
                    html=_env.get_template(f"{language}/portal_link.html.j2").render(context), sms=None)


def render_back_in_stock(*, product: str, language: str, shop_name: str, shop_url: str,
                         unsubscribe_url: str) -> Rendered:
    p = phrases(language)
    subject = p["back_in_stock_subject"].format(product=product)
    context = {"product": product, "product_short": _short(product), "shop_name": shop_name, "shop_url": shop_url,
               "unsubscribe_url": unsubscribe_url, "language": language, "subject": subject}
    return Rendered(subject=subject,
                    text=_tidy(_env.get_template(f"{language}/back_in_stock.txt.j2").render(context)),
                    html=_env.get_template(f"{language}/back_in_stock.html.j2").render(context),
                    sms=_fit_sms(f"{language}/back_in_stock.sms.j2", _named(context, product, shop_name), shop_name,
                                 product))


def render_sms_opt_in(*, product: str, language: str, shop_name: str) -> str:
    context = {"shop_name": shop_name}
    return _fit_sms(f"{language}/sms_opt_in.sms.j2", _named(context, product, shop_name), shop_name, product)


def _named(context: dict[str, Any], product: str, shop_name: str) -> Callable[[int, int], dict[str, Any]]:
    def fill(product_limit: int, shop_limit: int) -> dict[str, Any]:
        return {**context, "product_short": _short(gsm_text(product), product_limit),
                "shop_name": _short(gsm_text(shop_name.strip()), shop_limit)}
    return fill


def _fit_sms(template: str, fill: Callable[[int, int], dict[str, Any]], shop_name: str, product: str = "") -> str:
    """The text from `template` in at most SMS_MAX_SEGMENTS segments, GSM-7 where the words allow.

    Only the variable parts are cut: first the product's name (down to 12 characters), then the shop's,
    then both to nothing; the template's own words, the link and "Reply STOP to opt out" never are."""
    product_len = min(len(product), PRODUCT_IN_SMS) if product else PRODUCT_IN_SMS
    shop_len = len(shop_name)
    budgets = [(n, shop_len) for n in range(product_len, 11, -1)]
    budgets += [(min(product_len, 12), n) for n in range(shop_len, 11, -1)]
    budgets += [(n, n) for n in range(min(product_len, 12), -1, -1)]
    body = ""
    for product_limit, shop_limit in budgets or [(product_len, shop_len)]:
        body = gsm_text(" ".join(_env.get_template(template).render(fill(product_limit, shop_limit)).split()))
        if sms_segments(body) <= SMS_MAX_SEGMENTS:
            return body
    return body  # only a link longer than two segments gets here


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
