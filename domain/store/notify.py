"""Tables and queries of the notification outbox (over 400 lines on purpose: every statement on these tables
is here, so the locking rules below are in one place).

`notification_events` are written in the same transaction as the domain change (transactional
outbox); a pending `digests` row per customer says when their coalescing window closes; composing a
digest turns the events into `outbox_messages`, one per channel, which dispatchers claim (`FOR UPDATE
SKIP LOCKED` on PostgreSQL), send and mark. Back-in-stock subscriptions and SMS consent live here too.

Concurrency on PostgreSQL: the database keeps at most one pending digest per customer (a partial unique
index), so two first events make one digest; recording events inserts the missing ones yielding to any
pending one (`ON CONFLICT DO NOTHING`), in the order of the emails so two recorders never deadlock, and
locks the customers' pending digests (`FOR UPDATE`, so a dispatcher cannot close one before the new events
are committed: it waits, or the recorder waits and opens a new one). No lock per customer: a hot SKU's
receipt reaches tens of thousands of customers. A digest claims its events with one `UPDATE ... WHERE
digest_id IS NULL`, so no event is ever in two digests. On SQLite the single writer serialises all of this.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from domain.customers import PreferenceChange
from domain.errors import InvalidState, not_found
from domain.model import new_id
from domain.store import bulk, request_ids
from domain.store.bulk import is_postgres
from domain.store.db import transaction  # noqa: F401 - the dispatcher's transactions
from domain.store.lookups import exactly
from domain.store.models import StockLevel
from domain.store.portal import CustomerPreferences, record_changes

QUEUED, SENDING, SENT, LOGGED, FAILED, DEAD, SUPPRESSED = (
    "QUEUED", "SENDING", "SENT", "LOGGED", "FAILED", "DEAD", "SUPPRESSED")
# not sent, and why, so agents and KPIs can tell them apart: SUPPRESSED is the recipient's wish (STOP, an
# unsubscribe, texts turned off, a subscription stopped) or an address that bounced; OUTDATED: what it would have
# said was no longer true, or nothing was left to say, when it was due; MERGED: its news went out in another
# message to the same customer on the same channel in the same round (`last_error` names that message)
OUTDATED, MERGED = "OUTDATED", "MERGED"


# What the outbox keeps in place of a secret (a sign-in link's token, an unsubscribe token) that the message carries
# to its recipient: staff read these rows, and a secret is its owner's alone. The message is worded again, with the
# secrets, when it is sent (the dispatcher), and the row keeps that wording with them withheld.
WITHHELD = "[withheld]"


def withhold(text: str | None, secrets: Sequence[str]) -> str | None:
    """`text` with every one of `secrets` in it replaced by WITHHELD (the longest first: one may contain another)."""
    if text is None:
        return None
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, WITHHELD)
    return text


def _withheld_headers(headers: dict[str, str] | None, secrets: Sequence[str]) -> dict[str, str]:
    return {name: withhold(value, secrets) or "" for name, value in (headers or {}).items()}


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
    request_id = fields.CharField(max_length=64, null=True)  # the request whose change this is

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
    request_id = fields.CharField(max_length=255, null=True)  # the request(s) that caused it, space-separated
    # what it tells, so it is worded when it is sent: {"digests": [...], "backorders": [...]} (a digest and the
    # windows joined to it while it waited) or {"subscription": id} (back in stock); null: worded once, as queued
    about = fields.JSONField(null=True)

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
    returns_told = fields.IntField(default=0, db_default=0)  # returns to stock told of: the next one's key is new
    # what the subscriber reads, recorded when they subscribed (a number alone has none): every later text is in it
    language = fields.CharField(max_length=8, default="en", db_default="en")

    class Meta:
        table = "product_subscriptions"


class SmsConsent(Model):
    phone = fields.CharField(pk=True, max_length=20)
    opted_out = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField()
    source = fields.CharField(max_length=32)

    class Meta:
        table = "sms_consent"


UNSUBSCRIBED = "unsubscribed"  # EmailSuppression.reason of an opt-out; anything else is a bad address
# SmsConsent.source of an opt-out because the number cannot take texts ("permanent failure": older rows)
UNDELIVERABLE = ("undeliverable", "permanent failure")


class EmailSuppression(Model):
    """Addresses we must not email: unsubscribed (no updates, but a sign-in link asked for still goes), or
    a permanent failure (mailbox does not exist: nothing goes)."""

    email = fields.CharField(pk=True, max_length=254)
    reason = fields.CharField(max_length=200)
    created_at = fields.DatetimeField()

    class Meta:
        table = "email_suppressions"
        # as migration 0003 created it: tortoise takes a model's docstring as the table's comment, so without
        # this a reworded docstring asks for a migration that changes nothing but the comment
        table_description = ("Addresses we must not email: unsubscribed, or a permanent failure (mailbox does "
                             "not exist).")


# -- writing, inside the domain transaction ---------------------------------------------------
async def record_events(rows: Iterable[dict[str, Any]], now: datetime, window: timedelta,
                        conn: BaseDBAsyncClient | None = None, *, aside: bool = False) -> None:
    """Record customer-facing events and make sure each of their customers has a pending digest, in a few
    statements whatever the number of rows or customers: a receipt serving 100k backorders records
    100k-300k events for thousands of customers, and a statement per customer was most of its time. `rows`
    may be a generator: they are written a slice at a time (`aside`: each slice made in a worker thread,
    `bulk.insert_streamed`)."""
    db = conn or Digest._meta.db
    request_id = request_ids.request_id()
    emails: set[str] = set()

    def values() -> Iterator[tuple[Any, ...]]:
        for row in rows:
            emails.add(row["email"])
            yield (row["email"], row["backorder_id"], row["order_id"], row["sku"], row["kind"],
                   bulk.to_json(row["data"]), row["occurred_at"], request_id)

    await bulk.insert_streamed(
        db, "notification_events",
        ("email", "backorder_id", "order_id", "sku", "kind", "data", "occurred_at", "request_id"),
        ("text", "text", "text", "text", "text", "jsonb", "timestamptz", "text"), values(), aside=aside)
    if not emails:
        return
    ordered = sorted(emails)
    # PostgreSQL takes them all at once (as arrays; its row locks must be taken in one global order); SQLite at most
    # 999 parameters in a statement
    step = len(ordered) if is_postgres(db) else 900
    for start in range(0, len(ordered), step):
        await _open_digests(db, ordered[start:start + step], now, window)


async def _open_digests(db: BaseDBAsyncClient, emails: list[str], now: datetime, window: timedelta) -> None:
    """A pending digest for each of `emails` (sorted) that has none; on PostgreSQL each customer's pending
    digest stays locked until the transaction ends."""
    if not is_postgres(db):  # the single writer serialises recorders and dispatchers alike
        marks = ", ".join("?" * len(emails))
        pending = await db.execute_query_dict(
            f'SELECT "email" FROM "digests" WHERE "email" IN ({marks}) AND "status" = \'PENDING\'', emails)
        have = {row["email"] for row in pending}
        await bulk.insert_rows(
            db, "digests", ("id", "email", "status", "due_at", "created_at", "messages"),
            ("text", "text", "text", "timestamptz", "timestamptz", "int"),
            [(new_id(), email, "PENDING", now + window, now, 0) for email in emails if email not in have])
        return
    # The database keeps one pending digest per customer (a partial unique index), so opening one is an insert
    # that yields to a pending one, inserted or committed by anyone: no lock per customer (a hot SKU's receipt
    # for tens of thousands of customers ran PostgreSQL out of lock slots). Rows are inserted and locked in the
    # order of the emails, the same for every recorder, so two recorders never deadlock. FOR UPDATE then keeps
    # a dispatcher from closing these digests before our events are committed; one it closed meanwhile is no
    # longer PENDING when re-read, and the loop opens a new one for that customer.
    missing = emails
    while missing:
        await db.execute_query(
            'INSERT INTO "digests" ("id", "email", "status", "due_at", "created_at", "messages") '
            "SELECT v.id, v.email, 'PENDING', $3, $4, 0 FROM unnest($1::text[], $2::text[]) "
            'WITH ORDINALITY AS v(id, email, n) ORDER BY v.n '
            "ON CONFLICT (\"email\") WHERE \"status\" = 'PENDING' DO NOTHING",
            [[new_id() for _ in missing], missing, now + window, now])
        pending = await db.execute_query_dict(
            'SELECT "email" FROM "digests" WHERE "email" = ANY($1::text[]) AND "status" = \'PENDING\' '
            'ORDER BY "email" COLLATE "C" FOR UPDATE', [missing])  # locks in code point order (store.ordering)
        have = {row["email"] for row in pending}
        missing = [email for email in missing if email not in have]


async def enqueue(*, key: str, kind: str, channel: str, recipient: str, body_text: str, now: datetime,
                  customer_email: str | None = None, subject: str | None = None, body_html: str | None = None,
                  headers: dict[str, str] | None = None, send_after: datetime | None = None,
                  about: dict[str, Any] | None = None, secrets: Sequence[str] = (),
                  conn: BaseDBAsyncClient | None = None) -> bool:
    """Queue one message; a second message with the same key is ignored (returns False). `secrets`: what the
    words carry to the recipient alone; the row keeps them withheld (the message is worded again when sent)."""
    if await OutboxMessage.filter(idempotency_key=key).using_db(conn).exists():
        return False
    try:
        await OutboxMessage.create(
            id=new_id(), idempotency_key=key, kind=kind, channel=channel, recipient=recipient,
            customer_email=customer_email, subject=withhold(subject, secrets),
            body_text=withhold(body_text, secrets) or "", body_html=withhold(body_html, secrets),
            headers=_withheld_headers(headers, secrets), next_attempt_at=send_after or now, created_at=now,
            request_id=request_ids.request_id(), about=about, using_db=conn)
    except IntegrityError:
        return False
    return True


async def unsent_digest(email: str, channel: str, now: datetime, conn: BaseDBAsyncClient) -> OutboxMessage | None:
    """The customer's digest message on `channel` not yet claimed for sending (held for quiet hours, between
    tries, or due and not yet picked up), locked: a new window's news joins it, so what it says at send time is
    told once, not in two texts. A message already due counts too: a text held until 8:00 and a window closing at
    8:00:30 would otherwise both be due in the same round (it is worded again when it goes, so joining it never
    makes it say something stale)."""
    query = OutboxMessage.filter(customer_email=email, channel=channel, kind="DIGEST", status=QUEUED,
                                 about__not_isnull=True).order_by("next_attempt_at", "created_at")
    if conn.capabilities.dialect == "postgres":
        query = query.select_for_update()
    return await query.using_db(conn).first()


async def join_digest(message: OutboxMessage, about: dict[str, Any], subject: str | None, body_text: str,
                      body_html: str | None, conn: BaseDBAsyncClient, secrets: Sequence[str] = ()) -> bool:
    """Widen a waiting digest message to `about`, with the wording as it would read now (re-worded when it is
    sent; `secrets` withheld, see `enqueue`); False if a dispatcher claimed it meanwhile (the caller then queues a
    message of its own)."""
    return bool(await OutboxMessage.filter(id=message.id, status=QUEUED, attempts=message.attempts).using_db(
        conn).update(about=about, subject=withhold(subject, secrets), body_text=withhold(body_text, secrets),
                     body_html=withhold(body_html, secrets)))


async def merge_claimed(kept: OutboxMessage, merged: OutboxMessage) -> bool:
    """Two claimed digest messages of one customer on one channel: `merged`'s windows join `kept` (worded from all
    of them when it is sent) and `merged` is settled MERGED, in one transaction; False (nothing changed) when
    either claim was lost meanwhile."""
    async with transaction() as conn:
        query = OutboxMessage.filter(id__in=[kept.id, merged.id], status=SENDING).order_by("id")
        if conn.capabilities.dialect == "postgres":
            query = query.select_for_update()
        rows = {r.id: r for r in await query.using_db(conn)}
        current, other = rows.get(kept.id), rows.get(merged.id)
        if current is None or other is None or current.attempts != kept.attempts or other.attempts != merged.attempts:
            return False
        about = dict(current.about or {})
        for key in ("digests", "backorders"):
            about[key] = list(dict.fromkeys([*about.get(key, []), *(other.about or {}).get(key, [])]))
        about["backorders"] = sorted(about["backorders"])
        await OutboxMessage.filter(id=kept.id).using_db(conn).update(about=about)
        await OutboxMessage.filter(id=merged.id).using_db(conn).update(
            status=MERGED, claimed_until=None, last_error=f"told in message {kept.id}, due in the same round")
    kept.about = about
    merged.status = MERGED
    return True


async def events_of_digests(digest_ids: Sequence[str],
                            conn: BaseDBAsyncClient | None = None) -> list[NotificationEvent]:
    return list(await NotificationEvent.filter(digest_id__in=list(digest_ids)).order_by("id").using_db(conn))


async def about_of(message_id: str) -> dict[str, Any] | None:
    """What a claimed message is about, as committed now (a window may have joined it since it was read)."""
    rows = await OutboxMessage.filter(id=message_id).values_list("about", flat=True)
    return rows[0] if rows else None


async def abouts_of(message_ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
    """`about_of` for a batch of claimed messages, in one statement."""
    if not message_ids:
        return {}
    return dict(await OutboxMessage.filter(id__in=list(message_ids)).values_list("id", "about"))


async def reword(message: OutboxMessage, subject: str | None, body_text: str, body_html: str | None,
                 recipient: str, *, headers: dict[str, str] | None = None, secrets: Sequence[str] = ()) -> bool:
    """The words a claimed message goes with and where it goes, both as they are at send time (what agents then
    see is what was sent, and to whom, with `secrets` withheld). `message` itself, which is what is sent, keeps
    them; `headers`: its headers now (None: as they are)."""
    values: dict[str, Any] = {"subject": withhold(subject, secrets), "body_text": withhold(body_text, secrets),
                              "body_html": withhold(body_html, secrets), "recipient": recipient}
    if headers is not None:
        values["headers"] = _withheld_headers(headers, secrets)
    updated = await OutboxMessage.filter(id=message.id, status=SENDING, attempts=message.attempts).update(**values)
    if updated:
        message.subject, message.body_text, message.body_html = subject, body_text, body_html
        message.recipient = recipient
        if headers is not None:
            message.headers = headers
    return bool(updated)


async def available_to_order(sku: str, conn: BaseDBAsyncClient | None = None) -> int:
    """Units of `sku` on the shelf that nobody holds, over the safety stock: what "back in stock" means."""
    levels = await StockLevel.filter(sku=sku).using_db(conn).values("on_hand", "allocated", "safety_stock")
    return sum(max(0, lv["on_hand"] - lv["allocated"] - lv["safety_stock"]) for lv in levels)


async def rearm_subscription(subscription_id: str) -> bool:
    """A back-in-stock message dropped at send time (the stock had gone again): the subscriber waits for the next
    real return (unless they stopped meanwhile)."""
    return bool(await ProductSubscription.filter(id=subscription_id, status="NOTIFIED").update(
        status="ACTIVE", notified_at=None))


async def subscription_state(subscription_id: str) -> tuple[str, str] | None:
    """A subscription's status and the language its subscriber reads."""
    rows = await ProductSubscription.filter(id=subscription_id).values_list("status", "language")
    return (rows[0][0], rows[0][1]) if rows else None


async def number_language(phone: str) -> str | None:
    """The language a number's subscriber gave (or whose page they came from) when they last subscribed; None
    for a number that never subscribed."""
    rows = await ProductSubscription.filter(phone=phone).order_by("-created_at", "-id").limit(1).values_list(
        "language", flat=True)
    return rows[0] if rows else None


async def email_language(email: str) -> str | None:
    """The language an address's subscriber gave (or whose page they came from) when they last subscribed; None
    for an address that never subscribed."""
    rows = await ProductSubscription.filter(email=email).order_by("-created_at", "-id").limit(1).values_list(
        "language", flat=True)
    return rows[0] if rows else None


# -- dispatching ------------------------------------------------------------------------------
def _skip_locked(query: Any, conn: BaseDBAsyncClient) -> Any:
    if conn.capabilities.dialect == "postgres":
        return query.select_for_update(skip_locked=True)
    return query


async def due_digests(now: datetime, limit: int, conn: BaseDBAsyncClient) -> list[Digest]:
    query = Digest.filter(status="PENDING", due_at__lte=now).order_by("due_at").limit(limit).using_db(conn)
    return list(await _skip_locked(query, conn))


def request_ids_of(events: Sequence[NotificationEvent]) -> str | None:
    """The requests a digest's events came from, for its messages' `request_id`."""
    found = sorted({e.request_id for e in events if e.request_id})
    return " ".join(found)[:255] or None


async def take_events(email: str, digest_id: str, conn: BaseDBAsyncClient) -> list[NotificationEvent]:
    """The customer's events not yet in a digest, now in this one. Claimed in one UPDATE that re-checks
    `digest_id IS NULL` (on PostgreSQL after waiting for a concurrent claimer), so none is taken twice."""
    await NotificationEvent.filter(email=email, digest_id=None).using_db(conn).update(digest_id=digest_id)
    return list(await NotificationEvent.filter(digest_id=digest_id).order_by("id").using_db(conn))


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
            row.status, row.attempts, row.claimed_until = SENDING, row.attempts + 1, now + lease
            claimed.append(row)
    return claimed


async def renew_lease(message: OutboxMessage, until: datetime) -> bool:
    """Extend this dispatcher's claim; False if the claim was lost (the lease ran out and another
    dispatcher took the message over), in which case this one must not send it."""
    updated = await OutboxMessage.filter(id=message.id, status=SENDING, attempts=message.attempts).update(
        claimed_until=until)
    if updated:
        message.claimed_until = until
    return bool(updated)


async def settle(message: OutboxMessage, **values: Any) -> bool:
    """Record what became of a claimed message, unless the claim was lost meanwhile (taken over by another
    dispatcher, or a delivery report got there first)."""
    return bool(await OutboxMessage.filter(id=message.id, status=SENDING, attempts=message.attempts).update(
        **values))


async def mark(message_id: str, conn: BaseDBAsyncClient | None = None, **values: Any) -> None:
    await OutboxMessage.filter(id=message_id).using_db(conn).update(**values)


async def is_email_suppressed(email: str, *, transactional: bool = False) -> bool:
    """Whether to email this address. A transactional message the customer asked for (a sign-in link)
    still goes after an unsubscribe; nothing goes to an address that does not exist."""
    query = EmailSuppression.filter(email=email.lower())
    if transactional:
        query = query.exclude(reason=UNSUBSCRIBED)
    return await query.exists()


async def not_to_send(emails: Sequence[str], phones: Sequence[str]) -> tuple[dict[str, str], set[str]]:
    """For a batch of sends, in one statement each: the addresses suppressed (lower-cased, with the reason:
    `UNSUBSCRIBED` still lets a sign-in link through, see `is_email_suppressed`) and the numbers opted out."""
    suppressed = dict(await EmailSuppression.filter(email__in=sorted({e.lower() for e in emails})).values_list(
        "email", "reason")) if emails else {}
    opted_out = set(await SmsConsent.filter(phone__in=sorted(set(phones)), opted_out=True).values_list(
        "phone", flat=True)) if phones else set()
    return suppressed, opted_out


async def suppress_email(email: str, reason: str, now: datetime) -> None:
    existing = await EmailSuppression.get_or_none(email=email.lower())
    if existing is not None and existing.reason != UNSUBSCRIBED and reason == UNSUBSCRIBED:
        return  # a bad address stays recorded as one: an unsubscribe must not let sign-in links bounce
    await EmailSuppression.update_or_create(email=email.lower(), defaults={"reason": reason[:200], "created_at": now})


async def sms_opted_out(phone: str) -> bool:
    return await SmsConsent.exists(phone=phone, opted_out=True)


async def set_sms_consent(phone: str, opted_out: bool, now: datetime, source: str) -> None:
    await SmsConsent.update_or_create(phone=phone, defaults={"opted_out": opted_out, "updated_at": now,
                                                             "source": source[:32]})


async def record_sms_opt_out(phone: str, now: datetime, source: str) -> None:
    """The customer asked for no more texts (STOP, the unsubscribe link): the number is opted out and the
    preference the portal shows (by SMS) is off too, for every customer with this number."""
    await set_sms_consent(phone, True, now, source)
    stopped = await CustomerPreferences.filter(phone=phone, by_sms=True).values_list("email", flat=True)
    await CustomerPreferences.filter(phone=phone, by_sms=True).update(by_sms=False)
    # and their consent to texts at it is withdrawn: no agent turns texts back on for them (domain.customers)
    await CustomerPreferences.filter(sms_consent_phone=phone).update(sms_consent_at=None, sms_consent_phone=None)
    await record_changes([PreferenceChange(str(email), now, source, False, "by_sms", "on", "off")
                          for email in stopped])


async def record_sms_opt_in(phone: str, now: datetime, source: str) -> None:
    """START undoes STOP: when the number had been opted out at its owner's request, texts are turned
    back on for the customers with this number (lifting an opt-out for a bad number keeps preferences)."""
    consent = await SmsConsent.get_or_none(phone=phone)
    await set_sms_consent(phone, False, now, source)
    if consent is not None and consent.opted_out and not consent.source.startswith(UNDELIVERABLE):
        started = await CustomerPreferences.filter(phone=phone, by_sms=False).values_list("email", flat=True)
        # START from the number is its owner's own consent to texts at it (domain.customers.ChannelConsent)
        await CustomerPreferences.filter(phone=phone, by_sms=False).update(by_sms=True, sms_consent_at=now,
                                                                           sms_consent_phone=phone)
        await record_changes([PreferenceChange(str(email), now, source, False, "by_sms", "off", "on")
                              for email in started])


DELIVERY_FINAL = frozenset({"delivered", "undelivered", "failed", "read", "canceled"})
DELIVERY_FAILED = frozenset({"undelivered", "failed"})


async def record_delivery_report(provider_id: str, message_id: str | None, state: str, error: str | None,
                                 now: datetime) -> OutboxMessage | None:
    """A provider's report on a message it accepted. Found by the provider's id or, when the report beats
    our own record of the send, by the outbox id it carries. A failed delivery fails the message, so agents
    see it among the FAILED ones (and can retry it); a late intermediate state does not undo a final one."""
    row = await OutboxMessage.get_or_none(provider_id=provider_id) if provider_id else None
    if row is None and message_id:
        row = await OutboxMessage.get_or_none(id=message_id, provider_id=None)
    if row is None:
        return None
    if state not in DELIVERY_FINAL and row.delivery_status in DELIVERY_FINAL:
        return row
    values: dict[str, Any] = {"delivery_status": state[:24], "provider_id": provider_id or row.provider_id}
    if state in DELIVERY_FAILED:
        values.update(status=FAILED, last_error=error, claimed_until=None)
    await OutboxMessage.filter(id=row.id).update(**values)
    if state not in DELIVERY_FAILED and row.status == QUEUED:  # sent after all (our send timed out): no resend
        await OutboxMessage.filter(id=row.id, status=QUEUED).update(status=SENT, sent_at=now)
    return await OutboxMessage.get(id=row.id)


# -- what the dispatcher, the webhooks and the API write through (they import no tortoise) ----------------
Connection = BaseDBAsyncClient  # the transaction a use case hands its before-commit hooks (the outbox recorder)


async def close_digest(digest: Digest, messages: int, conn: BaseDBAsyncClient) -> None:
    digest.messages, digest.status = messages, "DONE"
    await digest.save(using_db=conn, update_fields=["status", "messages"])


async def note_sent_at(message_id: str, now: datetime) -> None:
    """When it was sent, on a message whose delivery report arrived before the send was marked."""
    await OutboxMessage.filter(id=message_id, sent_at=None).update(sent_at=now)


async def cancel_product_subscriptions(*, phone: str | None = None, email: str | None = None) -> int:
    """Back-in-stock subscriptions of a number that replied STOP, or of an address that unsubscribed."""
    match = {"phone": phone} if phone is not None else {"email": email}
    return await ProductSubscription.filter(**match, status__in=["PENDING", "ACTIVE"]).update(status="CANCELLED")


async def confirm_product_subscriptions(phone: str) -> int:
    """The number's pending subscriptions become active (it replied YES/START)."""
    return await ProductSubscription.filter(phone=phone, status="PENDING").update(status="ACTIVE")


@dataclass(frozen=True)
class OutboxEntry:
    """A message in the outbox as agents see it (the API maps this, not the row)."""

    id: str
    kind: str
    channel: str
    recipient: str
    customer_email: str | None
    subject: str | None
    body_text: str
    status: str
    delivery_status: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None

    @staticmethod
    def of(row: OutboxMessage) -> OutboxEntry:
        return OutboxEntry(id=row.id, kind=row.kind, channel=row.channel, recipient=row.recipient,
                           customer_email=row.customer_email, subject=row.subject, body_text=row.body_text,
                           status=row.status, delivery_status=row.delivery_status, attempts=row.attempts,
                           last_error=row.last_error, created_at=row.created_at,
                           next_attempt_at=row.next_attempt_at, sent_at=row.sent_at)


async def list_outbox(*, statuses: Sequence[str] = (), channel: str | None = None, customer_email: str | None = None,
                      first: int, before: str | None = None) -> tuple[list[OutboxEntry], bool, int]:
    """A page of the outbox, newest first: (entries, whether more follow, how many match in all)."""
    query: Any = OutboxMessage.all()
    if statuses:
        query = query.filter(status__in=list(statuses))
    if channel:
        query = query.filter(channel=channel)
    if customer_email:
        query = query.filter(exactly(OutboxMessage, "customer_email", customer_email))
    total = await query.count()
    if before:
        query = query.filter(id__lt=before)
    rows = list(await query.order_by("-id").limit(first + 1))
    return [OutboxEntry.of(r) for r in rows[:first]], len(rows) > first, total


async def outbox_entry(message_id: str) -> OutboxEntry | None:
    row = await OutboxMessage.get_or_none(id=message_id)
    return OutboxEntry.of(row) if row else None


async def requeue(message_id: str, now: datetime) -> OutboxEntry:
    """A failed or dead message queued again with its tries reset; NotFound or InvalidState otherwise."""
    again = await OutboxMessage.filter(id=message_id, status__in=[DEAD, FAILED]).update(
        status=QUEUED, attempts=0, next_attempt_at=now, last_error=None)
    row = await OutboxMessage.get_or_none(id=message_id)
    if row is None:
        raise not_found("notification", message_id)
    if not again:
        raise InvalidState(f"only failed or dead messages can be retried; this one is {row.status}")
    return OutboxEntry.of(row)


async def lock_opt_in_ceiling(conn: BaseDBAsyncClient) -> None:
    """Serialise the back-in-stock opt-in texts of every process until `conn`'s transaction ends, so that two
    requests cannot both see room under the hourly ceiling: on PostgreSQL a lock on one row (made once); on
    SQLite the transaction's own write lock does it (one process serves SQLite)."""
    if conn.capabilities.dialect != "postgres":
        return
    await conn.execute_query('INSERT INTO "app_secrets" ("name", "value") VALUES ($1, $2) ON CONFLICT DO NOTHING',
                             ["opt-in-ceiling", "lock"])
    await conn.execute_query('SELECT "name" FROM "app_secrets" WHERE "name" = $1 FOR UPDATE', ["opt-in-ceiling"])


async def opt_in_texts_since(since: datetime, conn: BaseDBAsyncClient) -> int:
    """Opt-in texts queued or sent since `since`: the texts the ceiling is about (not subscriptions, which a
    number that replied STOP also makes without a text)."""
    return await OutboxMessage.filter(kind="SMS_OPT_IN", created_at__gte=since).using_db(conn).count()
