"""frontend/format.js, the dates and money both pages show, run in a real browser: a calendar date is the same day
in every time zone the reader may be in, each page keeps its own conventions (the portal in full and in the
customer's language, the console short), and an amount times a count is exact to the cent."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from decimal import Decimal

# the zones furthest apart: a date shifted by the reader's zone would show the day before or after
ZONES = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/London", "America/St_Johns"]

FORMAT = """async ([calls]) => {
  const { formatters, times } = await import("/format.js");
  const out = [];
  for (const [what, options, arg, count] of calls) {
    const f = formatters({ locale: () => options.locale, timeZone: () => options.timeZone,
                           month: options.month, zoneName: options.zoneName });
    out.push(what === "times" ? times(arg, count) : f[what](arg));
  }
  return out;
}"""


async def _run(api, browser, calls: list, timezone_id: str) -> list:
    context = await browser.new_context(timezone_id=timezone_id, locale="en-GB")
    try:
        page = await context.new_page()
        await page.goto(f"{api.base}/agent")
        return await page.evaluate(FORMAT, [calls])
    finally:
        await context.close()


async def test_a_calendar_date_is_the_same_day_in_every_readers_time_zone(api, browser):
    rng = random.Random(20260302)
    days = [date(1999, 12, 31), date(2026, 3, 1), date(2028, 2, 29), date(2026, 12, 31)]
    days += [date(2000, 1, 1) + timedelta(days=rng.randrange(0, 365 * 60)) for _ in range(60)]
    calls = [["formatDate", {"locale": "en-GB", "month": "long"}, d.isoformat(), None] for d in days]
    expected = [f"{d.day} {d.strftime('%B')} {d.year}" for d in days]  # strftime: the C locale's English months
    for zone in ZONES:
        assert await _run(api, browser, calls, zone) == expected, zone


async def test_each_page_keeps_its_own_conventions(api, browser):
    portal = {"locale": "de-DE", "month": "long", "zoneName": True, "timeZone": "Asia/Singapore"}
    console = {"locale": "en-GB"}
    calls = [
        ["formatDate", portal, "2026-03-04", None],
        ["formatDate", console, "2026-03-04", None],
        ["formatDate", console, None, None],  # a date not known yet
        ["formatDateTime", portal, "2026-03-02T09:00:00Z", None],  # in the customer's zone, named
        ["formatDateTime", {**portal, "timeZone": "Not/AZone"}, "2026-03-02T09:00:00Z", None],  # unknown zone
        ["money", {"locale": "de-DE"}, {"amount": "21.95", "currency": "GBP"}, None],
        ["money", console, {"amount": "21.95", "currency": "GBP"}, None],
        ["money", console, {"amount": "5", "currency": "X1"}, None],  # not a currency Intl knows: shown as it came
    ]
    got = await _run(api, browser, calls, "Europe/London")
    assert got[0] == "4. März 2026"
    assert got[1] == "4 Mar 2026"
    assert got[2] == "—"
    assert got[3] == "2. März 2026, 17:00 Singapurische Normalzeit"  # the zone named in German, not "GMT+8"
    assert "10:00" in got[4] or "09:00" in got[4]  # the browser's own zone (London: GMT, 09:00)
    assert got[5] == "21,95\xa0£"
    assert got[6] == "£21.95"
    assert got[7] == "5 X1"


async def test_a_time_names_its_zone_in_words_in_every_language_never_as_an_offset(api, browser):
    # the German phone showed "GMT+0": Intl's short name where German has none for London; the portal's
    # languages (domain.customers.SUPPORTED_LANGUAGES) in the zones customers keep, winter and summer
    zones = ["Europe/London", "UTC", "Europe/Berlin", "Europe/Madrid", "Europe/Paris", "America/New_York",
             "Asia/Singapore", "Australia/Sydney", "Asia/Kolkata"]
    calls = [["formatDateTime", {"locale": locale, "month": "long", "zoneName": True, "timeZone": zone}, at, None]
             for locale in ("en-GB", "de-DE", "fr-FR", "es-ES") for zone in zones
             for at in ("2026-01-15T09:00:00Z", "2026-07-15T09:00:00Z")]
    got = await _run(api, browser, calls, "Europe/London")
    offsets = [(call[1]["locale"], call[1]["timeZone"], text) for call, text in zip(calls, got, strict=True)
               if re.search(r"(GMT|UTC)\s*[+\-\u2212]\d", text)]
    assert offsets == []
    said = dict(zip([(c[1]["locale"], c[1]["timeZone"], c[2]) for c in calls], got, strict=True))
    assert said[("de-DE", "Europe/London", "2026-01-15T09:00:00Z")] == (
        "15. Jan. 2026, 09:00 Vereinigtes Königreich (Ortszeit)")
    assert said[("de-DE", "UTC", "2026-01-15T09:00:00Z")] == "15. Jan. 2026, 09:00 UTC"
    assert said[("en-GB", "Europe/London", "2026-07-15T09:00:00Z")] == "15 Jul 2026, 10:00 BST"


async def test_an_amount_times_a_count_is_exact_to_the_cent(api, browser):
    rng = random.Random(7)
    cases = [(Decimal("0.10"), 3), (Decimal("0.07"), 100), (Decimal("1.15"), 7), (Decimal("9999999.99"), 1)]
    cases += [(Decimal(rng.randrange(0, 10_000_000)) / 100, rng.randrange(1, 1000)) for _ in range(200)]
    calls = [["times", {}, {"amount": str(amount), "currency": "EUR"}, count] for amount, count in cases]
    got = await _run(api, browser, calls, "Europe/London")
    for (amount, count), result in zip(cases, got, strict=True):
        assert Decimal(result["amount"]) == amount * count, (amount, count, result)
        assert result["currency"] == "EUR"
