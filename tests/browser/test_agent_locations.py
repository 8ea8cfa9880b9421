"""The agent console's work with the shop's locations in a real browser: a purchase order received into another
location than its own; a location retired after a confirmation, and one still holding stock refused, saying why."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.agent_support import confirm, shop, sign_in

STOCK = """{ product(sku: "LAMP") { stock { location onHand } } }"""


async def test_an_agent_receives_a_purchase_order_into_another_location(api, page):
    # given PO-77 (5 lamps, bound for MAIN) and a second store
    await shop(api)
    await api.desk.upsert_location("LEEDS", "Leeds store")
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#queue/LAMP")
    dialog = page.get_by_role("dialog")
    # when 2 of its lamps are received at LEEDS
    await page.get_by_role("button", name="Receive PO-77").click()
    await expect(dialog.get_by_label("Received into")).to_have_value("MAIN")  # the PO's own, unless changed
    await dialog.get_by_label(re.compile("Units of LAMP arrived")).fill("2")
    await dialog.get_by_label("Received into").select_option("LEEDS")
    await confirm(page, "Receive")
    await expect(dialog).to_be_hidden()
    # then LEEDS has them (they went to the queue: Olga's waiting unit, then Ann's first)
    await expect(page.get_by_test_id("po-outstanding")).to_have_text("3")
    await expect(page.locator("[data-testid=stock-row][data-location=LEEDS]")).to_be_visible()
    stock = (await api.gql(STOCK))["data"]["product"]["stock"]
    assert ("LEEDS", 2) in [(row["location"], row["onHand"]) for row in stock]
    assert page.console_errors == []


async def test_an_agent_retires_an_empty_location_and_is_told_why_one_holding_stock_stays(api, page):
    # given an empty pop-up shop and a store holding stock
    await shop(api)
    await api.desk.upsert_location("POPUP", "Pop-up shop")
    await api.desk.upsert_location("STORE", "High Street store")
    await api.desk.receive_stock("LAMP-ALT", 1, "STORE")
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#settings")
    rows, dialog = page.get_by_test_id("location-row"), page.get_by_role("dialog")
    await expect(rows).to_have_count(3)
    await expect(page.get_by_role("button", name="Retire MAIN")).to_have_count(0)  # the default stays
    # when the store is to be retired: refused in the dialog, saying why, and nothing changes
    await page.get_by_role("button", name="Retire STORE").click()
    await confirm(page, "Retire")
    await expect(dialog.locator("#confirm-error")).to_contain_text("still holds 1 units")
    await expect(dialog.locator("#confirm-error")).to_have_attribute("data-code", "LOCATION_IN_USE")
    await dialog.get_by_role("button", name="Go back").click()
    await expect(rows).to_have_count(3)
    # then the empty pop-up shop goes, after the confirmation
    await page.get_by_role("button", name="Retire POPUP").click()
    await expect(dialog).to_contain_text("will no longer be offered")
    await confirm(page, "Retire")
    await expect(dialog).to_be_hidden()
    await expect(rows).to_have_count(2)
    await expect(page.locator("[data-code=POPUP]")).to_have_count(0)
    codes = [location["code"] for location in (await api.gql("{ locations { code } }"))["data"]["locations"]]
    assert codes == ["MAIN", "STORE"]
    assert page.console_errors == []
