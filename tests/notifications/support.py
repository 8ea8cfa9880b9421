"""Helpers for the notification tests: a lamp shop's catalogue and orders made through the desk, the plain text
of a mail, the outbox's statuses, and a Twilio signature for webhook requests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from twilio.request_validator import RequestValidator

from domain.model import Channel
from domain.services import CustomerDetails, LineRequest, ProductInput
from domain.store import notify as store
from tests.notifications.conftest import AUTH_TOKEN

WINDOW = timedelta(seconds=601)


async def catalogue(shop, stock: int = 1) -> dict[str, str]:
    """Given a lamp (1 in stock, substitute in stock) and a PO of 5 due 10 March."""
    desk = shop.desk
    supplier = await desk.upsert_supplier(None, "Lumen Ltd", 20)
    await desk.upsert_product(ProductInput(sku="LAMP-ALT", name="Brass desk lamp", price=Decimal("34"), currency="GBP"))
    await desk.upsert_product(ProductInput(sku="LAMP", name="Anglepoise lamp", price=Decimal("29.50"), currency="GBP",
                                           substitutes=("LAMP-ALT",), supplier_id=supplier.id))
    if stock:
        await desk.receive_stock("LAMP", stock)
    await desk.receive_stock("LAMP-ALT", 10)
    po = await desk.create_purchase_order(supplier.id, date(2026, 3, 10), [LineRequest("LAMP", 5)], number="PO-9")
    return {"po": po.id, "supplier": supplier.id}


async def order(shop, email: str = "ann@example.com", quantity: int = 3, name: str = "Ann Baker",
                phone: str | None = None):
    return await shop.desk.place_order(CustomerDetails(email, name, phone), Channel.ONLINE,
                                       [LineRequest("LAMP", quantity)])


def plain(mail) -> str:
    return mail.get_body(("plain",)).get_content().replace("\r\n", "\n")


async def statuses() -> list[tuple[str, str, str]]:
    rows = await store.OutboxMessage.all().order_by("created_at", "id")
    return [(r.channel, r.recipient, r.status) for r in rows]


def signed(url: str, params: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, params)}
