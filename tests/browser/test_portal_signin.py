"""The customer portal in a real browser, signing in and who sees what: a sign-in link shows the order, its
place in line and its ETA; the demo's screenshots; expired and reused links refused; another customer's order
unreachable even by a hand-made request; a sign-in for one order only, and signing out; a signed-out header
showing no email and no account links (nothing carrying `hidden` shown)."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.async_api import expect

from tests.browser.portal_support import (
    _gid,
    assert_hidden_is_hidden,
    expect_no_account_in_header,
    link_for,
    shop,
)
from tests.browser.shop import DOCS, UPDATE_SCREENSHOTS


async def test_sign_in_with_link_shows_position_and_eta(api, page):
    await shop(api)
    url = await link_for(api, "ann@example.com")
    await page.goto(url)
    order = page.get_by_test_id("order")
    await expect(order).to_have_count(1)
    backorder = page.get_by_test_id("backorder")
    await expect(backorder.get_by_test_id("status")).to_have_text("Waiting for stock")
    # Olga (3, ordered first) is ahead: 2 from stock went to her, 1 of hers still waits
    await expect(backorder.get_by_test_id("waiting")).to_have_text(
        "4 items are on backorder. You are 2nd in line: 1 order is waiting ahead of yours.")
    await expect(backorder.get_by_test_id("eta")).to_have_text(
        re.compile(r"Expected 10 March 2026, confirmed by the supplier"))
    assert "token=" not in page.url  # the single-use link leaves the address bar
    await assert_hidden_is_hidden(page)
    assert page.console_errors == []


async def test_screenshots_of_the_demo_in_english_on_a_desktop_and_in_german_on_a_phone(api, page, tmp_path):
    """docs/portal-desktop.png and docs/portal-phone.png, from the demo's catalogue and customers."""
    from api.demo import load_demo
    from domain.store.portal import get_preferences, save_preferences

    await load_demo(api.desk)
    shots = DOCS if UPDATE_SCREENSHOTS else tmp_path
    await page.goto(await link_for(api, "ann.baker@example.com"))
    await expect(page.get_by_text("Regency cakestand 3 tier").first).to_be_visible()
    await expect(page.get_by_test_id("order-total")).to_have_text("Order total: £21.95")
    await page.screenshot(path=str(shots / "portal-desktop.png"), full_page=True)
    prefs = await get_preferences("ann.baker@example.com")
    prefs.language = "de"
    await save_preferences(prefs)
    phone = await (await page.context.browser.new_context(viewport={"width": 390, "height": 844},
                                                          locale="de-DE")).new_page()
    await phone.goto(await link_for(api, "ann.baker@example.com"))
    await expect(phone.get_by_test_id("order-total")).to_have_text("Gesamtsumme: 21,95 £")
    await phone.screenshot(path=str(shots / "portal-phone.png"), full_page=True)
    assert page.console_errors == []


async def test_expired_and_reused_links_are_refused(api, page, browser):
    await shop(api)
    url = await link_for(api, "ann@example.com")
    await page.goto(url)
    await expect(page.get_by_test_id("order")).to_have_count(1)
    other = await browser.new_context()
    second = await other.new_page()
    await second.goto(url)  # the same link again, in a fresh browser
    await expect(second.locator("#link-result")).to_have_text(re.compile("already been used"))
    await expect(second.get_by_test_id("order")).to_have_count(0)
    stale = await link_for(api, "ann@example.com")
    api.clock.advance(timedelta(minutes=31))
    third = await (await browser.new_context()).new_page()
    await third.goto(stale)
    await expect(third.locator("#link-result")).to_have_text(re.compile("expired"))
    await other.close()


async def test_another_customers_order_is_unreachable(api, page):
    ids = await shop(api)
    await page.goto(await link_for(api, "ann@example.com"))
    await expect(page.get_by_test_id("order")).to_have_count(1)
    await expect(page.get_by_text(ids["other_number"])).to_have_count(0)
    other = _gid("Order", ids["other_order"])
    result = await page.evaluate("""async (id) => {
        const r = await fetch('/graphql', {method: 'POST', headers: {'content-type': 'application/json'},
          body: JSON.stringify({query: `query($id: ID!) { order(id: $id) { number } }`, variables: {id}})});
        return await r.json(); }""", other)
    assert result == {"data": {"order": None}}
    cancel = await page.evaluate("""async (id) => {
        const r = await fetch('/graphql', {method: 'POST', headers: {'content-type': 'application/json'},
          body: JSON.stringify({query: `mutation($id: ID!) { setShippingPreference(input: {orderId: $id,
            shipComplete: true}) { order { id } userErrors { code } } }`, variables: {id}})});
        return await r.json(); }""", other)
    assert cancel["data"]["setShippingPreference"] == {"order": None, "userErrors": [{"code": "ORDER_NOT_FOUND"}]}


async def test_sign_in_with_order_number_opens_only_that_order(api, page):
    ids = await shop(api)
    await page.goto(api.base + "/")
    await page.get_by_text("Or use your order number").click()
    await page.get_by_label("Order number").fill(ids["mine"])
    await page.get_by_label("Email address on the order").fill("ann@example.com")
    await page.get_by_role("button", name="Open this order").click()
    await expect(page.get_by_test_id("order")).to_have_count(1)
    # one order, no account: no preferences, and the way to the account said plainly
    await expect(page.get_by_role("button", name="Notifications")).to_be_hidden()
    await expect(page.get_by_test_id("order-only")).to_contain_text(
        "You are signed in for one order. To see all your orders and choose how we tell you about them, "
        "use a sign-in link.")
    await page.reload()  # the page finds out again from the server
    await expect(page.get_by_test_id("order")).to_have_count(1)
    await expect(page.get_by_role("button", name="Notifications")).to_be_hidden()
    await page.get_by_test_id("order-only").get_by_role("button", name="Email me a sign-in link").click()
    await expect(page.locator("#account-link-result")).to_have_text(
        "If we know this address, we have sent it a sign-in link. It works once, for 30 minutes.")
    assert page.console_errors == []
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#sign-in")).to_be_visible()
    await page.reload()
    await expect(page.locator("#sign-in")).to_be_visible()  # the session really ended


async def test_signed_out_header_shows_no_email_and_no_account_links(api, page):
    await shop(api)
    await page.goto(api.base + "/")  # a fresh visit
    await expect(page.locator("#sign-in")).to_be_visible()
    await expect_no_account_in_header(page)
    await page.goto(await link_for(api, "ann@example.com"))
    await expect(page.get_by_test_id("who")).to_have_text("ann@example.com")
    await assert_hidden_is_hidden(page)
    await page.get_by_role("button", name="Notifications").click()
    await assert_hidden_is_hidden(page)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#link-result")).to_have_text("You are signed out.")
    await expect_no_account_in_header(page)
    await expect(page.get_by_test_id("order")).to_have_count(0)
    assert page.console_errors == []
