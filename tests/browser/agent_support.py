"""What the agent-console browser tests share (tests/browser/test_agent_*.py): the shop they start from,
signing in with a role's token, confirming a dialog, and where screenshots go."""

from __future__ import annotations

import os
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from playwright.async_api import expect

from domain.model import Channel
from domain.services import CustomerDetails, LineRequest, ProductInput

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
