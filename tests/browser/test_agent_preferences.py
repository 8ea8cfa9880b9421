"""The agent console's customer view in a real browser: an agent changes how a customer is told on their word,
within the customer's own consent (a channel they never chose is refused beside its field), and sees every change
with who made it."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.agent_support import confirm, shop, sign_in

ANN = "ann@example.com"


async def test_an_agent_changes_how_a_customer_is_told_within_their_consent(api, page):
    # given Ann chose texts, not email, herself (her consent is on record for texts only)
    await shop(api)
    await api.desk.set_notification_preferences(ANN, {"by_email": False, "by_sms": True, "phone": "+447700900123"},
                                                by=ANN, by_agent=False)
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#customer/{ANN}")
    await expect(page.get_by_test_id("consent")).to_have_text(re.compile(r"^texts to \+447700900123"))
    dialog = page.get_by_role("dialog")
    # when the agent turns her texts off on her word: saved, and the change is listed with the agent's name
    await page.get_by_role("button", name="Change how they are told").click()
    await dialog.get_by_label("Texts (SMS)", exact=True).select_option("false")
    await confirm(page, "Save")
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("told-by")).to_have_text("nothing (opted out)")
    change = page.get_by_test_id("preference-change").first
    await expect(change).to_contain_text("test agent")
    await expect(change).to_contain_text("bySms")
    # then turning email on is refused beside its field: she never chose email herself
    await page.get_by_role("button", name="Change how they are told").click()
    await dialog.get_by_label("Email", exact=True).select_option("true")
    await confirm(page, "Save")
    email = dialog.get_by_label("Email", exact=True)
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(dialog.locator("[data-error-for=byEmail]")).to_have_attribute("data-code", "CONSENT_REQUIRED")
    await dialog.get_by_role("button", name="Go back").click()
    prefs = await api.gql('{ customerPreferences(email: "ann@example.com") { byEmail bySms } }')
    assert prefs["data"]["customerPreferences"] == {"byEmail": False, "bySms": False}
    assert page.console_errors == []
