"""Customer access and preferences: sign-in links (single use), portal sessions, notification
preferences, and the service's signing key. Secrets are stored only as SHA-256 hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from domain import model as m
from domain.customers import ChannelConsent, NotificationPreferences, PreferenceChange
from domain.errors import ErrorCode, InvalidInput
from domain.model import new_id
from domain.preferences import SubstituteConsent
from domain.store import current, mapping, tokens


class CustomerPreferences(Model):
    email = fields.CharField(pk=True, max_length=254)
    by_email = fields.BooleanField(default=True)
    by_sms = fields.BooleanField(default=False)
    phone = fields.CharField(max_length=20, null=True)
    quiet_hours_start = fields.CharField(max_length=5, null=True)  # "HH:MM", local to `timezone`
    quiet_hours_end = fields.CharField(max_length=5, null=True)
    timezone = fields.CharField(max_length=64, default="UTC")
    language = fields.CharField(max_length=8, default="en")
    # the defaults a new backorder of this customer starts with (domain.preferences)
    cancel_if_not_by = fields.DateField(null=True)
    substitute_consent = fields.CharField(max_length=24, default="ASK", db_default="ASK")
    updated_at = fields.DatetimeField(auto_now=True)
    # the customer's own consent to each channel (domain.customers.ChannelConsent): null, none on record
    email_consent_at = fields.DatetimeField(null=True)
    sms_consent_at = fields.DatetimeField(null=True)
    sms_consent_phone = fields.CharField(max_length=20, null=True)

    class Meta:
        table = "customer_preferences"


class PreferenceChangeRecord(Model):
    """One field of a customer's notification preferences changed, by whom and when: append-only."""

    id = fields.IntField(pk=True)
    email = fields.CharField(max_length=254, db_index=True)
    at = fields.DatetimeField()
    by = fields.CharField(max_length=254)
    by_agent = fields.BooleanField()
    field = fields.CharField(max_length=32)
    old_value = fields.CharField(max_length=64, null=True)
    new_value = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "preference_changes"


class PortalLink(Model):
    id = fields.CharField(pk=True, max_length=32)
    email = fields.CharField(max_length=254, db_index=True)
    order_id = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_by = fields.CharField(max_length=100)

    class Meta:
        table = "portal_links"


class PortalSession(Model):
    id = fields.CharField(pk=True, max_length=32)
    token_hash = fields.CharField(max_length=64, unique=True)
    email = fields.CharField(max_length=254, db_index=True)
    order_id = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "portal_sessions"


class StaffSession(Model):
    """An agent's or admin's console session: a cookie in place of the API token it was opened with. It ends
    at sign-out, at expiry, or when that token is revoked."""

    id = fields.CharField(pk=True, max_length=32)
    token_hash = fields.CharField(max_length=64, unique=True)
    api_token_id = fields.CharField(max_length=32, db_index=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "staff_sessions"


class AppSecret(Model):
    name = fields.CharField(pk=True, max_length=32)
    value = fields.CharField(max_length=128)

    class Meta:
        table = "app_secrets"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def signing_key(name: str = "signing") -> bytes:
    """The shared signing key: made once, kept in the database so every process uses the same."""
    row = await AppSecret.get_or_none(name=name)
    if row is None:
        try:
            row = await AppSecret.create(name=name, value=secrets.token_hex(32))
        except IntegrityError:
            row = await AppSecret.get(name=name)
    return bytes.fromhex(row.value)


# -- sign-in links' tokens --------------------------------------------------------------------
# A link's token is made again from its id and expiry with the signing key whenever it is needed (the message is
# worded at send time), so nothing that agents can read (the outbox) has to keep it.
def _sign(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def link_token(key: bytes, link_id: str, expires_at: datetime) -> str:
    payload = f"{link_id}.{int(expires_at.timestamp())}"
    return f"{payload}.{_sign(key, payload)}"


def link_of_token(key: bytes, token: str) -> str:
    """The link id inside a token whose signature is good; LINK_INVALID otherwise."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise InvalidInput("this sign-in link is not valid", field="token", code=ErrorCode.LINK_INVALID)
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(key, payload), parts[2]):
        raise InvalidInput("this sign-in link is not valid", field="token", code=ErrorCode.LINK_INVALID)
    return parts[0]


def sign_in_url(public_url: str, token: str) -> str:
    """The link a customer follows. The token rides after '#': browsers never send that part, so no access log or
    proxy ever records it."""
    return f"{public_url.rstrip('/')}/#token={token}"


def token_of_sign_in_url(url: str) -> str:
    return url.partition("#token=")[2]


# -- preferences ------------------------------------------------------------------------------
async def get_preferences(email: str) -> NotificationPreferences:
    rows = await CustomerPreferences.filter(email=email).values()
    return preferences_of(email, rows[0] if rows else None)


async def preferences_by_email(emails: Sequence[str]) -> dict[str, NotificationPreferences]:
    """`get_preferences` for many customers in one statement (the defaults for those without a row)."""
    if not emails:
        return {}
    rows = {r["email"]: r for r in await CustomerPreferences.filter(email__in=list(set(emails))).values()}
    return {email: preferences_of(email, rows.get(email)) for email in emails}


def preferences_of(email: str, row: Mapping[str, Any] | None) -> NotificationPreferences:
    """A `customer_preferences` row as the domain's preferences (the defaults when there is none): the one mapping
    for every reader of the table (`get_preferences`, `find_signed_in`), typed values or SQLite's text alike."""
    if row is None:
        return NotificationPreferences(email=email)
    return NotificationPreferences(
        email=email, by_email=bool(row["by_email"]), by_sms=bool(row["by_sms"]), phone=row["phone"],
        quiet_hours_start=_time(row["quiet_hours_start"]), quiet_hours_end=_time(row["quiet_hours_end"]),
        timezone=row["timezone"], language=row["language"], cancel_if_not_by=mapping.as_date(row["cancel_if_not_by"]),
        substitutes=SubstituteConsent(row["substitute_consent"] or "ASK"),
    )


async def languages_by_email(emails: Sequence[str], conn: BaseDBAsyncClient | None = None) -> dict[str, str]:
    """Each customer's language (those who never chose one are absent: English)."""
    rows = await CustomerPreferences.filter(email__in=list(emails)).using_db(conn).values_list("email", "language")
    return {email: language for email, language in rows}


def _time(value: object) -> time | None:
    if value is None:
        return None
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    if isinstance(value, timedelta):  # some drivers return TIME as an interval
        seconds = int(value.total_seconds())
        return time(seconds // 3600, seconds % 3600 // 60)
    return time.fromisoformat(str(value))


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


async def ensure_preferences_row(email: str, conn: BaseDBAsyncClient) -> None:
    """PostgreSQL: the customer's row, with the defaults when they have none yet (as `get_preferences` reads)."""
    d = NotificationPreferences(email=email)
    await conn.execute_query(
        'INSERT INTO "customer_preferences" ("email", "by_email", "by_sms", "phone", "quiet_hours_start", '
        '"quiet_hours_end", "timezone", "language", "cancel_if_not_by", "substitute_consent", "updated_at") '
        "VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, NULL, $8, now()) ON CONFLICT (\"email\") DO NOTHING",
        [email, d.by_email, d.by_sms, _hhmm(d.quiet_hours_start), _hhmm(d.quiet_hours_end), d.timezone, d.language,
         d.substitutes.value])


async def consent_of(email: str) -> ChannelConsent:
    rows = await CustomerPreferences.filter(email=email).values("email_consent_at", "sms_consent_at",
                                                                "sms_consent_phone")
    return consent_from(rows[0]) if rows else ChannelConsent()


def consent_from(row: Mapping[str, Any]) -> ChannelConsent:
    return ChannelConsent(mapping.as_datetime(row["email_consent_at"]), mapping.as_datetime(row["sms_consent_at"]),
                          row["sms_consent_phone"])


async def save_consent(email: str, consent: ChannelConsent) -> None:
    await CustomerPreferences.filter(email=email).update(
        email_consent_at=consent.email_at, sms_consent_at=consent.sms_at, sms_consent_phone=consent.sms_phone)


async def unsubscribe_email(email: str, now: datetime, source: str) -> None:
    """The customer asked for no more email (the unsubscribe link): email off and their consent to it withdrawn."""
    prefs = await get_preferences(email)
    if prefs.by_email:
        prefs.by_email = False
        await save_preferences(prefs)  # a first row, for a customer who never saved any
        await record_changes([PreferenceChange(email, now, source, False, "by_email", "on", "off")])
    await CustomerPreferences.filter(email=email).update(email_consent_at=None)


async def record_changes(changes: Sequence[PreferenceChange]) -> None:
    if changes:
        await PreferenceChangeRecord.bulk_create([PreferenceChangeRecord(
            email=c.email, at=c.at, by=c.by[:254], by_agent=c.by_agent, field=c.field,
            old_value=None if c.old_value is None else c.old_value[:64],
            new_value=None if c.new_value is None else c.new_value[:64]) for c in changes])


async def preference_changes(email: str, limit: int = 50) -> list[PreferenceChange]:
    """The customer's latest preference changes, the latest written first."""
    rows = await PreferenceChangeRecord.filter(email=email).order_by("-id").limit(limit).values()
    return [PreferenceChange(r["email"], mapping.as_datetime(r["at"]) or r["at"], r["by"], bool(r["by_agent"]),
                             r["field"], r["old_value"], r["new_value"]) for r in rows]


async def save_preferences(prefs: NotificationPreferences) -> None:
    await CustomerPreferences.update_or_create(
        email=prefs.email,
        defaults={"by_email": prefs.by_email, "by_sms": prefs.by_sms, "phone": prefs.phone,
                  "quiet_hours_start": _hhmm(prefs.quiet_hours_start), "quiet_hours_end": _hhmm(prefs.quiet_hours_end),
                  "timezone": prefs.timezone, "language": prefs.language,
                  "cancel_if_not_by": prefs.cancel_if_not_by, "substitute_consent": prefs.substitutes.value},
    )


# -- links and sessions -----------------------------------------------------------------------
async def create_link(email: str, order_id: str | None, now: datetime, ttl: timedelta, created_by: str) -> PortalLink:
    return await PortalLink.create(id=new_id(), email=email, order_id=order_id, created_at=now,
                                   expires_at=now + ttl, created_by=created_by[:100])


async def recent_links(email: str, since: datetime) -> int:
    return await PortalLink.filter(email=email, created_at__gte=since).count()


async def use_link(link_id: str, now: datetime) -> tuple[str, PortalLink | None]:
    """Mark the link used, once. Returns ("ok" | "unknown" | "expired" | "used", link)."""
    link = await PortalLink.get_or_none(id=link_id)
    if link is None:
        return "unknown", None
    if link.used_at is not None:
        return "used", link
    if link.expires_at <= now:
        return "expired", link
    claimed = await PortalLink.filter(id=link_id, used_at=None).update(used_at=now)
    return ("ok", link) if claimed else ("used", link)


async def start_session(email: str, order_id: str | None, now: datetime, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    await PortalSession.create(id=new_id(), token_hash=_hash(token), email=email, order_id=order_id, created_at=now,
                               expires_at=now + ttl)
    return token


async def find_session(token: str, now: datetime) -> PortalSession | None:
    if not token or len(token) > 100:
        return None
    return await PortalSession.get_or_none(token_hash=_hash(token), ended_at=None, expires_at__gt=now)


@dataclass(frozen=True)
class SignedIn:
    """An open portal session with what nearly every request of the portal reads next: the customer (None when
    the address has no customer row) and their notification preferences (the defaults when never chosen)."""

    email: str
    order_id: str | None
    expires_at: datetime
    customer: m.Customer | None
    preferences: NotificationPreferences


async def find_signed_in(token: str, now: datetime, asking: current.Asking | None = None) -> SignedIn | None:
    """`find_session`, the customer and their preferences in one statement: the portal's page asks for all three
    on every request (bench/portal_query.py). Given `asking` (the first read of a request's snapshot), the same
    statement answers whether a receipt's range is pending (domain.store.current): one row whatever the session."""
    if not token or len(token) > 100:
        return None
    db = PortalSession._meta.db
    postgres = db.capabilities.dialect == "postgres"
    # every column of the preferences, as p_<column>: a column added to the table reaches `preferences_of`
    chosen = ", ".join(f'p."{column}" AS "p_{column}"' for column in CustomerPreferences._meta.db_fields)
    question = f', {asking.column} AS "pending"' if asking is not None else ""
    rows = await db.execute_query_dict(
        "SELECT s.email AS email, s.order_id AS order_id, s.expires_at AS expires_at, c.email AS customer, "
        f"c.name AS name, c.phone AS phone, c.tier AS tier, {chosen}{question} "
        'FROM (SELECT 1 AS "one") k LEFT JOIN "portal_sessions" s ON s.token_hash = {} AND s.ended_at IS NULL '
        'AND s.expires_at > {} LEFT JOIN "customers" c ON c.email = s.email '
        'LEFT JOIN "customer_preferences" p ON p.email = s.email'.format(
            *(("$1", "$2") if postgres else ("?", "?"))),
        [_hash(token), now])
    r = rows[0]
    if asking is not None:
        asking.answer(r["pending"])
    if r["email"] is None:
        return None
    email = r["email"]
    customer = mapping.customer(r) if r["customer"] else None
    chosen_row = {column[2:]: value for column, value in r.items() if column.startswith("p_")}
    preferences = preferences_of(email, chosen_row if chosen_row["email"] is not None else None)
    return SignedIn(email=email, order_id=r["order_id"], expires_at=mapping.as_datetime(r["expires_at"]),
                    customer=customer, preferences=preferences)


async def end_session(token: str, now: datetime) -> None:
    await PortalSession.filter(token_hash=_hash(token), ended_at=None).update(ended_at=now)


# -- staff (console) sessions -------------------------------------------------------------------
async def start_staff_session(api_token_id: str, now: datetime, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    await StaffSession.create(id=new_id(), token_hash=_hash(token), api_token_id=api_token_id, created_at=now,
                              expires_at=now + ttl)
    return token


async def find_staff_session(token: str, now: datetime) -> StaffSession | None:
    """The open session the cookie names, if its API token is still in use (revoking a token ends its
    console sessions too)."""
    if not token or len(token) > 100:
        return None
    session = await StaffSession.get_or_none(token_hash=_hash(token), ended_at=None, expires_at__gt=now)
    if session is None or not await tokens.token_is_active(session.api_token_id):
        return None
    return session


async def end_staff_session(token: str, now: datetime) -> None:
    await StaffSession.filter(token_hash=_hash(token), ended_at=None).update(ended_at=now)
