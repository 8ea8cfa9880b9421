"""The agent console in a real browser against a real server: sign-in with a token that becomes an HttpOnly
session, find, the SKU queue updating live, the customer view with the messages sent, every action with
its confirmation (and userErrors beside their field), the numbers, admin token management, the keyboard,
and not one request to another host."""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import expect

from api.ids import encode_id
from domain.model import Channel
from domain.services import CustomerDetails, LineRequest, ProductInput
from notifications.settings import NotificationSettings, SmtpSettings
from tests.browser.test_graphiql import only_this_host, record_requests
from tests.browser.test_portal import assert_hidden_is_hidden
from tests.notifications.conftest import SmtpServer

DOCS = Path(__file__).resolve().parents[2] / "docs"
UPDATE_SCREENSHOTS = os.environ.get("BACKORDER_UPDATE_SCREENSHOTS") == "1"


async def shop(api) -> dict[str, str]:
    """Given a lamp with 2 in stock, PO-77 bringing 5 on 10 March, a substitute in stock, and two customers
    waiting: Olga (3 ordered in store, 1 waiting) ahead of Ann (4 ordered online, all waiting)."""
    desk = api.desk
    supplier = await desk.upsert_supplier(None, "Lumen Ltd", 20)
    await desk.upsert_product(ProductInput(sku="LAMP-ALT", name="Brass desk lamp", price=Decimal("34.00"),
                                           currency="GBP"))
    await desk.upsert_product(ProductInput(sku="LAMP", name="Anglepoise lamp", price=Decimal("29.50"),
                                           currency="GBP", substitutes=("LAMP-ALT",), supplier_id=supplier.id))
    await desk.receive_stock("LAMP", 2)
    await desk.receive_stock("LAMP-ALT", 10)
    po = await desk.create_purchase_order(supplier.id, date(2026, 3, 10), [LineRequest("LAMP", 5)], number="PO-77")
    olga = await desk.place_order(CustomerDetails("olga@example.com", "Olga", "+447700900111"), Channel.STORE,
                                  [LineRequest("LAMP", 3)])
    ann = await desk.place_order(CustomerDetails("ann@example.com", "Ann Baker", "+447700900123"), Channel.ONLINE,
                                 [LineRequest("LAMP", 4)])
    return {"po": po.id, "olga": olga.number, "ann": ann.number, "ann_id": ann.id}


async def sign_in(api, page, role: str = "agent") -> None:
    await page.goto(f"{api.base}/agent")
    await page.get_by_label("API token", exact=True).fill(api.tokens[role])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("who")).to_have_text(re.compile(f"\\({role}\\)"))


async def confirm(page, button: str = "Confirm") -> None:
    await page.get_by_role("dialog").get_by_role("button", name=button).click()


async def test_sign_in_exchanges_the_token_for_an_httponly_session_the_page_never_keeps(api, page):
    await page.goto(f"{api.base}/agent")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await assert_hidden_is_hidden(page)  # a fresh visit shows no console tabs (the nav is display:flex)
    await page.get_by_label("API token", exact=True).fill("bd_not-a-real-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#sign-in-error")).to_have_text(re.compile("not valid"))
    await sign_in(api, page)
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["bd_staff"]["httpOnly"] and cookies["bd_staff"]["sameSite"] == "Strict"
    assert api.tokens["agent"] not in cookies["bd_staff"]["value"]
    kept = await page.evaluate("""() => JSON.stringify([document.documentElement.outerHTML,
        Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])""")
    assert api.tokens["agent"] not in kept and "bd_staff" not in kept
    # the session works for the API (and for GraphiQL's page, which shares it) until sign-out
    session = cookies["bd_staff"]["value"]
    asked = await api.client.post(f"{api.base}/graphql", json={"query": "{ viewer { role } }"},
                                  headers={"Cookie": f"bd_staff={session}"})
    assert asked.json()["data"]["viewer"]["role"] == "agent"
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await assert_hidden_is_hidden(page)
    asked = await api.client.post(f"{api.base}/graphql", json={"query": "{ viewer { role } }"},
                                  headers={"Cookie": f"bd_staff={session}"})
    assert asked.json()["data"] is None
    assert page.console_errors == []


async def test_a_revoked_token_ends_its_console_session(api, page):
    await sign_in(api, page)
    tokens = await api.gql("{ apiTokens { id name } }", token="admin")
    agent = next(t for t in tokens["data"]["apiTokens"] if t["name"] == "test agent")
    await api.gql("mutation($id: ID!) { revokeApiToken(input: {id: $id}) { revokedId } }", {"id": agent["id"]},
                  token="admin")
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


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


async def test_admins_list_create_and_revoke_tokens_and_agents_cannot(api, page, browser, tmp_path):
    await sign_in(api, page, "admin")
    await expect(page.get_by_role("button", name="Tokens")).to_be_visible()
    await page.get_by_role("button", name="Tokens").click()
    await expect(page.get_by_test_id("token-row")).to_have_count(2)
    await page.locator("#token-form").get_by_label("Name").fill("night shift")
    await page.get_by_role("button", name="Create token").click()
    await confirm(page, "Create")
    secret = await page.get_by_test_id("secret").input_value()
    assert secret.startswith("bd_")
    await expect(page.get_by_test_id("token-row")).to_have_count(3)
    shots = DOCS if UPDATE_SCREENSHOTS else tmp_path
    await page.screenshot(path=str(shots / "agent-tokens.png"), full_page=True)
    await page.get_by_role("button", name="Revoke night shift").click()
    await confirm(page, "Revoke")
    await expect(page.get_by_test_id("token-row")).to_have_count(2)
    refused = await api.gql("{ viewer { role } }", token=secret, expect_errors=True)
    assert refused["data"] is None
    # an agent has no Tokens view, and /admin sends an agent to Find
    agent_page = await (await browser.new_context()).new_page()
    await sign_in(api, agent_page)
    await expect(agent_page.get_by_role("button", name="Tokens")).to_be_hidden()
    await agent_page.goto(f"{api.base}/admin#tokens")
    await expect(agent_page.get_by_role("heading", name="Find an order or backorder")).to_be_visible()


async def test_the_console_works_from_the_keyboard_and_asks_only_this_host(api, page, tmp_path):
    await shop(api)
    seen = record_requests(page)
    await page.goto(f"{api.base}/agent")
    await expect(page.get_by_label("API token", exact=True)).to_be_focused()  # the sign-in form takes focus
    await page.keyboard.type(api.tokens["agent"])
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("who")).to_contain_text("(agent)")
    await page.keyboard.press("/")
    await expect(page.get_by_label("Order number, email, phone or name")).to_be_focused()
    await page.keyboard.type("ann@example.com")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("find-row")).to_have_count(1)
    shots = DOCS if UPDATE_SCREENSHOTS else tmp_path
    await page.screenshot(path=str(shots / "agent-find.png"), full_page=True)
    await page.keyboard.press("Alt+2")
    await expect(page.get_by_role("heading", name="SKU queue")).to_be_focused()
    await page.keyboard.press("Tab")
    await page.keyboard.type("LAMP")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("queue-row")).to_have_count(2)
    # every action is a button reached by Tab; its dialog takes focus and Escape closes it
    cancel = page.get_by_test_id("queue-row").first.get_by_role("button", name="Cancel")
    await cancel.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("dialog").get_by_label(re.compile("Units to cancel"))).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_be_hidden()
    await page.keyboard.press("Alt+5")
    await expect(page.get_by_test_id("chart-backorders")).to_be_visible()
    only_this_host(seen, api.base)
    assert any(url.startswith(api.base.replace("http", "ws")) for url in seen), "the queue did not go live"
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
