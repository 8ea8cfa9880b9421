"""The agent console's focus indicators, measured in a real browser as the portal's are: tabbing through every
view (and a dialog), each focused control's outline is at least 2px and contrasts at least 3:1 with the colour
around it (WCAG 2.2, 1.4.11 and 2.4.13), on the light page and on the dark bar alike."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.agent_support import shop, sign_in
from tests.browser.test_portal_access import _contrast, _tab_through


async def test_every_focus_indicator_in_the_console_contrasts_at_least_3_to_1(api, page):
    await shop(api)
    await sign_in(api, page)
    rings = []
    views = [("find", "find-row"), ("queue/LAMP", "queue-row"), ("customer/ann@example.com", "customer-order"),
             ("new-order", "line-input"), ("numbers", "kpi-open"), ("settings", "location-row")]
    for view, ready in views:
        await page.goto(f"{api.base}/agent#{view}")
        await expect(page.get_by_test_id(ready).first).to_be_visible()
        rings += await _tab_through(page, 80)
    await page.get_by_role("button", name="Rename MAIN").click()  # an edit, then a dialog
    rings += await _tab_through(page, 10)
    await page.goto(f"{api.base}/agent#queue/LAMP")
    await page.get_by_role("button", name="Receive stock of LAMP").click()
    rings += await _tab_through(page, 8)
    assert len(rings) >= 40, [r["what"] for r in rings]
    weak = [(r["what"], round(_contrast(r["ring"], r["around"]), 2)) for r in rings
            if r["style"] == "none" or r["width"] < 2 or _contrast(r["ring"], r["around"]) < 3]
    assert weak == [], weak
    assert page.console_errors == []
