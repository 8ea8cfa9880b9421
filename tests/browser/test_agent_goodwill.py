"""The agent console offers goodwill beside the substitute: a credit and/or a code with a note; a userError shows
at its field (an amount more than the units cost, another currency) and nothing is given until it is right."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.agent_support import confirm, shop, sign_in

GIVEN = """query { backorders(filter: {customerEmail: "olga@example.com"}) { nodes {
  goodwill { credit { amount currency } discountCode note agent } } } }"""


async def test_an_agent_offers_goodwill_and_errors_show_at_their_field(api, page):
    # given Olga waits for 1 lamp at £29.50
    await shop(api)
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#queue/LAMP")
    olga = page.get_by_test_id("queue-row").filter(has_text="olga@example.com")
    dialog = page.get_by_role("dialog")
    # when the agent offers more than the waiting lamp cost, in another currency
    await olga.get_by_role("button", name="Offer goodwill").click()
    await dialog.get_by_label("Credit amount (optional)").fill("500")
    await dialog.get_by_label("Credit currency").fill("GBP")
    await dialog.get_by_label("Note (why; staff only)").fill("late twice")
    await confirm(page, "Give it")
    # then the error is at the amount, and nothing was given
    await expect(dialog.locator('[data-error-for="credit.amount credit"]')).to_contain_text("at most 29.50 GBP")
    await dialog.get_by_label("Credit amount (optional)").fill("5")
    await dialog.get_by_label("Credit currency").fill("EUR")
    await confirm(page, "Give it")
    await expect(dialog.locator('[data-error-for="credit.currency"]')).to_contain_text("paid in GBP")
    assert (await api.gql(GIVEN))["data"]["backorders"]["nodes"][0]["goodwill"] == []
    # when it is put right, with a code too
    await dialog.get_by_label("Credit currency").fill("GBP")
    await dialog.get_by_label("Discount code (optional)").fill("SORRY5")
    await confirm(page, "Give it")
    await expect(dialog).to_be_hidden()
    # then it is on her backorder
    [given] = (await api.gql(GIVEN))["data"]["backorders"]["nodes"][0]["goodwill"]
    assert given == {"credit": {"amount": "5.00", "currency": "GBP"}, "discountCode": "SORRY5",
                     "note": "late twice", "agent": given["agent"]}
    assert page.console_errors == []
