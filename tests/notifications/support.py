"""Helpers for the notification tests: a lamp shop's catalogue and orders made through the desk, the plain text
of a mail, the outbox's statuses, and a Twilio signature for webhook requests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from twilio.request_validator import RequestValidator

from domain.model import Channel
from domain.services import CustomerDetails, LineRequest, ProductInput
from domain.store import notify as store
from domain.store import portal
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


async def sign_in_link(shop, email: str, expires_at: datetime) -> str:
    """A real sign-in link to `email` that expires at `expires_at`, as the portal makes one: the outbox keeps its id
    and the dispatcher makes its token again when the message goes."""
    link = await portal.create_link(email, None, shop.clock.now(), expires_at - shop.clock.now(), "test")
    return portal.sign_in_url(shop.notifications.settings.public_url,
                              portal.link_token(await portal.signing_key(), link.id, link.expires_at))


async def send_sign_in_link(shop, email: str, expires_at: datetime) -> str:
    """A real sign-in link queued to `email` (as the portal sends one); returns it."""
    url = await sign_in_link(shop, email, expires_at)
    await shop.notifications.send_portal_link(email, url, expires_at)
    return url
