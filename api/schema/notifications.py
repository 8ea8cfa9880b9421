"""GraphQL for notifications: agents see the outbox (and retry dead letters), offer substitutes;
anyone may ask to be told when a product is back in stock."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from api import types as gt
from api.ids import decode_id, encode_id, try_decode_id
from api.languages import negotiated_language
from api.permissions import IsStaff
from api.schema.common import Ctx, cursor, page_size, user_errors
from domain.errors import not_found
from domain.store import notify as store
from notifications import wording


@strawberry.enum
class NotificationStatus(Enum):
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    LOGGED = "LOGGED"
    FAILED = "FAILED"
    DEAD = "DEAD"
    SUPPRESSED = strawberry.enum_value("SUPPRESSED", description=(
        "Not sent: the recipient opted out (STOP, unsubscribe, texts or emails turned off) or the address bounced."))
    OUTDATED = strawberry.enum_value("OUTDATED", description=(
        "Not sent: what it would have said was no longer true, or nothing was left to say, when it was due."))
    MERGED = strawberry.enum_value("MERGED", description=(
        "Not sent on its own: its news went in another message to the same customer on the same channel, due "
        "in the same round (lastError names it)."))


@strawberry.enum
class NotificationChannel(Enum):
    EMAIL = "EMAIL"
    SMS = "SMS"


@strawberry.type(description="A message in the outbox: queued, sent, or given up on.")
class Notification:
    _entry: strawberry.Private[store.OutboxEntry]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Notification", self._entry.id))

    @strawberry.field
    def kind(self) -> str:
        return self._entry.kind

    @strawberry.field
    def channel(self) -> NotificationChannel:
        return NotificationChannel(self._entry.channel)

    @strawberry.field
    def recipient(self) -> str:
        return self._entry.recipient

    @strawberry.field
    def customer_email(self) -> str | None:
        return self._entry.customer_email

    @strawberry.field
    def subject(self) -> str | None:
        return self._entry.subject

    @strawberry.field
    def body(self) -> str:
        return self._entry.body_text

    @strawberry.field
    def status(self) -> NotificationStatus:
        return NotificationStatus(self._entry.status)

    @strawberry.field(description="Provider-reported delivery: delivered, undelivered, failed...")
    def delivery_status(self) -> str | None:
        return self._entry.delivery_status

    @strawberry.field
    def attempts(self) -> int:
        return self._entry.attempts

    @strawberry.field
    def last_error(self) -> str | None:
        return self._entry.last_error

    @strawberry.field
    def created_at(self) -> datetime:
        return self._entry.created_at

    @strawberry.field
    def next_attempt_at(self) -> datetime | None:
        return self._entry.next_attempt_at if self._entry.status == store.QUEUED else None

    @strawberry.field
    def sent_at(self) -> datetime | None:
        return self._entry.sent_at


@strawberry.input
class NotificationFilter:
    status: list[NotificationStatus] | None = None
    channel: NotificationChannel | None = None
    customer_email: str | None = None


@strawberry.input
class RetryNotificationInput:
    id: strawberry.ID


@strawberry.input
class SubscribeToProductInput:
    sku: str
    email: str | None = None
    phone: str | None = strawberry.field(default=None, description="SMS needs a reply YES to confirm.")
    language: str | None = strawberry.field(
        default=None, description="What the subscriber reads (one of supportedLanguages): every message to them is "
                                  "worded in it. Omitted: the request's Accept-Language, as the portal chooses.")


@strawberry.input
class OfferSubstituteInput:
    backorder_id: strawberry.ID
    substitute_sku: str


@strawberry.type
class NotificationPayload:
    notification: Notification | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.enum
class SubscriptionStatus(Enum):
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"


@strawberry.type
class SubscribeToProductPayload:
    status: SubscriptionStatus | None = None
    message: str | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OfferSubstitutePayload:
    backorder: gt.Backorder | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)




@strawberry.field(permission_classes=[IsStaff], description="The outbox, newest first.")
async def notifications(info: Ctx, filter: NotificationFilter | None = None, first: int | None = 50,
                        after: str | None = None) -> gt.Connection[Notification]:
    f = filter or NotificationFilter()
    entries, has_next, total = await store.list_outbox(
        statuses=[s.value for s in f.status or []], channel=f.channel.value if f.channel else None,
        customer_email=f.customer_email.strip().lower() if f.customer_email else None,
        first=page_size(first, info.context.settings), before=cursor(after))
    return gt.Connection.of([(e.id, Notification(_entry=e)) for e in entries], has_next, total, after=after)


@strawberry.field(permission_classes=[IsStaff])
async def notification(info: Ctx, id: strawberry.ID) -> Notification | None:
    key = try_decode_id("Notification", id)
    entry = await store.outbox_entry(key) if key else None
    return Notification(_entry=entry) if entry else None


@strawberry.mutation(permission_classes=[IsStaff], description="Send a failed or dead message again.")
@user_errors(NotificationPayload, fields={"notification_id": "id"})
async def retry_notification(info: Ctx, input: RetryNotificationInput) -> NotificationPayload:
    key = decode_id("Notification", input.id)
    if await store.outbox_entry(key) is None:
        raise not_found("notification", input.id)
    entry = await store.requeue(key, info.context.desk.clock.now())
    info.context.extras["notifications"].dispatcher.wake()
    return NotificationPayload(notification=Notification(_entry=entry))


@strawberry.mutation(description="Be told once when a product can be ordered again (no account needed).")
@user_errors(SubscribeToProductPayload)
async def subscribe_to_product(info: Ctx, input: SubscribeToProductInput) -> SubscribeToProductPayload:
    request = info.context.request
    language = input.language if input.language is not None else negotiated_language(
        request.headers.get("accept-language") if request is not None else None)
    status = await info.context.extras["notifications"].subscribe_to_product(input.sku, input.email,
                                                                            input.phone, language)
    # worded in the language the subscription was stored with (the one given, else the browser's)
    return SubscribeToProductPayload(status=SubscriptionStatus(status), message=wording.subscribed_message(status,
                                                                                                          language))


@strawberry.mutation(permission_classes=[IsStaff], description="Suggest a listed substitute to the customer.")
@user_errors(OfferSubstitutePayload)
async def offer_substitute(info: Ctx, input: OfferSubstituteInput) -> OfferSubstitutePayload:
    b = await info.context.desk.offer_substitute(decode_id("Backorder", input.backorder_id, "backorderId"),
                                                 input.substitute_sku, info.context.require_principal().name)
    return OfferSubstitutePayload(backorder=gt.Backorder.of(b))
