"""GraphQL for outbound webhooks: staff register the endpoints the shop's other systems listen on, read each
endpoint's delivery log, and send a delivery again. What is delivered and how: notifications.outbound_webhooks."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from api import types as gt
from api.ids import decode_id, encode_id
from api.permissions import IsStaff
from api.schema.common import Ctx, cursor, page_size, user_errors
from domain.errors import InvalidInput, NotFound
from domain.store import webhooks as store
from notifications import outbound_webhooks as hooks


@strawberry.enum(description="What an endpoint is told about; the payload's `type` is the value in brackets.")
class WebhookEventType(Enum):
    BACKORDER_CREATED = "backorder.created"
    BACKORDER_ALLOCATED = "backorder.allocated"
    BACKORDER_ETA_CHANGED = "backorder.eta_changed"
    BACKORDER_CANCELLED = "backorder.cancelled"
    BACKORDER_SUBSTITUTED = "backorder.substituted"
    BACKORDER_SHIPPED = "backorder.shipped"
    BACKORDER_GOODWILL_OFFERED = "backorder.goodwill_offered"
    ORDER_PLACED = "order.placed"
    PURCHASE_ORDER_RECEIVED = "purchase_order.received"
    STOCK_CHANGED = "stock.changed"


@strawberry.enum
class WebhookDeliveryStatus(Enum):
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    DEAD = "DEAD"


@strawberry.type(description="Where the shop's other systems (store front, ERP) are told what happened.")
class WebhookEndpoint:
    _e: strawberry.Private[store.Endpoint]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("WebhookEndpoint", self._e.id))

    @strawberry.field
    def url(self) -> str:
        return self._e.url

    @strawberry.field
    def description(self) -> str:
        return self._e.description

    @strawberry.field
    def events(self) -> list[WebhookEventType]:
        return [WebhookEventType(e) for e in self._e.events if e in hooks.EVENT_TYPES]

    @strawberry.field(description="False once it has failed for a day without a success (see disabledReason); "
                                  "updateWebhookEndpoint(enabled: true) turns it back on.")
    def enabled(self) -> bool:
        return self._e.enabled

    @strawberry.field
    def disabled_reason(self) -> str | None:
        return self._e.disabled_reason

    @strawberry.field(description="Its first failure since its last success, if it is failing.")
    def failing_since(self) -> datetime | None:
        return self._e.failing_since

    @strawberry.field
    def created_at(self) -> datetime:
        return self._e.created_at


@strawberry.type(description="One try at delivering.")
class WebhookAttempt:
    at: datetime
    status_code: int | None = strawberry.field(description="The receiver's HTTP status, if it answered.")
    error: str | None
    duration_ms: int | None


@strawberry.type(description="An event for an endpoint, and how delivering it went.")
class WebhookDelivery:
    _d: strawberry.Private[store.Delivery]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("WebhookDelivery", self._d.id))

    @strawberry.field(description="The same for every try and every endpoint: receivers de-duplicate on it.")
    def event_id(self) -> str:
        return self._d.event_id

    @strawberry.field
    def event_type(self) -> WebhookEventType:
        return WebhookEventType(self._d.event_type)

    @strawberry.field
    def status(self) -> WebhookDeliveryStatus:
        return WebhookDeliveryStatus(self._d.status)

    @strawberry.field
    def attempts(self) -> int:
        return self._d.attempts

    @strawberry.field(description="When it is tried next, while QUEUED.")
    def next_attempt_at(self) -> datetime | None:
        return self._d.next_attempt_at if self._d.status == store.QUEUED else None

    @strawberry.field
    def last_status_code(self) -> int | None:
        return self._d.last_status_code

    @strawberry.field
    def last_error(self) -> str | None:
        return self._d.last_error

    @strawberry.field(description="The JSON body as sent (and signed).")
    def payload(self) -> str:
        return self._d.body

    @strawberry.field(description="The id of the request whose change caused it (X-Request-ID; in the logs).")
    def request_id(self) -> str | None:
        return self._d.request_id

    @strawberry.field
    def created_at(self) -> datetime:
        return self._d.created_at

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self._d.delivered_at

    @strawberry.field(description="The tries so far, oldest first (the first and the latest 24 are kept).")
    def attempt_log(self) -> list[WebhookAttempt]:
        return [WebhookAttempt(at=datetime.fromisoformat(a["at"]), status_code=a.get("status_code"),
                               error=a.get("error"), duration_ms=a.get("ms")) for a in self._d.attempt_log]


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="http(s); not a loopback, private or link-local address.")
    events: list[WebhookEventType]
    description: str = ""


@strawberry.input
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = None
    events: list[WebhookEventType] | None = None
    description: str | None = None
    enabled: bool | None = None
    rotate_secret: bool = strawberry.field(default=False, description="A new signing secret, in the payload once.")


@strawberry.input
class DeleteWebhookEndpointInput:
    id: strawberry.ID


@strawberry.input
class RedeliverWebhookInput:
    delivery_id: strawberry.ID


@strawberry.type
class CreateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(default=None, description=(
        "Signs every delivery: X-Backorder-Signature is sha256=HMAC-SHA256(secret, timestamp + '.' + body) "
        "in hex, timestamp being X-Backorder-Timestamp. Shown once: keep it safe."))
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UpdateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(default=None, description="The new secret, when rotateSecret was asked.")
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RedeliverWebhookPayload:
    delivery: WebhookDelivery | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


async def _checked_url(info: Ctx, url: str) -> str:
    """The URL's form, and where its name points now (checked again on every connection)."""
    allow_private = info.context.settings.webhooks.allow_private
    url = hooks.check_url(url, allow_private)
    if not allow_private:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        try:
            async with asyncio.timeout(3):
                addresses = await hooks.resolve(parts.hostname or "", parts.port or 443)
        except (OSError, TimeoutError):
            addresses = []  # not resolvable yet: each delivery checks where it connects
        if any(not hooks.public_address(a) for a in addresses):
            raise InvalidInput("this URL's host resolves to a loopback, private or link-local address", field="url")
    return url


def _events(events: list[WebhookEventType]) -> list[str]:
    if not events:
        raise InvalidInput("choose at least one event type", field="events")
    return list(dict.fromkeys(e.value for e in events))


def _description(text: str) -> str:
    text = text.strip()
    if len(text) > 500:
        raise InvalidInput("a description is at most 500 characters", field="description")
    return text


@strawberry.field(permission_classes=[IsStaff], description="Registered webhook endpoints, oldest first.")
async def webhook_endpoints(info: Ctx) -> list[WebhookEndpoint]:
    return [WebhookEndpoint(_e=e) for e in await store.list_endpoints()]


@strawberry.field(permission_classes=[IsStaff], description="An endpoint's deliveries, newest first.")
async def webhook_deliveries(info: Ctx, endpoint_id: strawberry.ID,
                             status: list[WebhookDeliveryStatus] | None = None, first: int | None = None,
                             after: str | None = None) -> gt.Connection[WebhookDelivery]:
    key = decode_id("WebhookEndpoint", endpoint_id, field="endpointId")
    size = page_size(first, info.context.settings)
    rows, more, total = await store.deliveries(key, size, cursor(after), [s.value for s in status or ()])
    pairs: list[tuple[str, Any]] = [(d.id, WebhookDelivery(_d=d)) for d in rows]
    return gt.Connection.of(pairs, more, total, after=after)


@strawberry.mutation(permission_classes=[IsStaff], description="Register an endpoint; its signing secret is in "
                                                                "the payload, once.")
@user_errors(CreateWebhookEndpointPayload)
async def create_webhook_endpoint(info: Ctx, input: CreateWebhookEndpointInput) -> CreateWebhookEndpointPayload:
    url = await _checked_url(info, input.url)
    endpoint, secret = await store.create_endpoint(url, _events(input.events), _description(input.description),
                                                   info.context.desk.clock.now())
    return CreateWebhookEndpointPayload(webhook_endpoint=WebhookEndpoint(_e=endpoint), secret=secret)


@strawberry.mutation(permission_classes=[IsStaff])
@user_errors(UpdateWebhookEndpointPayload, fields={"endpoint_id": "id"})
async def update_webhook_endpoint(info: Ctx, input: UpdateWebhookEndpointInput) -> UpdateWebhookEndpointPayload:
    key = decode_id("WebhookEndpoint", input.id)
    url = await _checked_url(info, input.url) if input.url is not None else None
    events = _events(input.events) if input.events is not None else None
    description = _description(input.description) if input.description is not None else None
    endpoint, secret = await store.update_endpoint(key, info.context.desk.clock.now(), url=url, events=events,
                                                   description=description, enabled=input.enabled,
                                                   rotate_secret=input.rotate_secret)
    return UpdateWebhookEndpointPayload(webhook_endpoint=WebhookEndpoint(_e=endpoint), secret=secret)


@strawberry.mutation(permission_classes=[IsStaff], description="Deliveries not yet made are dropped.")
@user_errors(DeleteWebhookEndpointPayload, fields={"endpoint_id": "id"})
async def delete_webhook_endpoint(info: Ctx, input: DeleteWebhookEndpointInput) -> DeleteWebhookEndpointPayload:
    if not await store.delete_endpoint(decode_id("WebhookEndpoint", input.id)):
        raise NotFound("no webhook endpoint has this id", field="id")
    return DeleteWebhookEndpointPayload(deleted_id=input.id)


@strawberry.mutation(permission_classes=[IsStaff], description="Send a delivery again, same event id and body.")
@user_errors(RedeliverWebhookPayload)
async def redeliver_webhook(info: Ctx, input: RedeliverWebhookInput) -> RedeliverWebhookPayload:
    key = decode_id("WebhookDelivery", input.delivery_id, field="deliveryId")
    delivery = await store.redeliver(key, info.context.desk.clock.now())
    if info.context.extras.get("webhooks") is not None:
        info.context.extras["webhooks"].wake()
    return RedeliverWebhookPayload(delivery=WebhookDelivery(_d=delivery))

