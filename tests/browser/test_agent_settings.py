"""The agent console's locations and exchange rates in a real browser, as an agent keeps them: list, add and edit
from the keyboard, every refusal beside the field it is about (and nothing written), a rate that replaces
another only after a confirmation, and the lists read again when the tab comes back into view."""

from __future__ import annotations

from decimal import Decimal

from playwright.async_api import expect

from tests.browser.agent_support import confirm, sign_in
from tests.browser.shop import DOCS, UPDATE_SCREENSHOTS

LISTS = "{ locations { code name } exchangeRates { fromCurrency toCurrency rate date } }"


def locations(page):
    return page.get_by_role("region", name="Locations", exact=True)


async def _lists(api) -> dict:
    return (await api.gql(LISTS))["data"]


async def test_an_agent_adds_and_renames_a_location_from_the_keyboard(api, page):
    await sign_in(api, page)
    await page.keyboard.press("Alt+6")
    await expect(page.get_by_role("heading", name="Locations and exchange rates")).to_be_focused()
    rows = page.get_by_test_id("location-row")
    await expect(rows).to_have_count(1)  # every shop starts with MAIN
    await expect(rows.first).to_contain_text("MAIN")

    # Given a new store, typed and sent with Enter
    await locations(page).get_by_label("Code", exact=True).fill("leeds")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Leeds store")
    await page.keyboard.press("Enter")
    await expect(rows).to_have_count(2)
    await expect(page.locator("[data-code=LEEDS]")).to_contain_text("Leeds store")  # kept in upper case
    await expect(locations(page).get_by_label("Code", exact=True)).to_be_focused()  # ready for the next one
    assert {"code": "LEEDS", "name": "Leeds store"} in (await _lists(api))["locations"]

    # When it is renamed: the code stays, the focus comes back to its row
    await page.get_by_role("button", name="Rename LEEDS").click()
    await expect(page.get_by_test_id("location-form-title")).to_have_text("Rename location LEEDS")
    await expect(locations(page).get_by_label("Name", exact=True)).to_be_focused()
    assert await locations(page).get_by_label("Code", exact=True).get_attribute("readonly") is not None
    await page.keyboard.type("Leeds shop")
    await page.keyboard.press("Enter")
    await expect(page.locator("[data-code=LEEDS]")).to_contain_text("Leeds shop")
    await expect(page.get_by_role("button", name="Rename LEEDS")).to_be_focused()
    await expect(page.get_by_test_id("location-form-title")).to_have_text("Add a location")

    # Escape leaves an edit unsaved
    await page.get_by_role("button", name="Rename MAIN").click()
    await page.keyboard.type("Nowhere")
    await page.keyboard.press("Escape")
    await expect(page.get_by_test_id("location-form-title")).to_have_text("Add a location")
    assert {"code": "MAIN", "name": "Nowhere"} not in (await _lists(api))["locations"]
    assert page.console_errors == []


async def test_refused_locations_say_why_beside_the_field_and_change_nothing(api, page):
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#settings")
    before = await _lists(api)
    code = locations(page).get_by_label("Code", exact=True)
    error = page.locator("#location-code-error")

    await code.fill("../etc")  # the server's rule for location codes
    await page.get_by_role("button", name="Add location").click()
    await expect(error).not_to_be_empty()
    await expect(error).to_have_attribute("data-code", "INVALID_INPUT")
    await expect(code).to_have_attribute("aria-invalid", "true")
    await expect(code).to_be_focused()

    await code.fill("main")  # adding an existing code would rename it: refused, it says how to rename
    await locations(page).get_by_label("Name", exact=True).fill("Somewhere else")
    await page.get_by_role("button", name="Add location").click()
    await expect(error).to_contain_text("There is already a location MAIN")

    await code.fill("BRISTOL")
    # a control character: no text may hold one
    await locations(page).get_by_label("Name", exact=True).fill("Bristol\u0007 store")
    await page.get_by_role("button", name="Add location").click()
    await expect(page.locator("#location-name-error")).not_to_be_empty()
    await expect(locations(page).get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    await expect(error).to_be_empty()  # the earlier error is gone
    assert await _lists(api) == before
    assert page.console_errors == []


async def test_an_agent_adds_a_rate_sees_what_it_means_and_replaces_it_after_confirming(api, page):
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#settings")
    await expect(page.get_by_test_id("rate-row")).to_have_count(0)
    await expect(page.get_by_text("No exchange rates yet")).to_be_visible()

    await page.get_by_label("From currency").fill("gbp")
    await page.get_by_label("To currency").fill("EUR")
    await page.get_by_label("Rate", exact=True).fill("1,25")  # a decimal comma is read as a point
    await expect(page.get_by_test_id("rate-hint")).to_have_text("1 GBP = 1.25 EUR (1 EUR = 0.8 GBP)")
    await page.get_by_role("button", name="Add rate").click()
    row = page.locator("[data-pair=GBP-EUR]")
    await expect(row.get_by_test_id("rate")).to_have_text("1 GBP = 1.25 EUR")
    await expect(row).to_contain_text("2 Mar 2026")  # today, by the desk's clock
    [saved] = (await _lists(api))["exchangeRates"]
    assert (saved["fromCurrency"], saved["toCurrency"], Decimal(saved["rate"]), saved["date"]) == (
        "GBP", "EUR", Decimal("1.25"), "2026-03-02")

    # Given it, an agent changes it: the confirmation says what it replaces; going back changes nothing
    await page.get_by_role("button", name="Change GBP to EUR").click()
    await expect(page.get_by_label("Rate", exact=True)).to_be_focused()
    await page.keyboard.type("1.1650")
    await page.get_by_label("Holds from").fill("2026-03-01")
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text(
        "1 GBP = 1.25 EUR (from 2 Mar 2026) becomes 1 GBP = 1.1650 EUR (from 1 Mar 2026)")
    await dialog.get_by_role("button", name="Go back").click()
    assert Decimal((await _lists(api))["exchangeRates"][0]["rate"]) == Decimal("1.25")
    await page.get_by_role("button", name="Save rate").click()
    await confirm(page, "Replace rate")
    await expect(row.get_by_test_id("rate")).to_have_text("1 GBP = 1.165 EUR")
    await expect(page.get_by_role("button", name="Change GBP to EUR")).to_be_focused()
    assert (await _lists(api))["exchangeRates"][0]["date"] == "2026-03-01"
    assert page.console_errors == []


async def test_refused_rates_say_why_beside_the_field_and_change_nothing(api, page):
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#settings")
    add = page.get_by_role("button", name="Add rate")

    await add.click()  # nothing typed: each missing field says so
    await expect(page.locator("#rate-from-error")).to_contain_text("this is needed")
    await expect(page.locator("#rate-to-error")).to_contain_text("this is needed")
    await expect(page.locator("#rate-rate-error")).to_contain_text("this is needed")

    cases = [  # (from, to, rate, date, the field whose error shows)
        ("GBP", "GBP", "1.1", "", "to"),          # the server: two different currencies
        ("GBP", "EURO", "1.1", "", "to"),         # not an ISO 4217 code
        ("GBP", "EUR", "0", "", "rate"),          # more than zero
        ("GBP", "EUR", "1.123456789", "", "rate"),  # at most 8 places
        ("GBP", "EUR", "abc", "", "rate"),        # not a number: said here, before any request
        ("GBP", "EUR", "1.1", "2099-01-01", "date"),  # not later than today
    ]
    for source, target, rate, day, field in cases:
        await page.get_by_label("From currency").fill(source)
        await page.get_by_label("To currency").fill(target)
        await page.get_by_label("Rate", exact=True).fill(rate)
        await page.get_by_label("Holds from").fill(day)
        await add.click()
        await expect(page.locator(f"#rate-{field}-error")).not_to_be_empty()
        await expect(page.locator(f"#rate-{field}-error")).to_have_attribute("data-code", "INVALID_INPUT")
        await expect(page.locator(f"#rate-{field}")).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#rate-error")).to_be_empty()
    assert (await _lists(api))["exchangeRates"] == []
    assert page.console_errors == []


async def test_the_lists_are_read_again_when_the_tab_comes_back_into_view(api, page, tmp_path):
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#settings")
    await expect(page.get_by_test_id("location-row")).to_have_count(1)
    # another agent adds a location and a rate meanwhile
    await api.gql("""mutation {
        upsertLocation(input: {code: "YORK", name: "York store"}) { userErrors { message } }
        upsertExchangeRate(input: {fromCurrency: "EUR", toCurrency: "GBP", rate: "0.86"}) { userErrors { message } }
    }""")
    await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    await expect(page.locator("[data-code=YORK]")).to_contain_text("York store")
    await expect(page.locator("[data-pair=EUR-GBP]")).to_contain_text("1 EUR = 0.86 GBP")
    await page.get_by_role("button", name="Rename YORK").click()  # docs/agent-settings.png shows an edit
    await page.screenshot(path=str((DOCS if UPDATE_SCREENSHOTS else tmp_path) / "agent-settings.png"), full_page=True)
    assert page.console_errors == []


async def test_alt_7_opens_the_tokens_for_admins_only(api, page, browser):
    await sign_in(api, page, "admin")
    await page.keyboard.press("Alt+7")
    await expect(page.get_by_role("heading", name="API tokens")).to_be_focused()
    await page.keyboard.press("Alt+6")
    await expect(page.get_by_role("heading", name="Locations and exchange rates")).to_be_focused()
    agent = await (await browser.new_context(locale="en-GB")).new_page()
    await sign_in(api, agent)
    await agent.keyboard.press("Alt+7")  # not an admin's: nothing happens
    await expect(agent.get_by_role("heading", name="Find an order or backorder")).to_be_visible()
    await expect(agent.get_by_role("heading", name="API tokens")).to_be_hidden()
    await agent.context.close()
    assert page.console_errors == []
