"""The customer portal in a real browser, what a customer does with an order: the ETA changing live when the
shop moves the purchase order, cancelling part of a backorder, taking a substitute (dearer, the same price,
cheaper, in another currency through the shop's rate) or declining it, the history in plain words, every
line's status, price and total, and the customer's limits (cancel if not here by a date, alternatives)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from playwright.async_api import expect

from domain.model import Channel
from domain.services import CustomerDetails, LineRequest, ProductInput
from tests.browser.portal_support import _gid, link_for, shop


async def test_eta_changes_live_after_an_agent_moves_the_po(api, page):
    ids = await shop(api)
    await page.goto(await link_for(api, "ann@example.com"))
    eta = page.get_by_test_id("eta")
    await expect(eta).to_have_text(re.compile("10 March 2026"))
    await expect(page.locator("body")).to_have_attribute("data-live", "on")
    moved = await api.gql("""mutation($id: ID!) { updatePurchaseOrder(input: {id: $id, expectedDate: "2026-03-20"}) {
        userErrors { message } } }""", {"id": _gid("PurchaseOrder", ids["po"])})
    assert moved["data"]["updatePurchaseOrder"]["userErrors"] == []
    await expect(eta).to_have_text(re.compile("20 March 2026"))  # no reload
    await expect(page.get_by_test_id("change-note")).to_have_text(
        "Expected date changed from 10 March 2026 to 20 March 2026.")
    await expect(page.locator("#live")).to_contain_text("20 March 2026")


async def test_cancel_part_of_a_backorder(api, page):
    await shop(api)
    await page.goto(await link_for(api, "ann@example.com"))
    await page.get_by_role("button", name="Cancel backordered items…").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("How many to cancel").fill("1")
    await dialog.get_by_role("button", name="Cancel these items").click()
    await expect(page.get_by_test_id("waiting")).to_have_text(re.compile("^3 items are on backorder"))
    await expect(page.locator("#live")).to_contain_text("1 cancelled.")
    await expect(page.locator("#live")).to_contain_text("£29.50 will be refunded or not charged")
    # the cancelled unit leaves the line's and the order's totals
    await expect(page.get_by_test_id("line-price")).to_have_text("£29.50 each · £88.50")
    await expect(page.get_by_test_id("order-total")).to_have_text("Order total: £88.50")


async def test_accept_a_substitute(api, page):
    await shop(api)
    await page.goto(await link_for(api, "ann@example.com"))
    # it costs more (£34.00 against £29.50): the portal says how much and waits for a yes
    await page.get_by_role("button", name="Take 4 of these instead").click()
    dialog = page.get_by_role("dialog", name="Take the alternative?")
    await expect(dialog).to_contain_text("4 × Brass desk lamp instead of 4 × Anglepoise lamp.")
    await expect(dialog).to_contain_text("It costs £4.50 more each: £18.00 more in total.")
    await dialog.get_by_role("button", name="Keep waiting").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("status").first).to_have_text("Waiting for stock")
    await page.get_by_role("button", name="Take 4 of these instead").click()
    await dialog.get_by_role("button", name="Yes, take the alternative").click()
    await expect(page.get_by_test_id("status").first).to_have_text("Replaced by an alternative")
    await expect(page.get_by_test_id("order").get_by_text("4 × Brass desk lamp")).to_be_visible()
    await expect(page.get_by_text("Alternative you chose for a backordered item.")).to_be_visible()


async def test_history_is_in_plain_words_without_agents_or_priorities(api, page):
    await shop(api)
    [mine] = [b for b in (await api.gql("""{ backorders(filter: {customerEmail: "ann@example.com"}) {
        nodes { id } } }"""))["data"]["backorders"]["nodes"]]
    for change in ["""mutation($id: ID!) { reprioritizeBackorder(input: {id: $id, priority: 9,
                        reason: "angry phone call"}) { userErrors { code } } }""",
                   """mutation($id: ID!) { cancelBackorder(input: {id: $id, quantity: 1, reason: "duplicate"}) {
                        userErrors { code } } }"""]:
        assert (await api.gql(change, {"id": mine["id"]}))["data"]
    await page.goto(await link_for(api, "ann@example.com"))
    backorder = page.get_by_test_id("backorder")
    await backorder.get_by_text("History").click()
    history = backorder.locator(".history")
    # the agent did not say who asked for the cancel: the customer is told no more than that
    await expect(history).to_contain_text("4 → 3 items: 1 cancelled")
    text = await history.inner_text()
    assert not [word for word in ["test agent", "angry", "duplicate", "priority", "PO-77"] if word in text], text


async def test_every_line_shows_its_status_price_and_total_and_times_name_their_zone(api, page):
    await shop(api)
    desk = api.desk
    await desk.place_order(CustomerDetails("ann@example.com", "Ann"), Channel.ONLINE,
                           [LineRequest("LAMP-ALT", 2), LineRequest("LAMP", 1)])
    await page.goto(await link_for(api, "ann@example.com"))
    order = page.get_by_test_id("order").filter(has=page.locator("[data-sku=LAMP-ALT]"))
    in_stock = order.locator("[data-sku=LAMP-ALT]")
    await expect(in_stock.get_by_test_id("status")).to_have_text("In stock, set aside for you")
    await expect(in_stock.get_by_test_id("line-price")).to_have_text("£34.00 each · £68.00")
    waiting = order.locator("[data-sku=LAMP]")
    await expect(waiting.get_by_test_id("status")).to_have_text("Waiting for stock")
    await expect(waiting.get_by_test_id("line-price")).to_have_text("£29.50 each · £29.50")
    await expect(order.get_by_test_id("order-total")).to_have_text("Order total: £97.50")
    # the customer's zone is UTC (no preference yet): the time says so
    await expect(order.locator(".meta")).to_have_text(re.compile(r"^Placed 2 Mar 2026, 09:00 UTC$"))


async def _offered_a_blue_mug(api, page, price: str, quantity: int):
    """Ann waits for `quantity` green mugs (8.00) with blue ones at `price` in stock as their alternative; she
    opens the portal from a link and asks to take the blue ones. Returns the dialog that asks her to confirm."""
    desk = api.desk
    await desk.upsert_product(ProductInput(sku="MUG-B", name="Blue mug", price=Decimal(price), currency="GBP"))
    await desk.upsert_product(ProductInput(sku="MUG-G", name="Green mug", price=Decimal("8.00"), currency="GBP",
                                           substitutes=("MUG-B",)))
    await desk.receive_stock("MUG-B", 5)
    await desk.place_order(CustomerDetails("ann@example.com", "Ann"), Channel.ONLINE,
                           [LineRequest("MUG-G", quantity)])
    await page.goto(await link_for(api, "ann@example.com"))
    await page.get_by_role("button", name=f"Take {quantity} of these instead").click()
    return page.get_by_role("dialog", name="Take the alternative?")


async def test_a_substitute_at_the_same_price_is_confirmed_too_and_the_line_reads_as_replaced(api, page):
    dialog = await _offered_a_blue_mug(api, page, "8.00", 2)
    await expect(dialog.get_by_test_id("substitute-what")).to_have_text("2 × Blue mug instead of 2 × Green mug.")
    await expect(dialog.get_by_test_id("substitute-price")).to_have_text("It costs the same: £8.00 each.")
    await expect(dialog).to_contain_text("Green mug is then marked as replaced")
    await expect(dialog.get_by_role("button", name="Keep waiting")).to_be_focused()  # the safe choice
    await dialog.get_by_role("button", name="Yes, take the alternative").click()
    line = page.locator("[data-sku=MUG-G]")
    await expect(line.get_by_test_id("status")).to_have_text("Replaced by an alternative")
    await expect(line.get_by_test_id("replaced")).to_have_text("2 replaced by Blue mug.")
    await expect(line.locator(".what")).to_have_class(re.compile("replaced"))
    await expect(page.locator("[data-sku=MUG-B]").get_by_test_id("status")).to_have_text(
        "In stock, set aside for you")


async def test_a_cheaper_substitute_says_how_much_less(api, page):
    dialog = await _offered_a_blue_mug(api, page, "6.50", 3)
    await expect(dialog.get_by_test_id("substitute-price")).to_have_text(
        "It costs £1.50 less each: £4.50 less in total.")
    await dialog.get_by_role("button", name="Keep waiting").click()
    await expect(page.locator("[data-sku=MUG-G]").get_by_test_id("status")).to_have_text("Waiting for stock")


async def test_a_substitute_in_another_currency_is_offered_only_through_the_shops_rate_and_says_it(api, page):
    desk = api.desk
    await desk.upsert_product(ProductInput(sku="MUG-E", name="Euro mug", price=Decimal("9.00"), currency="EUR"))
    await desk.upsert_product(ProductInput(sku="MUG-G", name="Green mug", price=Decimal("8.00"), currency="GBP",
                                           substitutes=("MUG-E",)))
    await desk.receive_stock("MUG-E", 5)
    await desk.place_order(CustomerDetails("ann@example.com", "Ann"), Channel.ONLINE, [LineRequest("MUG-G", 3)])
    await page.goto(await link_for(api, "ann@example.com"))
    # no EUR->GBP rate: a euro price cannot be compared with a pound one, so it is not offered
    await expect(page.locator("[data-sku=MUG-G]").get_by_test_id("status")).to_have_text("Waiting for stock")
    await expect(page.get_by_role("button", name="Take 3 of these instead")).to_have_count(0)

    await desk.upsert_exchange_rate("EUR", "GBP", Decimal("0.85"), date(2026, 3, 1))
    await page.reload()
    await page.get_by_role("button", name="Take 3 of these instead").click()
    dialog = page.get_by_role("dialog", name="Take the alternative?")
    # 9.00 EUR x 0.85 = 7.65 GBP: 0.35 less than 8.00, said with the rate and its date
    await expect(dialog.get_by_test_id("substitute-price")).to_have_text(
        "It costs £0.35 less each: £1.05 less in total. Priced €9.00, converted at 1 EUR = 0.85 GBP (rate of "
        "1 March 2026).")
    await dialog.get_by_role("button", name="Yes, take the alternative").click()
    await expect(page.locator("[data-sku=MUG-E]").get_by_test_id("line-price")).to_have_text("£7.65 each · £22.95")


async def test_cancel_if_not_by_set_in_the_portal_cancels_when_the_po_moves_past_it(api, page):
    ids = await shop(api)
    await page.goto(await link_for(api, "ann@example.com"))
    backorder = page.get_by_test_id("backorder")
    await expect(backorder.get_by_test_id("eta")).to_have_text(re.compile("10 March 2026"))
    # Ann will wait until 15 March at the latest
    await backorder.get_by_text("Your limits for this item").click()
    await backorder.get_by_label("Cancel it if it cannot be here by").fill("2026-03-15")
    await backorder.get_by_role("button", name="Save my limits").click()
    await expect(page.locator("#live")).to_contain_text("Your limits are saved.")
    await expect(backorder.get_by_test_id("choices-box")).to_contain_text(
        "Cancelled automatically if it cannot be here by 15 March 2026.")
    # a date before the one it is expected on is refused beside its field, and nothing changes
    await backorder.get_by_test_id("choices-box").locator("summary").click()
    field = backorder.get_by_label("Cancel it if it cannot be here by")
    await field.fill("2026-03-05")
    await backorder.get_by_role("button", name="Save my limits").click()
    await expect(backorder.get_by_role("alert")).to_have_text(
        "Choose a date from today on, and not before the date it is expected.")
    await expect(field).to_have_attribute("aria-invalid", "true")
    # when the shop moves the purchase order past her date, the page shows it cancelled, and why
    moved = await api.gql("""mutation($id: ID!) { updatePurchaseOrder(input: {id: $id, expectedDate: "2026-03-20"}) {
        userErrors { message } } }""", {"id": _gid("PurchaseOrder", ids["po"])})
    assert moved["data"]["updatePurchaseOrder"]["userErrors"] == []
    await expect(backorder.get_by_test_id("status")).to_have_text("Cancelled")  # live, no reload
    await expect(backorder.get_by_test_id("cancel-reason")).to_have_text(
        "4 cancelled: not expected by 15 March 2026, the latest date you chose")
    await expect(page.get_by_test_id("order-total")).to_have_text("Order total: £0.00")
    assert page.console_errors == []


async def test_a_declined_alternative_goes_and_the_defaults_are_in_the_preferences(api, page):
    await shop(api)
    await page.goto(await link_for(api, "ann@example.com"))
    await page.get_by_role("button", name="No thanks").click()
    await expect(page.locator("#live")).to_contain_text("Brass desk lamp will not be offered again for this item.")
    await expect(page.get_by_role("button", name="Take 4 of these instead")).to_have_count(0)
    await page.get_by_role("button", name="Notifications").click()
    form = page.locator("#preferences-form")
    await form.get_by_label("Cancel it if it cannot be here by").fill("2026-06-30")
    await form.get_by_label("Alternatives").select_option("NEVER")
    await form.get_by_role("button", name="Save").click()
    await expect(page.locator("#preferences-result")).to_have_text("Saved.")
    prefs = (await api.gql("""{ customerPreferences(email: "ann@example.com") { cancelIfNotBy substitutes } }"""))
    assert prefs["data"]["customerPreferences"] == {"cancelIfNotBy": "2026-06-30", "substitutes": "NEVER"}
    assert page.console_errors == []
