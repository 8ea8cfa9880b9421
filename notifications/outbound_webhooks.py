"""Outbound webhooks: committed domain events, told to the shop's other systems (store front, ERP).

- Recording: a before-commit hook of the unit of work writes one delivery per (event, subscribed endpoint)
  in the same transaction as the change (transactional outbox): no change without its deliveries, no
  delivery of a change that was rolled back.
- Delivering: a dispatcher claims due deliveries, POSTs each body as JSON, signed
  `X-Backorder-Signature: sha256=<hex>` = HMAC-SHA256(secret, "<X-Backorder-Timestamp>." + body) (the
  timestamp is signed with the body, so a captured request cannot be replayed later with a fresh timestamp),
  and settles it. Anything but a 2xx in time is a failure, retried with exponential backoff and jitter; an
  endpoint that has failed for a day without one success is disabled. Redirects are not followed (a 3xx is a
  failure). At least once: every retry carries the same `X-Backorder-Event-Id` and body.
- Server-side request forgery: only http(s) URLs, and no connection to a loopback, private, link-local or
  otherwise non-public address, checked when an endpoint is registered and again on every connection, at the
  address actually connected to (so a DNS name that later resolves inward is refused too), unless
  BACKORDER_WEBHOOK_ALLOW_PRIVATE=1.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpcore

from domain import events as ev
from domain.clock import Clock
from domain.errors import InvalidInput
from domain.model import new_id
from domain.model.served import Covered, covered_events
from domain.store import request_ids
from domain.store import webhooks as store
from domain.store.db import transaction
from domain.store.served_ranges import StoredServedRanges
from notifications.metrics import count_send
from notifications.rounds import run_rounds
from notifications.webhook_settings import WebhookSettings

log = logging.getLogger("backorder.webhooks")

# the event types an endpoint may subscribe to (their names are the contract with receivers)
EVENT_TYPES = (
    "backorder.created", "backorder.allocated", "backorder.eta_changed", "backorder.cancelled",
    "backorder.substituted", "backorder.shipped", "backorder.goodwill_offered", "order.placed",
    "purchase_order.received", "stock.changed",
)
_BY_CLASS: dict[type[ev.Event], str] = {
    ev.BackorderCreated: "backorder.created", ev.BackorderAllocated: "backorder.allocated",
    ev.EtaChanged: "backorder.eta_changed", ev.BackorderCancelled: "backorder.cancelled",
    ev.BackorderSubstituted: "backorder.substituted", ev.BackorderShipped: "backorder.shipped",
    ev.GoodwillOffered: "backorder.goodwill_offered",
    ev.OrderPlaced: "order.placed", ev.StockReceived: "stock.changed", ev.StockAdjusted: "stock.changed",
}
SIGNATURE_HEADER, TIMESTAMP_HEADER = "X-Backorder-Signature", "X-Backorder-Timestamp"
EVENT_ID_HEADER, EVENT_TYPE_HEADER = "X-Backorder-Event-Id", "X-Backorder-Event"
DELIVERY_HEADER = "X-Backorder-Delivery"
USER_AGENT = "BackorderDesk-Webhooks/1"


def event_type(event: ev.Event) -> str | None:
    if isinstance(event, ev.PurchaseOrderChanged):
        return "purchase_order.received" if event.change == "received" else None
    return _BY_CLASS.get(type(event))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def payload(event: ev.Event, event_id: str, kind: str) -> str:
    data = event.to_dict()
    data.pop("kind", None)
    occurred_at = data.pop("occurred_at", None)
    body = {"id": event_id, "type": kind, "occurredAt": occurred_at,
            "data": {_camel(k): v for k, v in data.items()}}
    return json.dumps(body, separators=(",", ":"), default=str, ensure_ascii=False)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, now: float | None = None,
           tolerance: float = 300) -> bool:
    """What a receiver does (and the tests): the signature matches and the timestamp is recent."""
    try:
        fresh = abs((now if now is not None else time.time()) - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


# -- where we may connect -------------------------------------------------------------------------
def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None:
        ip = ip.sixtofour
    return ip.is_global and not ip.is_multicast


class RefusedAddress(OSError):
    pass


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str, allow_private: bool) -> str:
    """The URL an endpoint may have, said as a typed error otherwise (names are resolved on every
    connection too: see GuardedBackend)."""
    url = url.strip()
    if len(url) > 2000:
        raise InvalidInput("a webhook URL is at most 2,000 characters", field="url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("a webhook URL must be http:// or https:// with a host", field="url")
    if parts.username or parts.password:
        raise InvalidInput("put no credentials in a webhook URL: deliveries are signed", field="url")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as error:
        raise InvalidInput("the webhook URL's port is not a number from 1 to 65535", field="url") from error
    if not allow_private:
        host = parts.hostname
        literal = _ip_literal(host)
        if (literal is not None and not public_address(literal)) or host.lower().rstrip(".") in (
                "localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
            raise InvalidInput("webhooks are not delivered to loopback, private or link-local addresses",
                               field="url")
    return url


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, refusing non-public addresses at connection time: the name is resolved
    here, every address checked, and the connection made to a checked address (TLS still verifies the
    name). A DNS answer that changes between a check and the connection cannot slip through."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 (httpcore's)
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port)
        if not self.allow_private:
            refused = [a for a in addresses if not public_address(a)]
            if refused:
                raise RefusedAddress(f"{host} resolves to a non-public address ({refused[0]}): not delivered")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        raise last or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("webhooks are not delivered to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


# -- recording, inside the domain transaction -----------------------------------------------------
class WebhookRecorder:
    """A before-commit hook: one delivery per committed event and endpoint subscribed to its type."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()

    async def __call__(self, conn: Any, events: Sequence[ev.Event]) -> None:
        # a receipt recorded as a range is told after its commit (`fan_out`), not read back in the receipt's time
        if not any(isinstance(e, ev.QueueChanged) or event_type(e) is not None for e in events):
            return
        endpoints = await store.subscribed_endpoints(conn)
        if endpoints:  # the bodies made as they are written: a long queue's receipt has 300k events
            # integrations are told per backorder, as always: a QueueChanged opened up into its events
            await store.record_deliveries(_deliveries(ev.expand(events), endpoints), self.clock.now(), conn)

    async def fan_out(self, conn: Any, served: ev.QueueServed, covered: Sequence[Covered] | None = None) -> None:
        """A receipt recorded as a range, after its commit (`domain.store.uow.FanOut`): a delivery per backorder event
        it stands for (of the backorders `covered`, a slice of whole customers; else of all, read back from the rows
        it covers) and subscribed endpoint, in the fan-out's transaction."""
        endpoints = await store.subscribed_endpoints(conn)
        if endpoints:
            # the per-backorder events from the covered rows, in order: each is a delivery (and a body) of its own
            events = covered_events(served, covered) if covered is not None else \
                await StoredServedRanges(conn).backorder_events(served)
            await store.record_deliveries(_deliveries(events, endpoints), self.clock.now(), conn)


def _deliveries(events: Iterable[ev.Event], endpoints: Sequence[tuple[str, tuple[str, ...]]]
                ) -> Iterator[tuple[str, str, str, str]]:
    for event in events:
        kind = event_type(event)
        if kind is None:
            continue
        wanted = [endpoint_id for endpoint_id, types in endpoints if kind in types]
        if wanted:
            event_id = "evt_" + new_id()
            body = payload(event, event_id, kind)
            for endpoint_id in wanted:
                yield endpoint_id, event_id, kind, body


# -- delivering -----------------------------------------------------------------------------------
class WebhookDispatcher:
    def __init__(self, settings: WebhookSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self._wake = asyncio.Event()
        self._pool: httpcore.AsyncConnectionPool | None = None

    def wake(self) -> None:
        self._wake.set()

    def _connections(self) -> httpcore.AsyncConnectionPool:
        if self._pool is None:
            self._pool = httpcore.AsyncConnectionPool(
                network_backend=GuardedBackend(self.settings.allow_private), max_connections=20, retries=0,
                # a connection per delivery: one the receiver closed while idle would fail the next delivery
                # without the receiver ever seeing it
                max_keepalive_connections=0)
        return self._pool

    async def run_forever(self, stop: asyncio.Event) -> None:
        try:
            await run_rounds(self.deliver_due, wake=self._wake, stop=stop, poll_seconds=self.settings.poll_seconds,
                             log=log, what="webhook dispatcher")
        finally:
            if self._pool is not None:
                await self._pool.aclose()
                self._pool = None

    async def deliver_due(self) -> int:
        now = self.clock.now()
        lease = timedelta(seconds=2 * self.settings.timeout_seconds + 30)
        async with transaction() as conn:
            claimed = await store.claim_due(now, self.settings.batch_size, lease, conn)
        if claimed:
            await asyncio.gather(*(self._deliver(d, e, secret) for d, e, secret in claimed))
        return len(claimed)

    async def _deliver(self, delivery: store.Delivery, endpoint: store.Endpoint, secret: str) -> None:
        bound = request_ids.bind(delivery.request_id)  # this delivery's log lines name the request behind it
        try:
            await self._attempt(delivery, endpoint, secret)
        finally:
            request_ids.unbind(bound)

    async def _attempt(self, delivery: store.Delivery, endpoint: store.Endpoint, secret: str) -> None:
        body = delivery.body.encode()
        # an attempt is one instant, when it was sent: its signed timestamp, its line in the log, the failing
        # streak and the backoff all count from it. Read after the answer, a slow receiver (or a clock moved
        # meanwhile) would date the attempt late and push its retry past the backoff it was given.
        sent_at = self.clock.now()
        timestamp = str(int(sent_at.timestamp()))
        headers = [("Content-Type", "application/json"), ("User-Agent", USER_AGENT),
                   (EVENT_ID_HEADER, delivery.event_id), (EVENT_TYPE_HEADER, delivery.event_type),
                   (DELIVERY_HEADER, delivery.id), (TIMESTAMP_HEADER, timestamp),
                   (SIGNATURE_HEADER, sign(secret, timestamp, body))]
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        timeout = self.settings.timeout_seconds
        try:
            async with asyncio.timeout(timeout + 1), self._connections().stream(
                    "POST", endpoint.url, headers=headers, content=body,
                    extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}},
            ) as response:  # the status is all we read: a receiver's endless body is not our business
                status_code = response.status
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}" + (" (redirects are not followed)" if 300 <= status_code < 400 else "")
        except RefusedAddress as refused:
            error = str(refused)
        except (httpcore.TimeoutException, TimeoutError):
            error = f"no answer within {timeout:g} s"
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, OSError) as failed:
            error = f"{type(failed).__name__}: {failed}"[:500]
        now = sent_at
        attempt = {"at": now.isoformat(), "status_code": status_code, "error": error,
                   "ms": round((time.perf_counter() - started) * 1000)}
        if error is None:
            await store.settle(delivery, attempt, status=store.DELIVERED, now=now)
            await store.endpoint_succeeded(endpoint.id)
            count_send("webhook", "sent")
            return
        log.warning("webhook %s (%s) to endpoint %s failed: %s", delivery.id, delivery.event_type, endpoint.id, error)
        if await store.endpoint_failed(endpoint.id, now, self.settings.disable_after):
            log.error("webhook endpoint %s disabled: it failed for %s without a success", endpoint.id,
                      self.settings.disable_after)
        if now - delivery.created_at >= self.settings.disable_after:
            await store.settle(delivery, attempt, status=store.DEAD, now=now)
            count_send("webhook", "dead")
            return
        backoff = min(self.settings.retry_max_seconds,
                      self.settings.retry_base_seconds * 2 ** max(0, delivery.attempts - 1))
        await store.settle(delivery, attempt, status=store.QUEUED, now=now,
                           next_attempt_at=now + timedelta(seconds=backoff * random.uniform(0.8, 1.2)))
        count_send("webhook", "retry")
