"""The portal shows what the shop gave for the wait on the backorder: the credit in the customer's money format
and the discount code to type; never the agent's name or note."""

from __future__ import annotations

from decimal import Decimal

from playwright.async_api import expect

from domain.store import models as t
from tests.browser.portal_support import link_for, shop


async def test_the_customer_sees_the_goodwill_on_their_backorder(api, page):
    # given Ann waits for 2 lamps at £29.50 and an agent gave her a credit and a code
    await shop(api)
    [backorder_id] = await t.Backorder.filter(customer_email="ann@example.com").values_list("id", flat=True)
    await api.desk.offer_goodwill(backorder_id, credit_amount=Decimal("5"), credit_currency="GBP",
                                  discount_code="SORRY5", note="VIP complaint", agent="agent kim")
    # when she opens the portal
    await page.goto(await link_for(api, "ann@example.com"))
    # then her backorder says what she was given, and nothing of who or why
    given = page.get_by_test_id("goodwill")
    await expect(given).to_have_text(["A credit of £5.00 for the wait", "Your discount code for the wait: SORRY5"])
    body = await page.locator("body").inner_text()
    assert "agent kim" not in body and "VIP complaint" not in body
    assert page.console_errors == []
