"""What the agent-console browser tests share (tests/browser/test_agent_*.py): the shop they start from,
signing in with a role's token, and confirming a dialog."""

from __future__ import annotations

import re

from playwright.async_api import expect

from domain.services import CustomerDetails
from tests.browser.shop import lamp_shop


async def shop(api) -> dict[str, str]:
    """Given the lamp shop (tests/browser/shop.py), its two customers with phone numbers."""
    po, olga, ann = await lamp_shop(api, CustomerDetails("olga@example.com", "Olga", "+447700900111"),
                                    CustomerDetails("ann@example.com", "Ann Baker", "+447700900123"))
    return {"po": po, "olga": olga.number, "ann": ann.number, "ann_id": ann.id}


async def sign_in(api, page, role: str = "agent") -> None:
    await page.goto(f"{api.base}/agent")
    await page.get_by_label("API token", exact=True).fill(api.tokens[role])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("who")).to_have_text(re.compile(f"\\({role}\\)"))


async def confirm(page, button: str = "Confirm") -> None:
    await page.get_by_role("dialog").get_by_role("button", name=button).click()


async def refuses_none_beside_the_field(page, dialog, field: str, button: str, error: str) -> None:
    """A dialog opened on its `field` (focused), where 0 units is refused by the desk: the message stands beside
    the field (the `error` selector) and the field is marked invalid, the dialog still open for a better value."""
    await expect(dialog.get_by_label(field)).to_be_focused()
    await dialog.get_by_label(field).fill("0")
    await confirm(page, button)
    await expect(dialog.locator(error)).not_to_be_empty()
    await expect(dialog.get_by_label(field)).to_have_attribute("aria-invalid", "true")
