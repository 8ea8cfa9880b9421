"""The agent console in a real browser, finding and working the queue: find by order number, email, phone,
SKU, channel and overdue; the SKU queue updating live while every purchase-order and backorder action works
with its confirmation (and userErrors beside their field); an agent setting a customer's limits and declining
a substitute for them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import expect

from api.ids import encode_id
from domain.model import Channel
from domain.services import CustomerDetails, LineRequest
from tests.browser.agent_support import confirm, shop, sign_in
from tests.browser.shop import DOCS, UPDATE_SCREENSHOTS


@pytest.mark.api_settings(session_hours=24 * 30)  # the clock moves 10 days on below; the session must outlast it
async def test_find_by_number_email_phone_sku_channel_and_overdue(api, page):
    ids = await shop(api)
    await sign_in(api, page)
    form = page.locator("#find-form")
    rows = page.get_by_test_id("find-row")
    # by order number: the order, and its backorder
    await form.get_by_label("Order number, email, phone or name").fill(ids["ann"])
    await form.get_by_role("button", name="Search").click()
    await expect(page.get_by_test_id("found-order")).to_contain_text(ids["ann"])
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("ann@example.com")
    # by email, and by phone written the way a caller says it
    await form.get_by_label("Order number, email, phone or name").fill("olga@example.com")
    await form.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("olga@example.com")
    await form.get_by_label("Order number, email, phone or name").fill("07700 900123")
    await form.get_by_role("button", name="Search").click()
    await expect(page.get_by_test_id("found-customer")).to_contain_text("ann@example.com")
    await expect(rows).to_have_count(1)
    # by SKU and channel
    await form.get_by_label("Order number, email, phone or name").fill("")
    await form.get_by_label("SKU").fill("LAMP")
    await form.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(2)
    await expect(page.locator("#find-summary")).to_have_text("2 backorders found, 2 shown.")
    await form.get_by_label("Channel").select_option("STORE")
    await form.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("olga@example.com")
    # overdue: past the date first promised (10 March) and still waiting
    await form.get_by_label("Channel").select_option("")
    await form.get_by_label("Overdue only").check()
    await form.get_by_role("button", name="Search").click()
    await expect(page.locator("#find-summary")).to_have_text("0 backorders found.")
    api.clock.advance(timedelta(days=10))
    await form.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(2)
    # an unknown number is said beside the search box
    await form.get_by_label("Order number, email, phone or name").fill("BD-NOPE")
    await form.get_by_role("button", name="Search").click()
    await expect(page.locator("#find-error")).to_have_text("No order number or customer matches BD-NOPE.")
    # and a name: not an order number, so the customers it matches
    await form.get_by_label("Overdue only").uncheck()
    await form.get_by_label("Order number, email, phone or name").fill("baker")
    await form.get_by_role("button", name="Search").click()
    await expect(page.get_by_test_id("found-customer")).to_have_text(re.compile("Ann Baker · ann@example.com"))
    await expect(rows).to_have_count(1)


async def test_the_queue_updates_live_and_every_po_and_backorder_action_works(api, page, tmp_path):
    ids = await shop(api)
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#queue/LAMP")
    queue = page.get_by_test_id("queue-row")
    await expect(queue).to_have_count(2)
    await expect(queue.nth(0)).to_contain_text("olga@example.com")
    await expect(queue.nth(1).get_by_test_id("position")).to_have_text("2")
    await expect(page.get_by_test_id("queue-live")).to_be_visible()
    # live: someone else moves the PO while the page is open; the queue changes without a reload
    moved = await api.gql("""mutation($id: ID!) { updatePurchaseOrder(input: {id: $id, expectedDate: "2026-03-20"}) {
        userErrors { message } } }""", {"id": encode_id("PurchaseOrder", ids["po"])})
    assert moved["data"]["updatePurchaseOrder"]["userErrors"] == []
    await expect(page.get_by_test_id("queue-note")).to_contain_text("20")
    await expect(queue.nth(0).get_by_test_id("eta")).to_contain_text("20 Mar 2026")
    # a new order from another channel joins the queue while it is open
    await api.desk.place_order(CustomerDetails("li@example.com", "Li"), Channel.PHONE, [LineRequest("LAMP", 1)])
    await expect(queue).to_have_count(3)

    # change the PO's date from the console (a date in the past is refused beside the field)
    await page.get_by_role("button", name="Change PO-77").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Expected date").fill("2026-02-01")
    await confirm(page, "Save changes")
    await expect(dialog.get_by_text("the expected date is in the past")).to_be_visible()
    await dialog.get_by_label("Expected date").fill("2026-03-12")
    await dialog.get_by_label("Units of LAMP ordered").fill("8")
    await confirm(page, "Save changes")
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("po-date")).to_have_text("12 Mar 2026")
    await expect(page.get_by_test_id("po-outstanding")).to_have_text("8")

    # reprioritise Ann (a reason is needed) ahead of Olga
    await queue.filter(has_text="ann@example.com").get_by_role("button", name="Reprioritise").click()
    await dialog.get_by_label("Priority (-1000 to 1000)").fill("10")
    await confirm(page, "Set priority")
    await expect(dialog.get_by_text("Reason: this is needed.")).to_be_visible()
    await dialog.get_by_label("Reason").fill("VIP complaint")
    await confirm(page, "Set priority")
    await expect(queue.nth(0)).to_contain_text("ann@example.com")
    await expect(queue.nth(0)).to_contain_text("priority 10: VIP complaint")

    # receive part of the PO: 4 of 8 arrive and go to the queue in order (Ann first now)
    await page.get_by_role("button", name="Receive PO-77").click()
    await dialog.get_by_label(re.compile("Units of LAMP arrived")).fill("4")
    await confirm(page, "Receive")
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("po-outstanding")).to_have_text("4")
    await expect(queue.filter(has_text="ann@example.com")).to_have_count(0)  # fully allocated: out of the queue

    # offer Olga the substitute, then cancel her waiting unit with a reason
    await queue.filter(has_text="olga@example.com").get_by_role("button", name="Offer substitute").click()
    await expect(dialog.get_by_label("Substitute")).to_contain_text("LAMP-ALT")
    await confirm(page, "Offer it")
    await expect(dialog).to_be_hidden()
    await queue.filter(has_text="olga@example.com").get_by_role("button", name="Cancel").click()
    await dialog.get_by_label(re.compile("Units to cancel")).fill("1")
    await dialog.get_by_label("Reason").fill("customer bought one in store")
    await confirm(page, "Cancel units")
    await expect(dialog).to_be_hidden()
    await expect(queue.filter(has_text="olga@example.com")).to_have_count(0)
    shots = DOCS if UPDATE_SCREENSHOTS else tmp_path
    await page.screenshot(path=str(shots / "agent-queue.png"), full_page=True)
    history = await api.gql("""query { backorders(filter: {customerEmail: "olga@example.com"}) { nodes {
        status cancelledQuantity } } }""")
    [olga] = history["data"]["backorders"]["nodes"]
    assert olga["status"] == "CANCELLED" and olga["cancelledQuantity"] == 1  # her 1 waiting unit (2 came from stock)
    assert page.console_errors == []


async def test_an_agent_sets_a_customers_limits_and_declines_a_substitute_for_them(api, page):
    # given Olga waits for a lamp that has a substitute (the shop of the tour above)
    await shop(api)
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#queue/LAMP")
    queue = page.get_by_test_id("queue-row")
    await expect(queue).to_have_count(2)
    olga = queue.filter(has_text="olga@example.com")
    dialog = page.get_by_role("dialog")
    # when the agent declines the brass lamp for her, on the phone
    await olga.get_by_role("button", name="Decline substitute").click()
    await confirm(page, "Decline it")
    await expect(dialog).to_be_hidden()
    # and sets her latest date: a date before the one it is expected on is refused beside its field
    await olga.get_by_role("button", name="Customer's limits").click()
    await dialog.get_by_label(re.compile("Cancel if not here by")).fill("2026-03-03")
    await confirm(page, "Save limits")
    await expect(dialog.get_by_text(re.compile("would cancel it now"))).to_be_visible()
    await dialog.get_by_label(re.compile("Cancel if not here by")).fill("2026-12-31")
    await dialog.get_by_label("Substitutes").select_option("NEVER")
    await confirm(page, "Save limits")
    await expect(dialog).to_be_hidden()
    seen = await api.gql("""{ backorders(filter: {customerEmail: "olga@example.com"}) { nodes {
        preferences { cancelIfNotBy substitutes } declinedSubstitutes history { kind cause } } } }""")
    [backorder] = seen["data"]["backorders"]["nodes"]
    assert backorder["preferences"] == {"cancelIfNotBy": "2026-12-31", "substitutes": "NEVER"}
    assert backorder["declinedSubstitutes"] == ["LAMP-ALT"]
    assert "substitute LAMP-ALT declined by test agent" in [h["cause"] for h in backorder["history"]]
    assert page.console_errors == []
