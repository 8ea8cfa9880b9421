"""What both the agent console's and the customer portal's browser tests start from: the lamp shop, and where
screenshots go (docs/ when they are being refreshed)."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

from domain.model import Channel, Order
from domain.services import CustomerDetails, LineRequest, ProductInput

DOCS = Path(__file__).resolve().parents[2] / "docs"

# the screenshots in docs/ are refreshed on demand (BACKORDER_UPDATE_SCREENSHOTS=1), not by every run
UPDATE_SCREENSHOTS = os.environ.get("BACKORDER_UPDATE_SCREENSHOTS") == "1"


async def lamp_shop(api, olga: CustomerDetails, ann: CustomerDetails) -> tuple[str, Order, Order]:
    """Given a lamp with 2 in stock, PO-77 bringing 5 on 10 March, a substitute in stock, and two customers
    waiting: Olga (3 ordered in store, 1 waiting) ahead of Ann (4 ordered online, all waiting). Returns the
    purchase order's id, Olga's order and Ann's."""
    desk = api.desk
    supplier = await desk.upsert_supplier(None, "Lumen Ltd", 20)
    await desk.upsert_product(ProductInput(sku="LAMP-ALT", name="Brass desk lamp", price=Decimal("34.00"),
                                           currency="GBP"))
    await desk.upsert_product(ProductInput(sku="LAMP", name="Anglepoise lamp", price=Decimal("29.50"),
                                           currency="GBP", substitutes=("LAMP-ALT",), supplier_id=supplier.id))
    await desk.receive_stock("LAMP", 2)
    await desk.receive_stock("LAMP-ALT", 10)
    po = await desk.create_purchase_order(supplier.id, date(2026, 3, 10), [LineRequest("LAMP", 5)], number="PO-77")
    olga_order = await desk.place_order(olga, Channel.STORE, [LineRequest("LAMP", 3)])
    ann_order = await desk.place_order(ann, Channel.ONLINE, [LineRequest("LAMP", 4)])
    return po.id, olga_order, ann_order
