"""Demo data: a small gift-shop catalogue (SKUs and names from the real order stream in
../shared/data), two suppliers, stock, open purchase orders and customers whose orders left
backorders, so every query and screen shows something. Loaded through the use cases, like real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from domain.customers import NotificationPreferences
from domain.model import BackorderPolicy, Channel, CustomerTier, Product
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.portal import save_preferences

TOUR_SKU = "85123A"  # 3 in stock and a purchase order due: the README's five-minute tour uses it
DEMO_CUSTOMERS = ("ann.baker@example.com", "raj.patel@example.com", "li.wong@example.com")


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    price: str
    stock: int
    policy: BackorderPolicy = BackorderPolicy.ALLOW
    substitutes: tuple[str, ...] = ()


CATALOGUE = (
    DemoProduct(TOUR_SKU, "White hanging heart T-light holder", "2.95", 3, substitutes=("21733", "22178")),
    DemoProduct("21733", "Red hanging heart T-light holder", "2.95", 40),
    DemoProduct("22178", "Victorian glass hanging T-light", "1.95", 12),
    DemoProduct("22423", "Regency cakestand 3 tier", "12.75", 0, substitutes=("22699",)),
    DemoProduct("22699", "Roses regency teacup and saucer", "2.95", 25),
    DemoProduct("85099B", "Jumbo bag red retrospot", "2.08", 0, substitutes=("22386",)),
    DemoProduct("22386", "Jumbo bag pink polkadot", "2.08", 6),
    DemoProduct("47566", "Party bunting", "4.95", 2),
    DemoProduct("20725", "Lunch bag red retrospot", "1.65", 0, substitutes=("23206", "22382")),
    DemoProduct("23206", "Lunch bag apple design", "1.65", 30),
    DemoProduct("22382", "Lunch bag spaceboy design", "1.65", 0),
    DemoProduct("22720", "Set of 3 cake tins pantry design", "4.95", 5, policy=BackorderPolicy.DENY),
    DemoProduct("22960", "Jam making set with jars", "4.25", 0),
)


async def is_empty() -> bool:
    return not await t.Product.exists()


async def load_demo(desk: BackorderDesk) -> dict[str, str]:
    """Load the demo into an empty database. Returns a few names the README refers to."""
    today = desk.clock.today()
    gifts = await desk.upsert_supplier(None, "Hearts & Homes Ltd", 21)
    bags = await desk.upsert_supplier(None, "Retrospot Bags Co", 10)
    for item in CATALOGUE:  # substitutes must exist first: two passes
        await desk.upsert_product(ProductInput(
            sku=item.sku, name=item.name, price=Decimal(item.price), currency="GBP", backorder_policy=item.policy,
            supplier_id=bags.id if "bag" in item.name.lower() else gifts.id))
    for item in CATALOGUE:
        if item.substitutes:
            await desk.upsert_product(ProductInput(
                sku=item.sku, name=item.name, price=Decimal(item.price), currency="GBP",
                backorder_policy=item.policy, substitutes=item.substitutes,
                supplier_id=bags.id if "bag" in item.name.lower() else gifts.id))
        if item.stock:
            await desk.receive_stock(item.sku, item.stock, cause="opening stock")
    await desk.create_purchase_order(gifts.id, today + timedelta(days=9),
                                     [LineRequest(TOUR_SKU, 4), LineRequest("22423", 6)], number="PO-DEMO-1001")
    await desk.create_purchase_order(bags.id, today + timedelta(days=5),
                                     [LineRequest("85099B", 20), LineRequest("20725", 10)], number="PO-DEMO-1002")
    await desk.create_purchase_order(gifts.id, today + timedelta(days=30), [LineRequest("22960", 12)],
                                     number="PO-DEMO-1003")
    ann, raj, li = DEMO_CUSTOMERS
    orders = [
        (CustomerDetails(ann, "Ann Baker", "+447700900123"), Channel.ONLINE,
         [("22423", 1), ("20725", 2), ("22699", 2)]),
        (CustomerDetails(raj, "Raj Patel", tier=CustomerTier.VIP), Channel.PHONE, [("85099B", 10), ("47566", 4)]),
        (CustomerDetails(li, "Li Wong"), Channel.STORE, [("22960", 2), ("22423", 2)]),
        (CustomerDetails("marta.silva@example.com", "Marta Silva"), Channel.MOBILE, [("20725", 12)]),
        (CustomerDetails("tom.hughes@example.com", "Tom Hughes"), Channel.MARKETPLACE, [("85099B", 15)]),
    ]
    for customer, channel, lines in orders:
        await desk.place_order(customer, channel, [LineRequest(sku, qty) for sku, qty in lines])
    await save_preferences(NotificationPreferences(
        email=ann, by_email=True, by_sms=True, phone="+447700900123", timezone="Europe/London"))
    await save_preferences(NotificationPreferences(email=li, timezone="Asia/Singapore"))
    return {"tour_sku": TOUR_SKU, "customer": ann}


def describe(product: Product) -> str:
    return f"{product.sku} {product.name}"
