"""The customer portal in a real browser, for everyone and in their language: headings taking the focus when
the screen changes, the preferences after a STOP reply, every focus indicator contrasting at least 3:1, form
errors announced and tied to their field, the page in German for a customer who chose German (no English
left), the browser's language before sign-in, and the four languages offered in the preferences."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.portal_support import _english_left, link_for, shop


async def test_headings_take_the_focus_when_the_screen_changes(api, page):
    await shop(api)
    await page.goto(await link_for(api, "ann@example.com"))
    await page.get_by_role("button", name="Notifications").click()
    await expect(page.locator("#preferences-title")).to_be_focused()
    await page.get_by_role("button", name="Orders").click()
    await expect(page.locator("#orders-title")).to_be_focused()


async def test_preferences_say_texts_are_stopped_after_a_stop_reply(api, page):
    from domain.customers import NotificationPreferences
    from domain.store.notify import set_sms_consent
    from domain.store.portal import save_preferences

    await shop(api)
    await save_preferences(NotificationPreferences(email="ann@example.com", by_sms=True, phone="+447700900123"))
    await set_sms_consent("+447700900123", True, api.clock.now(), "inbound STOP")
    await page.goto(await link_for(api, "ann@example.com"))
    await page.get_by_role("button", name="Notifications").click()
    await expect(page.get_by_test_id("sms-stopped")).to_contain_text("replied STOP")
    await expect(page.get_by_role("checkbox", name="Text message (SMS)")).to_be_checked()
    assert page.console_errors == []


def _contrast(a: list[float], b: list[float]) -> float:
    def luminance(rgb: list[float]) -> float:
        c = [x / 255 for x in rgb[:3]]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# the focused element's outline, and the colour around it (the first ancestor with a background)
FOCUS_RING = """() => {
  const node = document.activeElement;
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  let around = [255, 255, 255];
  for (let p = node.parentElement; p; p = p.parentElement) {
    const c = rgb(getComputedStyle(p).backgroundColor);
    if (c.length < 4 || c[3] > 0) { around = c; break; }
  }
  const style = getComputedStyle(node);
  return { what: node.id || node.tagName + ':' + node.textContent.trim().slice(0, 30), style: style.outlineStyle,
           width: parseFloat(style.outlineWidth), ring: rgb(style.outlineColor), around };
}"""


async def _tab_through(page, limit: int = 60) -> list[dict]:
    rings: list[dict] = []
    seen: set[str] = set()
    for _ in range(limit):
        await page.keyboard.press("Tab")
        ring = await page.evaluate(FOCUS_RING)
        if ring["what"] in seen or ring["what"].startswith("BODY:"):  # round once, or out of the page
            break
        seen.add(ring["what"])
        rings.append(ring)
    return rings


async def test_every_focus_indicator_contrasts_at_least_3_to_1_with_its_surroundings(api, page):
    await shop(api)
    await page.goto(api.base + "/")
    await page.get_by_text("Or use your order number").click()
    rings = await _tab_through(page)
    await page.goto(await link_for(api, "ann@example.com"))
    await expect(page.get_by_test_id("order")).to_have_count(1)
    rings += await _tab_through(page)
    await page.get_by_role("button", name="Cancel backordered items…").click()
    rings += await _tab_through(page, 8)
    await page.keyboard.press("Escape")
    await page.get_by_role("button", name="Notifications").click()
    rings += await _tab_through(page)
    assert len(rings) >= 12, [r["what"] for r in rings]
    weak = [(r["what"], round(_contrast(r["ring"], r["around"]), 2)) for r in rings
            if r["style"] == "none" or r["width"] < 2 or _contrast(r["ring"], r["around"]) < 3]
    assert weak == [], [r["what"] for r in rings]


async def test_form_errors_are_announced_and_tied_to_their_field(api, page):
    ids = await shop(api)
    await page.goto(api.base + "/")
    await page.get_by_role("button", name="Email me a sign-in link").click()
    email = page.get_by_label("Email address", exact=True)
    await expect(page.get_by_role("alert").filter(has_text="Please enter your email address.")).to_have_count(1)
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(email).to_have_accessible_description("Please enter your email address.")
    await page.get_by_text("Or use your order number").click()
    await page.get_by_label("Order number").fill(ids["other_number"])
    await page.get_by_label("Email address on the order").fill("ann@example.com")
    await page.get_by_role("button", name="Open this order").click()
    number = page.get_by_label("Order number")
    await expect(number).to_have_attribute("aria-invalid", "true")
    await expect(number).to_have_accessible_description(
        "We could not find an order with that number and email.")
    await expect(page.get_by_role("alert").filter(has_text="We could not find an order")).to_have_count(1)

    await page.goto(await link_for(api, "ann@example.com"))
    await page.get_by_role("button", name="Notifications").click()
    phone = page.get_by_label("Mobile number for text messages")
    await phone.fill("not a number")
    await page.get_by_role("button", name="Save").click()
    await expect(phone).to_have_attribute("aria-invalid", "true")
    await expect(phone).to_be_focused()
    await expect(phone).to_have_accessible_description(
        "Write the mobile number in international form, e.g. +447700900123.")
    await expect(page.locator("#preferences-error")).to_have_attribute("role", "alert")

    await page.get_by_role("button", name="Orders").click()
    await page.get_by_role("button", name="Cancel backordered items…").click()
    dialog = page.get_by_role("dialog")
    quantity = dialog.get_by_label("How many to cancel")
    await quantity.fill("9")
    await dialog.get_by_role("button", name="Cancel these items").click()
    await expect(dialog).to_be_visible()  # nothing cancelled: the field says why
    await expect(quantity).to_have_attribute("aria-invalid", "true")
    await expect(quantity).to_have_accessible_description(re.compile("^Enter a whole number from 1 to 4"))
    await expect(page.get_by_test_id("waiting")).to_have_text(re.compile("^4 items are on backorder"))


async def test_the_page_in_german_for_a_customer_who_chose_german(api, page):
    from domain.customers import NotificationPreferences
    from domain.store.portal import save_preferences

    await shop(api)
    await save_preferences(NotificationPreferences(email="ann@example.com", timezone="Europe/Berlin", language="de"))
    [mine] = (await api.gql("""{ backorders(filter: {customerEmail: "ann@example.com"}) { nodes { id } } }"""
                            ))["data"]["backorders"]["nodes"]
    cancelled = await api.gql("""mutation($id: ID!) { cancelBackorder(input: {id: $id, quantity: 1,
        requestedBy: CUSTOMER}) { userErrors { code } } }""", {"id": mine["id"]})
    assert cancelled["data"]["cancelBackorder"]["userErrors"] == []
    await page.goto(await link_for(api, "ann@example.com"))  # the browser says en-GB: the preference wins
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.get_by_role("heading", name="Ihre Bestellungen", exact=True).first).to_be_visible()
    backorder = page.get_by_test_id("backorder")
    await expect(backorder.get_by_test_id("status")).to_have_text("Wartet auf Ware")
    await expect(backorder.get_by_test_id("waiting")).to_have_text(
        "3 Artikel sind nachbestellt. Sie sind 2. in der Reihe: 1 Bestellung wartet vor Ihrer.")
    await expect(backorder.get_by_test_id("eta")).to_have_text(
        "Erwartet am 10. März 2026, vom Lieferanten bestätigt")
    await expect(page.get_by_test_id("line-price")).to_have_text("29,50 £ pro Stück · 88,50 £")
    await expect(page.get_by_test_id("order-total")).to_have_text("Gesamtsumme: 88,50 £")
    await expect(page.locator(".order .meta")).to_have_text("Bestellt am 2. März 2026, 10:00 MEZ")
    await expect(page.get_by_role("button", name="Abmelden")).to_be_visible()
    await backorder.get_by_text("Verlauf").click()  # the history: the page's frame, the API's German cause
    await expect(backorder.locator(".history")).to_contain_text("4 → 3 Artikel: 1 auf Ihren Wunsch storniert")
    # no English left on the page: no English catalogue entry that German words differently shows
    text = await page.locator("body").inner_text()
    assert not _english_left(text), _english_left(text)
    await page.get_by_role("button", name="Stattdessen 3 davon nehmen").click()
    dialog = page.get_by_role("dialog", name="Die Alternative nehmen?")
    await expect(dialog.get_by_test_id("substitute-price")).to_have_text(
        "Sie kostet 4,50 £ mehr pro Stück: insgesamt 13,50 £ mehr.")
    await dialog.get_by_role("button", name="Weiter warten").click()
    await page.get_by_role("button", name="Benachrichtigungen").click()
    await expect(page.get_by_role("heading", name="Wie wir Sie über Ihre Bestellungen informieren")).to_be_focused()
    text = await page.locator("body").inner_text()
    assert not _english_left(text), _english_left(text)
    assert page.console_errors == []


async def test_before_sign_in_the_browser_language_picks_the_page_language(api, browser):
    await shop(api)
    page = await (await browser.new_context(locale="de-DE")).new_page()
    await page.goto(api.base + "/")
    await expect(page.get_by_role("heading", name="Ihre Bestellungen ansehen")).to_be_visible()
    await page.get_by_label("E-Mail-Adresse", exact=True).fill("ann@example.com")
    await page.get_by_role("button", name="Anmeldelink per E-Mail senden").click()
    await expect(page.locator("#link-result")).to_have_text(
        "Wenn wir diese Adresse kennen, haben wir ihr einen Anmeldelink gesendet. Er funktioniert einmal, "
        "30 Minuten lang.")
    await page.get_by_role("button", name="Anmeldelink per E-Mail senden").click()
    await page.get_by_label("E-Mail-Adresse", exact=True).fill("")
    await page.get_by_role("button", name="Anmeldelink per E-Mail senden").click()
    await expect(page.get_by_label("E-Mail-Adresse", exact=True)).to_have_accessible_description(
        "Bitte geben Sie Ihre E-Mail-Adresse ein.")
    text = await page.locator("body").inner_text()
    assert not _english_left(text), _english_left(text)


async def test_the_preferences_offer_four_languages_and_choosing_one_changes_the_page(api, page):
    await shop(api)
    await page.goto(await link_for(api, "ann@example.com"))
    await page.get_by_role("button", name="Notifications").click()
    language = page.get_by_label("Language")
    # each named in itself, so a customer who cannot read the page still finds their own
    await expect(language.locator("option")).to_have_text(["English", "Deutsch", "Français", "Español"])
    await language.select_option("fr")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#preferences-result")).to_have_text("Enregistré.")
    await expect(page.get_by_role("heading", name="Comment nous vous informons de vos commandes")).to_be_visible()
    await page.get_by_role("button", name="Commandes").click()
    await expect(page.get_by_test_id("status")).to_have_text("En attente de stock")
    await page.reload()  # the choice is the account's, not the tab's
    await expect(page.get_by_test_id("waiting")).to_have_text(
        "4 articles sont en réapprovisionnement. Vous êtes 2e dans la file : 1 commande attend avant la vôtre.")
