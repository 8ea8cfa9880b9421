"""Tables and queries of the notification outbox.

`notification_events` are written in the same transaction as the domain change (transactional
outbox); a pending `digests` row per customer says when their coalescing window closes; composing a
digest turns the events into `outbox_messages`, one per channel, which dispatchers claim (`FOR UPDATE
SKIP LOCKED` on PostgreSQL), send and mark. Back-in-stock subscriptions and SMS consent live here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from domain.model import new_id

QUEUED, SENDING, SENT, LOGGED, FAILED, DEAD, SUPPRESSED = (
    "QUEUED", "SENDING", "SENT", "LOGGED", "FAILED", "DEAD", "SUPPRESSED")


class NotificationEvent(Model):
    id = fields.BigIntField(pk=True)
    email = fields.CharField(max_length=254, db_index=True)
    backorder_id = fields.CharField(max_length=32)
    order_id = fields.CharField(max_length=32)
    sku = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=40)
    data = fields.JSONField()
    occurred_at = fields.DatetimeField()
    digest_id = fields.CharField(max_length=32, null=True, db_index=True)

    class Meta:
        table = "notification_events"


class Digest(Model):
    id = fields.CharField(pk=True, max_length=32)
    email = fields.CharField(max_length=254, db_index=True)
    status = fields.CharField(max_length=12, default="PENDING", db_index=True)
    due_at = fields.DatetimeField(db_index=True)
    created_at = fields.DatetimeField()
    messages = fields.IntField(default=0)

    class Meta:
        table = "digests"


class OutboxMessage(Model):
    id = fields.CharField(pk=True, max_length=32)
    idempotency_key = fields.CharField(max_length=128, unique=True)
    kind = fields.CharField(max_length=24)  # DIGEST | PORTAL_LINK | BACK_IN_STOCK | SMS_OPT_IN
    channel = fields.CharField(max_length=8)  # EMAIL | SMS
    recipient = fields.CharField(max_length=254)
    customer_email = fields.CharField(max_length=254, null=True, db_index=True)
    subject = fields.CharField(max_length=300, null=True)
    body_text = fields.TextField()
    body_html = fields.TextField(null=True)
    headers = fields.JSONField(default=dict)
    status = fields.CharField(max_length=12, default=QUEUED, db_index=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    claimed_until = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    provider_id = fields.CharField(max_length=128, null=True, db_index=True)
    delivery_status = fields.CharField(max_length=24, null=True)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_messages"


class ProductSubscription(Model):
    id = fields.CharField(pk=True, max_length=32)
    sku = fields.CharField(max_length=64, db_index=True)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=20, null=True)
    status = fields.CharField(max_length=12)  # PENDING (SMS awaiting YES) | ACTIVE | NOTIFIED | CANCELLED
    created_at = fields.DatetimeField()
    notified_at = fields.DatetimeField(null=True)

    class Meta:
        table = "product_subscriptions"


class SmsConsent(Model):
    phone = fields.CharField(pk=True, max_length=20)
    opted_out = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField()
    source = fields.CharField(max_length=32)

    class Meta:
        table = "sms_consent"


class EmailSuppression(Model):
    """Addresses we must not email: unsubscribed, or a permanent failure (mailbox does not exist)."""

    email = fields.CharField(pk=True, max_length=254)
    reason = fields.CharField(max_length=200)
    created_at = fields.DatetimeField()

    class Meta:
        table = "email_suppressions"


# -- writing, inside the domain transaction ---------------------------------------------------
async def record_events(rows: Sequence[dict[str, Any]], now: datetime, window: timedelta,
                        conn: BaseDBAsyncClient | None = None) -> None:
    if not rows:
        return
    await NotificationEvent.bulk_create([NotificationEvent(**row) for row in rows], using_db=conn)
    for email in sorted({row["email"] for row in rows}):
        pending = await Digest.filter(email=email, status="PENDING").using_db(conn).exists()
        if not pending:
            await Digest.create(id=new_id(), email=email, due_at=now + window, created_at=now, using_db=conn)


async def enqueue(*, key: str, kind: str, channel: str, recipient: str, body_text: str, now: datetime,
                  customer_email: str | None = None, subject: str | None = None, body_html: str | None = None,
                  headers: dict[str, str] | None = None, send_after: datetime | None = None,
                  conn: BaseDBAsyncClient | None = None) -> bool:
    """Queue one message; a second message with the same key is ignored (returns False)."""
    if await OutboxMessage.filter(idempotency_key=key).using_db(conn).exists():
        return False
    try:
        await OutboxMessage.create(
            id=new_id(), idempotency_key=key, kind=kind, channel=channel, recipient=recipient,
            customer_email=customer_email, subject=subject, body_text=body_text, body_html=body_html,
            headers=headers or {}, next_attempt_at=send_after or now, created_at=now, using_db=conn)
    except IntegrityError:
        return False
    return True


# -- dispatching ------------------------------------------------------------------------------
def _skip_locked(query: Any, conn: BaseDBAsyncClient) -> Any:
    if conn.capabilities.dialect == "postgres":
        return query.select_for_update(skip_locked=True)
    return query


async def due_digests(now: datetime, limit: int, conn: BaseDBAsyncClient) -> list[Digest]:
    query = Digest.filter(status="PENDING", due_at__lte=now).order_by("due_at").limit(limit).using_db(conn)
    return list(await _skip_locked(query, conn))


async def take_events(email: str, digest_id: str, conn: BaseDBAsyncClient) -> list[NotificationEvent]:
    events = list(await NotificationEvent.filter(email=email, digest_id=None).order_by("id").using_db(conn))
    if events:
        await NotificationEvent.filter(id__in=[e.id for e in events]).using_db(conn).update(digest_id=digest_id)
    return events


async def claim_messages(now: datetime, limit: int, lease: timedelta, conn: BaseDBAsyncClient) -> list[OutboxMessage]:
    """Due messages, leased to this dispatcher. A lease that runs out (a crashed sender) is reclaimed."""
    query = OutboxMessage.filter(status=QUEUED, next_attempt_at__lte=now)
    stale = OutboxMessage.filter(status=SENDING, claimed_until__lt=now)
    rows = list(await _skip_locked(query.order_by("next_attempt_at").limit(limit).using_db(conn), conn))
    if len(rows) < limit:
        rows += list(await _skip_locked(stale.order_by("claimed_until").limit(limit - len(rows)).using_db(conn), conn))
    claimed = []
    for row in rows:
        # compare-and-set: on SQLite (no SKIP LOCKED) this is what keeps two claimers apart
        updated = await OutboxMessage.filter(id=row.id, status=row.status, attempts=row.attempts).using_db(
            conn).update(status=SENDING, claimed_until=now + lease, attempts=row.attempts + 1)
        if updated:
            row.status, row.attempts = SENDING, row.attempts + 1
            claimed.append(row)
    return claimed


async def mark(message_id: str, conn: BaseDBAsyncClient | None = None, **values: Any) -> None:
    await OutboxMessage.filter(id=message_id).using_db(conn).update(**values)


async def is_email_suppressed(email: str) -> bool:
    return await EmailSuppression.exists(email=email.lower())


async def suppress_email(email: str, reason: str, now: datetime) -> None:
    await EmailSuppression.update_or_create(email=email.lower(), defaults={"reason": reason[:200], "created_at": now})


async def sms_opted_out(phone: str) -> bool:
    return await SmsConsent.exists(phone=phone, opted_out=True)


async def set_sms_consent(phone: str, opted_out: bool, now: datetime, source: str) -> None:
    await SmsConsent.update_or_create(phone=phone, defaults={"opted_out": opted_out, "updated_at": now,
                                                             "source": source})
