"""Tables and queries of outbound webhooks: the endpoints staff registered, and the deliveries (the webhook
outbox and its delivery log in one): a row per (event, endpoint), written in the same transaction as the change
that caused the event, claimed by a dispatcher (`FOR UPDATE SKIP LOCKED` on PostgreSQL), posted, and settled.

The body of a delivery is fixed when it is written, so every retry and redelivery sends the same bytes with
the same event id (receivers de-duplicate on it)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from domain.errors import NotFound
from domain.model import new_id
from domain.store import bulk, request_ids

QUEUED, SENDING, DELIVERED, FAILED, DEAD = "QUEUED", "SENDING", "DELIVERED", "FAILED", "DEAD"
UNSENT = (QUEUED, SENDING)
ATTEMPTS_KEPT = 25  # the delivery log keeps this many attempts a delivery (the first and the latest)


class WebhookEndpoint(Model):
    id = fields.CharField(pk=True, max_length=32)
    url = fields.CharField(max_length=2000)
    description = fields.CharField(max_length=500, default="")
    events = fields.JSONField(default=list)  # event types, e.g. ["backorder.allocated"]
    secret = fields.CharField(max_length=100)  # signs the deliveries; shown to staff once, at creation
    enabled = fields.BooleanField(default=True, db_index=True)
    disabled_reason = fields.CharField(max_length=300, null=True)
    failing_since = fields.DatetimeField(null=True)  # first failure since the last success
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "webhook_endpoints"


class WebhookDelivery(Model):
    id = fields.CharField(pk=True, max_length=32)
    endpoint_id = fields.CharField(max_length=32, db_index=True)
    event_id = fields.CharField(max_length=40, db_index=True)  # the same for every endpoint and every retry
    event_type = fields.CharField(max_length=40)
    body = fields.TextField()  # the JSON as signed and sent
    status = fields.CharField(max_length=12, default=QUEUED, db_index=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    claimed_until = fields.DatetimeField(null=True)
    last_status_code = fields.IntField(null=True)
    last_error = fields.TextField(null=True)
    attempt_log = fields.JSONField(default=list)  # [{"at", "status_code", "error", "ms"}]
    created_at = fields.DatetimeField()
    delivered_at = fields.DatetimeField(null=True)
    request_id = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "webhook_deliveries"


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    description: str
    events: tuple[str, ...]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    body: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    attempt_log: tuple[dict[str, Any], ...]
    created_at: datetime
    delivered_at: datetime | None
    request_id: str | None


def _endpoint(row: WebhookEndpoint) -> Endpoint:
    return Endpoint(row.id, row.url, row.description, tuple(row.events or ()), row.enabled, row.disabled_reason,
                    row.failing_since, row.created_at)


def _delivery(row: WebhookDelivery) -> Delivery:
    return Delivery(row.id, row.endpoint_id, row.event_id, row.event_type, row.body, row.status, row.attempts,
                    row.next_attempt_at, row.last_status_code, row.last_error, tuple(row.attempt_log or ()),
                    row.created_at, row.delivered_at, row.request_id)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# -- endpoints ----------------------------------------------------------------------------------
async def create_endpoint(url: str, events: Sequence[str], description: str, now: datetime) -> tuple[Endpoint, str]:
    secret = new_secret()
    row = await WebhookEndpoint.create(id=new_id(), url=url, events=list(events), description=description,
                                       secret=secret, created_at=now, updated_at=now)
    return _endpoint(row), secret


async def update_endpoint(endpoint_id: str, now: datetime, *, url: str | None = None,
                          events: Sequence[str] | None = None, description: str | None = None,
                          enabled: bool | None = None, rotate_secret: bool = False) -> tuple[Endpoint, str | None]:
    row = await WebhookEndpoint.get_or_none(id=endpoint_id)
    if row is None:
        raise NotFound("no webhook endpoint has this id", field="endpoint_id")
    if url is not None:
        row.url = url
    if events is not None:
        row.events = list(events)
    if description is not None:
        row.description = description
    if enabled is not None:
        row.enabled = enabled
        if enabled:  # switched back on: its failures so far no longer count
            row.disabled_reason, row.failing_since = None, None
    secret = None
    if rotate_secret:
        secret = row.secret = new_secret()
    row.updated_at = now
    await row.save()
    return _endpoint(row), secret


async def delete_endpoint(endpoint_id: str) -> bool:
    deleted = await WebhookEndpoint.filter(id=endpoint_id).delete()
    if deleted:
        await WebhookDelivery.filter(endpoint_id=endpoint_id, status__in=list(UNSENT)).update(
            status=FAILED, last_error="endpoint deleted", claimed_until=None)
    return bool(deleted)


async def list_endpoints() -> list[Endpoint]:
    return [_endpoint(r) for r in await WebhookEndpoint.all().order_by("created_at", "id")]


async def get_endpoint(endpoint_id: str) -> Endpoint | None:
    row = await WebhookEndpoint.get_or_none(id=endpoint_id)
    return _endpoint(row) if row else None


# -- the outbox, inside the domain transaction ----------------------------------------------------
async def subscribed_endpoints(conn: BaseDBAsyncClient) -> list[tuple[str, tuple[str, ...]]]:
    rows = await WebhookEndpoint.filter(enabled=True).using_db(conn).values_list("id", "events")
    return [(r[0], tuple(r[1] or ())) for r in rows]


async def record_deliveries(rows: Iterable[tuple[str, str, str, str]], now: datetime,
                            conn: BaseDBAsyncClient) -> int:
    """(endpoint id, event id, event type, body) each: one delivery, due now. Written a slice at a time, a few
    statements whatever their number (a receipt serving 100k backorders makes 300k events); `rows` may be a
    generator. Returns how many."""
    request_id = request_ids.request_id()
    return await bulk.insert_streamed(
        conn, "webhook_deliveries",
        ("id", "endpoint_id", "event_id", "event_type", "body", "status", "attempts", "next_attempt_at",
         "attempt_log", "created_at", "request_id"),
        ("text", "text", "text", "text", "text", "text", "int", "timestamptz", "jsonb", "timestamptz", "text"),
        ((new_id(), e, i, t, b, QUEUED, 0, now, "[]", now, request_id) for e, i, t, b in rows))


# -- dispatching --------------------------------------------------------------------------------
async def claim_due(now: datetime, limit: int, lease: timedelta,
                    conn: BaseDBAsyncClient) -> list[tuple[Delivery, Endpoint, str]]:
    """Due deliveries of enabled endpoints, leased to this dispatcher, with their endpoint and its secret. A
    lease that ran out (a crashed dispatcher) is taken again."""
    postgres = conn.capabilities.dialect == "postgres"
    found: list[WebhookDelivery] = []
    for query in (WebhookDelivery.filter(status=QUEUED, next_attempt_at__lte=now),
                  WebhookDelivery.filter(status=SENDING, claimed_until__lt=now)):
        query = query.order_by("next_attempt_at", "id").limit(limit - len(found)).using_db(conn)
        found += list(await (query.select_for_update(skip_locked=True) if postgres else query))
        if len(found) >= limit:
            break
    if not found:
        return []
    endpoints = {e.id: e for e in await WebhookEndpoint.filter(
        id__in=list({d.endpoint_id for d in found})).using_db(conn)}
    claimed = []
    for row in found:
        endpoint = endpoints.get(row.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            await WebhookDelivery.filter(id=row.id).using_db(conn).update(
                status=FAILED, claimed_until=None,
                last_error="endpoint deleted" if endpoint is None else "endpoint disabled")
            continue
        row.status, row.claimed_until, row.attempts = SENDING, now + lease, row.attempts + 1
        await WebhookDelivery.filter(id=row.id).using_db(conn).update(
            status=SENDING, claimed_until=row.claimed_until, attempts=row.attempts)
        claimed.append((_delivery(row), _endpoint(endpoint), endpoint.secret))
    return claimed


async def settle(delivery: Delivery, attempt: dict[str, Any], *, status: str, now: datetime,
                 next_attempt_at: datetime | None = None) -> None:
    """Record one attempt in the delivery log and where the delivery stands."""
    log = list(delivery.attempt_log)
    log.append(attempt)
    if len(log) > ATTEMPTS_KEPT:
        log = [log[0], *log[-(ATTEMPTS_KEPT - 1):]]
    await WebhookDelivery.filter(id=delivery.id, status=SENDING).update(
        status=status, claimed_until=None, attempt_log=log, last_status_code=attempt.get("status_code"),
        last_error=attempt.get("error"), delivered_at=now if status == DELIVERED else None,
        next_attempt_at=next_attempt_at or delivery.next_attempt_at)


async def endpoint_succeeded(endpoint_id: str) -> None:
    await WebhookEndpoint.filter(id=endpoint_id).exclude(failing_since=None).update(failing_since=None)


async def endpoint_failed(endpoint_id: str, now: datetime, disable_after: timedelta) -> bool:
    """Note a failure; disable the endpoint when it has failed for `disable_after` without a success.
    Returns True when this failure disabled it."""
    await WebhookEndpoint.filter(id=endpoint_id, failing_since=None).update(failing_since=now)
    row = await WebhookEndpoint.get_or_none(id=endpoint_id)
    if row is None or not row.enabled or row.failing_since is None or now - row.failing_since < disable_after:
        return False
    hours = disable_after.total_seconds() / 3600
    reason = f"every delivery failed for {hours:g} hours (since {row.failing_since:%Y-%m-%d %H:%M} UTC)"
    disabled = await WebhookEndpoint.filter(id=endpoint_id, enabled=True).update(
        enabled=False, disabled_reason=reason, updated_at=now)
    await WebhookDelivery.filter(endpoint_id=endpoint_id, status=QUEUED).update(
        status=FAILED, last_error=f"endpoint disabled: {reason}")
    return bool(disabled)


async def redeliver(delivery_id: str, now: datetime) -> Delivery:
    """Send a delivery again (same event id, same body) as soon as a dispatcher is free."""
    row = await WebhookDelivery.get_or_none(id=delivery_id)
    if row is None:
        raise NotFound("no webhook delivery has this id", field="delivery_id")
    if row.status != SENDING:
        await WebhookDelivery.filter(id=delivery_id).exclude(status=SENDING).update(
            status=QUEUED, next_attempt_at=now, claimed_until=None)
        await row.refresh_from_db()
    return _delivery(row)


async def deliveries(endpoint_id: str, first: int, after: str | None,
                     statuses: Sequence[str] | None = None) -> tuple[list[Delivery], bool, int]:
    """Newest first (ids grow with time), `first` after the cursor's id."""
    query = WebhookDelivery.filter(endpoint_id=endpoint_id)
    if statuses:
        query = query.filter(status__in=list(statuses))
    total = await query.count()
    if after:
        query = query.filter(id__lt=after)
    rows = await query.order_by("-id").limit(first + 1)
    return [_delivery(r) for r in rows[:first]], len(rows) > first, total


async def get_delivery(delivery_id: str) -> Delivery | None:
    row = await WebhookDelivery.get_or_none(id=delivery_id)
    return _delivery(row) if row else None
