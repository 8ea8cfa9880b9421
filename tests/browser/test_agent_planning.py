"""The agent console's planning parts in a real browser: reorder advice beside the SKU's queue with an order of
the suggested quantity in one confirmation, and the CSV downloads on the numbers page."""

from __future__ import annotations

import csv
import io

from playwright.async_api import expect

from tests.browser.agent_support import confirm, shop, sign_in


async def test_reorder_advice_beside_the_queue_orders_the_suggested_quantity(api, page):
    await shop(api)
    advice = (await api.gql("""{ reorderSuggestions(filter: {skus: ["LAMP"]}) { suggestions {
        reorderPoint suggestedQuantity } } }"""))["data"]["reorderSuggestions"]["suggestions"][0]
    assert advice["suggestedQuantity"] > 0
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#queue/LAMP")

    card = page.get_by_test_id("queue-advice")
    await expect(card).to_contain_text("below the reorder point")
    await expect(card.get_by_test_id("advice-reorder-point")).to_have_text(str(advice["reorderPoint"]))
    await expect(card.get_by_test_id("advice-quantity")).to_have_text(str(advice["suggestedQuantity"]))
    await expect(page.get_by_test_id("po-row")).to_have_count(1)
    await card.get_by_role("button", name=f"Order {advice['suggestedQuantity']} from Lumen Ltd").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Expected date").fill("2026-01-01")  # in the past: refused beside the field
    await confirm(page, "Create purchase order")
    await expect(dialog.get_by_text("the expected date is in the past")).to_be_visible()
    await dialog.get_by_label("Expected date").fill("2026-03-25")
    await confirm(page, "Create purchase order")
    await expect(dialog).to_be_hidden()

    await expect(page.get_by_test_id("po-row")).to_have_count(2)
    await expect(card.get_by_test_id("advice-quantity")).to_have_text("0")
    await expect(card).to_contain_text("stock is enough")
    assert page.console_errors == []


async def test_the_numbers_page_downloads_the_backorders_as_csv(api, page):
    await shop(api)
    await sign_in(api, page)
    await page.get_by_role("button", name="Numbers").click()

    async with page.expect_download() as started:
        await page.get_by_test_id("export-backorders").click()
    download = await started.value
    rows = list(csv.DictReader(io.StringIO((await download.path()).read_text(encoding="utf-8"))))

    assert download.suggested_filename.startswith("backorder-backorders-")
    assert sorted(r["customer_email"] for r in rows) == ["ann@example.com", "olga@example.com"]
    assert page.console_errors == []
