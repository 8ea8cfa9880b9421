"""The agent console in a real browser, a customer and the numbers: the customer view sending a portal link,
shipping, and retrying a message that failed; placing an order for a caller with errors beside their line;
a customer's messages 25 at a time; and the numbers as figures and inline SVG charts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import expect

from domain.model import Channel
from domain.services import CustomerDetails, LineRequest
from notifications.settings import NotificationSettings, SmtpSettings
from tests.browser.agent_support import confirm, shop, sign_in
from tests.browser.shop import DOCS, UPDATE_SCREENSHOTS
from tests.notifications.conftest import SmtpServer

MAIL = SmtpServer()  # not listening yet: the first send fails, the agent retries once it is up


@pytest.mark.api_settings(notifications=NotificationSettings(
    smtp=SmtpSettings(host="127.0.0.1", port=MAIL.port, starttls=False), max_attempts=1, poll_seconds=0.2))
async def test_customer_view_sends_a_portal_link_ships_and_retries_a_failed_message(api, page, tmp_path):
    ids = await shop(api)
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#customer/ann@example.com")
    card = page.get_by_test_id("customer-card")
    await expect(card).to_contain_text("Ann Baker")
    await expect(card).to_contain_text("+447700900123")
    order = page.get_by_test_id("customer-order")
    await expect(order).to_have_count(1)
    await expect(order).to_contain_text(ids["ann"])
    await expect(order.get_by_test_id("status")).to_have_text("waiting")

    await card.get_by_role("button", name="Send a portal link").click()
    await confirm(page, "Create and send")
    await expect(page.get_by_test_id("portal-link")).to_contain_text("Sent to ann@example.com")
    link = await page.get_by_role("textbox", name="Portal link").input_value()
    assert re.match(re.escape(api.base) + r"/[?#]token=", link), link
    # the mail server is down: the message dies after its one try, and the customer view says so
    messages = page.get_by_test_id("message-row")
    for _ in range(50):
        await page.goto(f"{api.base}/agent#customer/ann@example.com")
        await expect(card).to_contain_text("Ann Baker")
        if await messages.filter(has_text="dead").count():
            break
        await page.wait_for_timeout(200)
    dead = messages.filter(has_text="dead")
    await expect(dead).to_have_count(1)
    MAIL.start()
    try:
        await dead.get_by_role("button", name=re.compile("^Retry")).click()
        await confirm(page, "Send again")
        for _ in range(50):
            if MAIL.messages:
                break
            await page.wait_for_timeout(200)
        assert MAIL.messages and MAIL.messages[0]["To"] == "ann@example.com"
    finally:
        MAIL.stop()
    await page.reload()
    await expect(messages.filter(has_text="sent")).to_have_count(1)

    # ship: nothing is allocated to Ann yet, and the console says so beside the action
    await order.get_by_role("button", name=re.compile("^Ship allocated")).click()
    await confirm(page, "Record shipment")
    await expect(page.get_by_role("dialog").get_by_text("has nothing allocated to ship")).to_be_visible()
    await page.get_by_role("dialog").get_by_role("button", name="Go back").click()
    await api.desk.receive_stock("LAMP", 10)  # Olga's last unit, then Ann's four
    await page.reload()
    await order.get_by_role("button", name=re.compile("^Ship allocated")).click()
    await confirm(page, "Record shipment")
    await expect(page.get_by_role("dialog")).to_be_hidden()
    await expect(page.locator("#live")).to_contain_text(f"Shipped 4 units of {ids['ann']}")
    await expect(order.get_by_test_id("status")).to_have_text("shipped")
    shots = DOCS if UPDATE_SCREENSHOTS else tmp_path
    await page.screenshot(path=str(shots / "agent-customer.png"), full_page=True)
    assert page.console_errors == []


async def test_place_an_order_for_a_caller_with_errors_beside_their_line(api, page, tmp_path):
    await shop(api)
    await sign_in(api, page)
    await page.get_by_role("button", name="New order").click()
    form = page.locator("#order-form")
    await form.get_by_label("Customer email").fill("zoe@example.com")
    await form.get_by_label("Name").fill("Zoe")
    await form.get_by_label("SKU (line 1)").fill("LAMP")
    await form.get_by_label("Quantity").first.fill("2")
    await page.get_by_role("button", name="Add a line").click()
    await form.get_by_label("SKU (line 2)").fill("NOPE")
    await form.get_by_role("button", name="Review and place order").click()
    await expect(page.get_by_role("dialog")).to_contain_text("2 × LAMP, 1 × NOPE")
    await confirm(page, "Place order")
    await expect(form.locator("#line-error-1")).to_contain_text("NOPE")
    await expect(form.locator("#line-error-0")).to_have_text("")
    await form.get_by_label("SKU (line 2)").fill("LAMP-ALT")
    await form.get_by_role("button", name="Review and place order").click()
    await confirm(page, "Place order")
    result = page.get_by_test_id("order-result")
    await expect(result).to_contain_text("placed")
    await expect(result.get_by_test_id("placed-backorder")).to_contain_text("LAMP: 2 backordered, position 3")
    placed = await api.gql('{ orders(filter: {customerEmail: "zoe@example.com"}) { nodes { channel lines { sku } } } }')
    [order] = placed["data"]["orders"]["nodes"]
    assert order["channel"] == "PHONE" and [line["sku"] for line in order["lines"]] == ["LAMP", "LAMP-ALT"]
    assert page.console_errors == []


async def test_a_customers_messages_come_25_at_a_time(api, page):
    await shop(api)
    for _ in range(27):
        sent = await api.gql("""mutation { customerPortalLink(input: {email: "ann@example.com", send: true}) {
            userErrors { message } } }""")
        assert sent["data"]["customerPortalLink"]["userErrors"] == []
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#customer/ann@example.com")
    messages = page.get_by_test_id("message-row")
    await expect(messages).to_have_count(25)
    await expect(page.locator("#messages-count")).to_have_text("25 of 27 shown.")
    await page.get_by_role("button", name="More messages").click()
    await expect(messages).to_have_count(27)
    await expect(page.get_by_role("button", name="More messages")).to_be_hidden()
    assert len({await row.get_attribute("data-id") for row in await messages.all()}) == 27
    assert page.console_errors == []


async def test_numbers_are_figures_and_inline_svg_charts(api, page, tmp_path):
    await shop(api)
    api.clock.advance(timedelta(days=20))
    await api.desk.place_order(CustomerDetails("li@example.com", "Li"), Channel.PHONE, [LineRequest("LAMP", 1)])
    await sign_in(api, page)
    await page.get_by_role("button", name="Numbers").click()
    await expect(page.get_by_test_id("kpi-open")).to_contain_text("3")
    await expect(page.get_by_test_id("kpi-units")).to_contain_text("6")
    chart = page.get_by_test_id("chart-backorders")
    await expect(chart.locator("svg")).to_have_attribute("aria-label", re.compile("0–7 1, 8–14 0, 15–30 2"))
    await expect(chart.get_by_test_id("bar")).to_have_count(5)
    units = page.get_by_test_id("chart-units").locator("svg")
    await expect(units).to_have_attribute("aria-label", re.compile("0–7 1, 8–14 0, 15–30 5"))
    shots = DOCS if UPDATE_SCREENSHOTS else tmp_path
    await page.screenshot(path=str(shots / "agent-numbers.png"), full_page=True)
    assert page.console_errors == []


async def test_every_fact_about_a_customer_starts_at_the_same_place(api, page):
    # the consent on record once sat in a grid of its own, its value ~19 px left of the other values
    await shop(api)
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#customer/ann@example.com")
    card = page.get_by_test_id("customer-card")
    await expect(card.get_by_test_id("consent")).to_be_visible()
    lefts = await card.locator("dd").evaluate_all("dds => dds.map(dd => Math.round(dd.getBoundingClientRect().left))")
    assert len(lefts) >= 7 and len(set(lefts)) == 1, lefts
