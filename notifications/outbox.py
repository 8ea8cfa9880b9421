"""The transactional outbox hook: runs inside the domain transaction, just before commit (a receipt recorded as a
range: in the transaction of its fan-out, after the receipt's commit, which marks the range told with it).

Customer-facing backorder events become `notification_events` and open (or extend) the customer's
coalescing window; stock that becomes available to order wakes back-in-stock subscribers, the
earliest first and at most one per available unit. If the domain change rolls back, so does this.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from domain import events as ev
from domain.clock import Clock
from domain.model.served import Covered, customer_parts
from domain.store import models as t
from domain.store import notify as store
from domain.store.portal import languages_by_email, signing_key
from domain.store.served_ranges import served_parts
from notifications.compose import CUSTOMER_EVENTS, Change
from notifications.render import render_back_in_stock
from notifications.settings import NotificationSettings

# entries of the QueueChanged events of a transaction from which their outbox rows are made in a worker thread
ASIDE_ENTRIES = 2_000
# events after which a SKU may have become available to order again
_STOCK_EVENTS = (ev.StockReceived, ev.StockAdjusted, ev.BackorderCancelled, ev.BackorderSubstituted)


def unsubscribe_token(key: bytes, address: str, channel: str = "EMAIL") -> str:
    payload = f"{channel}:{address.lower()}"
    sig = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{payload}:{sig}"


def read_unsubscribe_token(key: bytes, token: str) -> tuple[str, str] | None:
    channel, _, rest = token.partition(":")
    address, _, sig = rest.rpartition(":")
    if not channel or not address or not sig:
        return None
    expected = unsubscribe_token(key, address, channel).rsplit(":", 1)[1]
    return (channel, address) if hmac.compare_digest(expected, sig) else None


class OutboxRecorder:
    def __init__(self, settings: NotificationSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()

    async def __call__(self, conn: store.Connection, events: Sequence[ev.Event]) -> None:
        # a receipt recorded as a range is told after its commit (`fan_out`): read back here, it was most of the
        # receipt's time (10-12.7 s at 100k)
        await self._record(conn, [e for e in events if not isinstance(e, ev.QueueServed)])
        skus = sorted({e.sku for e in events if isinstance(e, _STOCK_EVENTS)})
        for sku in skus:
            await self._back_in_stock(sku, conn)

    async def fan_out(self, conn: store.Connection, served: ev.QueueServed,
                      covered: Sequence[Covered] | None = None) -> None:
        """A receipt recorded as a range, after its commit (`domain.store.uow.FanOut`): each customer's part of it
        (of the customers of `covered`, a slice of whole customers; else all, read back from the rows it covers), and
        their digests opened, in the fan-out's transaction."""
        # a digest it opens is due a window after the receipt, as it would have been opened in the receipt's own
        # transaction: the fan-out's delay (or a crash's) does not hold the news back longer
        # each customer's part cut from the covered rows as they are read, not from 300k events made and folded
        if covered is None:
            parts = await served_parts(served, conn)
        elif len(covered) < ASIDE_ENTRIES:
            parts = customer_parts(served, covered)
        else:
            parts = await asyncio.to_thread(customer_parts, served, covered)
        aside = sum(len(part.entries) for part in parts.values()) >= ASIDE_ENTRIES
        await store.record_events(
            (_part_row(served.sku, email, part) for email, part in parts.items()),
            min(served.occurred_at, self.clock.now()), timedelta(seconds=self.settings.coalesce_seconds), conn,
            aside=aside)

    async def _record(self, conn: store.Connection, events: Sequence[ev.Event], now: datetime | None = None) -> None:
        # a long queue's change cut into each customer's part and encoded in a worker thread: for a 100k receipt
        # that was seconds of Python on the event loop, and every other request of the process waited for it
        aside = sum(len(e.entries) for e in events if isinstance(e, ev.QueueChanged)) >= ASIDE_ENTRIES
        await store.record_events(_customer_rows(events), now or self.clock.now(),
                                  timedelta(seconds=self.settings.coalesce_seconds), conn, aside=aside)

    async def _back_in_stock(self, sku: str, conn: store.Connection) -> None:
        available = await store.available_to_order(sku, conn)
        if available <= 0:
            return
        subscribers = await store.ProductSubscription.filter(sku=sku, status="ACTIVE").order_by(
            "created_at", "id").limit(available).using_db(conn)
        if not subscribers:
            return
        product = await t.Product.get(sku=sku).using_db(conn)
        # a subscriber who is also a customer is told in their language; anyone else in the one they subscribed in
        languages = await languages_by_email([sub.email for sub in subscribers if sub.email], conn)
        key = await signing_key()
        now = self.clock.now()
        for sub in subscribers:
            address = sub.email or sub.phone or ""
            channel = "EMAIL" if sub.email else "SMS"
            worded = word_back_in_stock(self.settings, key, product.name, languages.get(sub.email or "", sub.language),
                                        address, channel)
            # one message per return to stock: the dispatcher sends it only if the stock is still there then, else
            # re-arms the subscription, and the next return (counted) has a key of its own; it is worded again then
            await store.enqueue(
                key=f"back-in-stock:{sub.id}:{sub.returns_told + 1}", kind="BACK_IN_STOCK", channel=channel,
                recipient=address, subject=worded.subject, body_text=worded.text, body_html=worded.html, now=now,
                conn=conn, headers=worded.headers, about={"subscription": sub.id, "sku": sku}, secrets=worded.secrets)
            await store.ProductSubscription.filter(id=sub.id).using_db(conn).update(
                status="NOTIFIED", notified_at=now, returns_told=sub.returns_told + 1)


async def subscriber_language(email: str | None, subscribed_in: str) -> str:
    """The language a back-in-stock subscriber is told in: a customer's chosen one (by email), else the one
    recorded when they subscribed (a number's only one)."""
    if email:
        return (await languages_by_email([email])).get(email, subscribed_in)
    return subscribed_in


@dataclass(frozen=True)
class BackInStock:
    subject: str
    text: str  # the email's plain text, or the text message
    html: str | None
    headers: dict[str, str]
    secrets: tuple[str, ...]  # the recipient's alone (the unsubscribe token): withheld from the outbox row


def word_back_in_stock(settings: NotificationSettings, key: bytes, product: str, language: str, address: str,
                       channel: str) -> BackInStock:
    """A back-in-stock message to `address` on `channel`: worded when it is queued and again when it is sent (the
    subscriber's language and the product's name as they are then)."""
    base = settings.public_url.rstrip("/")
    token = quote(unsubscribe_token(key, address, channel))
    rendered = render_back_in_stock(product=product, language=language, shop_name=settings.shop_name,
                                    shop_url=f"{base}/", unsubscribe_url=f"{base}/unsubscribe?token={token}")
    secrets = unsubscribe_secrets(token)
    if channel == "EMAIL":
        return BackInStock(rendered.subject, rendered.text, rendered.html, _list_unsubscribe(base, token), secrets)
    return BackInStock(rendered.subject, rendered.sms or "", None, {}, secrets)


def unsubscribe_secrets(token: str) -> tuple[str, ...]:
    """An unsubscribe token as a message may carry it (quoted in its links; its signature whatever the quoting):
    anyone holding it can unsubscribe the address, so only the recipient's copy has it."""
    return (token, unquote(token), token.rsplit(":", 1)[-1].rsplit("%3A", 1)[-1])


def _customer_rows(events: Sequence[ev.Event]) -> Iterator[dict[str, Any]]:
    """The customer-facing events as outbox rows, made one at a time as the store writes them. A long queue's
    change (QueueChanged) is one row per customer, their part of it: the digest composer expands it back into
    their per-backorder events (`changes_of`)."""
    for event in events:
        if isinstance(event, ev.QueueChanged):
            for email, positions in event.customers.items():
                yield _part_row(event.sku, email, event.part(positions))
        elif isinstance(event, ev.BackorderEvent) and event.kind in CUSTOMER_EVENTS:
            yield {"email": event.customer_email, "backorder_id": event.backorder_id, "order_id": event.order_id,
                   "sku": event.sku, "kind": event.kind, "data": event_data(event), "occurred_at": event.occurred_at}


def _part_row(sku: str, email: str, part: ev.QueueChanged) -> dict[str, Any]:
    """A customer's part of a long queue's change as their outbox row."""
    backorder_id, order_id, _ = part.backorders[0]
    data = part.to_dict()
    for k in ("kind", "occurred_at", "sku"):
        data.pop(k)
    return {"email": email, "backorder_id": backorder_id, "order_id": order_id, "sku": sku, "kind": part.kind,
            "data": data, "occurred_at": part.occurred_at}


def event_data(event: ev.BackorderEvent) -> dict[str, Any]:
    """What an outbox row keeps of a backorder event beside its own columns."""
    data = event.to_dict()
    for k in ("kind", "occurred_at", "backorder_id", "order_id", "sku", "customer_email"):
        data.pop(k, None)
    return data


def changes_of(kind: str, backorder_id: str, order_id: str, sku: str, occurred_at: datetime,
               data: dict[str, Any]) -> list[Change]:
    """An outbox row as the changes a digest reads: one, or for a customer's part of a QueueChanged, each of
    the per-backorder events it stands for (what the row would have been, one per event)."""
    if kind != ev.QueueChanged.kind:
        return [Change(kind, backorder_id, order_id, sku, occurred_at, data)]
    queue_changed = ev.QueueChanged.of_dict({**data, "occurred_at": occurred_at, "sku": sku})
    return [Change(e.kind, e.backorder_id, e.order_id, e.sku, e.occurred_at, event_data(e))
            for e in queue_changed.expand()]


def _list_unsubscribe(base: str, token: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe headers."""
    return {"List-Unsubscribe": f"<{base}/unsubscribe?token={token}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
