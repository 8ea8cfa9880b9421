"""Languages: gettext catalogues and the locale's formats for dates, times, numbers and money (Babel).

The catalogues are the `.po` files in `notifications/locale/<lang>/LC_MESSAGES/messages.po`, read by
Babel when first needed: there is no compile step to forget, and a `.po` edited is what customers read at
the next start. English is the source language (the msgids), so it needs no catalogue.
To add a phrase: wrap it in `_()` (Python) or `{% trans %}` / `_()` (templates), then
`scripts/i18n.sh` extracts it into `messages.pot` and merges it into every `.po` for translating.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_date
from babel.dates import format_time as _babel_time
from babel.dates import get_timezone_name
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

from domain.customers import SUPPORTED_LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locale"
SOURCE_LANGUAGE = "en"
DEFAULT_LANGUAGE = SOURCE_LANGUAGE


def language_of(language: str | None) -> str:
    """A supported language, English for anything else (an old preference, a typo)."""
    return language if language in SUPPORTED_LANGUAGES else SOURCE_LANGUAGE


def negotiated_language(accept_language: str | None) -> str:
    """The language a request's page speaks when nothing stored says: its Accept-Language negotiated against the
    languages messages are worded in (the first of the browser's languages, by its base, that the shop speaks).

    "de-CH, fr;q=0.8, en;q=0.5" -> "de"; "pt-BR, es;q=0.3" -> "es"; "*", "" or nonsense -> "en".
    Ranked by q (a missing q is 1, q=0 means "not this one"), equal q in the order given."""
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        base = tag.strip().split("-")[0].lower()
        if quality > 0 and base in SUPPORTED_LANGUAGES:
            ranked.append((-quality, order, base))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


@functools.cache
def translations(language: str) -> NullTranslations:
    """The language's catalogue, read from its .po (fuzzy entries are not used: they are not yet checked)."""
    language = language_of(language)
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == SOURCE_LANGUAGE or not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain="messages")


# English is written as in the shop's home, the UK: "2 December 2026", 14:30 (Babel's "en" is American)
_FORMAT_LOCALE = {"en": "en_GB"}
_SHORT_DAY = {"de": "d. MMM"}  # a day in few characters, for texts; "d MMM" elsewhere


def format_locale(language: str) -> str:
    language = language_of(language)
    return _FORMAT_LOCALE.get(language, language)


def format_day(value: date, language: str) -> str:
    """A day as the locale writes it in a sentence: 2 December 2026, 2. Dezember 2026, 2 de diciembre de 2026."""
    return _babel_date(value, format="long", locale=format_locale(language))


def format_short_day(value: date, language: str) -> str:
    """A day in few characters, for texts: 2 Dec, 2. Dez., 2 déc., 2 dic."""
    return _babel_date(value, format=_SHORT_DAY.get(language_of(language), "d MMM"), locale=format_locale(language))


def format_moment(value: datetime, timezone: str, language: str) -> str:
    """A moment in the customer's zone, the zone named as the locale names it, on the locale's clock
    (24-hour where it is used): "2 December 2026, 14:30 (Greenwich Mean Time)"."""
    local = value.astimezone(ZoneInfo(timezone))
    locale = format_locale(language)
    clock = _babel_time(local, format="short", locale=locale)
    return f"{format_day(local.date(), language)}, {clock} ({get_timezone_name(local, width='long', locale=locale)})"


def format_number(value: int | Decimal, language: str) -> str:
    return format_decimal(value, locale=format_locale(language))


def format_money(amount: Decimal, currency: str, language: str) -> str:
    """An amount with its currency as the locale writes it: £16.00, 16,00 €, 16,00 €, 16,00 US$."""
    return format_currency(amount, currency, locale=format_locale(language))


def format_rate(rate: Decimal, language: str) -> str:
    """An exchange rate with every digit it was set with (0.925, 0,925), none added or rounded away."""
    return format_decimal(rate.normalize(), locale=format_locale(language), decimal_quantization=False)
