"""Customer access to the portal, through the public GraphQL API: signed, expiring, single-use links
that become an HttpOnly session cookie; order number + email for one order; sign-out; the customer's
own account and notification preferences."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time as systime
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, time, timedelta
from typing import Any

import strawberry
from strawberry.types import Info

from api import types as gt
from api.context import Context, PortalSession, Principal
from api.permissions import HasAccount, IsAuthenticated, IsStaff
from api.schema import _own_order, _payload
from api.settings import Settings
from domain.customers import SUPPORTED_LANGUAGES, NotificationPreferences
from domain.errors import DomainError, ErrorCode, InvalidInput, PermissionDenied
from domain.model import check_email
from domain.store import notify as notify_store
from domain.store import portal as store
from domain.store import queries as q

log = logging.getLogger("backorder.portal")
Ctx = Info[Context, None]
COOKIE = "bd_session"
SAME_ANSWER = "If we know this address, we have sent it a sign-in link. It works once."
LinkSender = Callable[[str, str, datetime], Awaitable[None]]
_BACKGROUND: set[asyncio.Task[None]] = set()


def same_answer(link_minutes: int) -> str:
    """What anyone asking for a link is told, whether or not we know the address."""
    lifetime = f"{link_minutes} minute{'' if link_minutes == 1 else 's'}"
    return f"If we know this address, we have sent it a sign-in link. It works once, for {lifetime}."


async def log_link(email: str, url: str, expires_at: datetime) -> None:
    """Without email configured, the link is written to the log, clearly marked as not sent."""
    log.warning("NOT SENT (no email configured): portal link for %s, valid until %s: %s", email,
                expires_at.isoformat(timespec="minutes"), url)


# -- signed links -----------------------------------------------------------------------------
def _sign(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(key: bytes, link_id: str, expires_at: datetime) -> str:
    payload = f"{link_id}.{int(expires_at.timestamp())}"
    return f"{payload}.{_sign(key, payload)}"


def read_token(key: bytes, token: str) -> str:
    """The link id inside a token whose signature is good; LINK_INVALID otherwise."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise InvalidInput("this sign-in link is not valid", field="token", code=ErrorCode.LINK_INVALID)
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(key, payload), parts[2]):
        raise InvalidInput("this sign-in link is not valid", field="token", code=ErrorCode.LINK_INVALID)
    return parts[0]


class RateLimiter:
    """At most `limit` attempts per key in a sliding window (per process)."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit, self.window = limit, window_seconds
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        now = systime.monotonic()
        hits = self._hits[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True


ORDER_SIGN_IN_LIMIT = RateLimiter(10, 15 * 60)


async def issue_link(info: Ctx, email: str, order_id: str | None, created_by: str) -> tuple[str, datetime]:
    return await create_portal_link(info.context.settings, email, order_id, created_by,
                                    info.context.desk.clock.now())


async def create_portal_link(settings: Settings, email: str, order_id: str | None, created_by: str,
                             now: datetime) -> tuple[str, datetime]:
    """A signed, single-use sign-in link and when it expires."""
    link = await store.create_link(email, order_id, now, timedelta(minutes=settings.link_minutes), created_by)
    key = await store.signing_key()
    # the token rides after '#': browsers never send that part, so no access log or proxy ever records it
    url = f"{settings.public_url.rstrip('/')}/#token={make_token(key, link.id, link.expires_at)}"
    return url, link.expires_at


def _set_session_cookie(info: Ctx, token: str, max_age: int) -> None:
    request, response = info.context.request, info.context.response
    secure = request is not None and (
        request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https")
    response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, secure=secure, samesite="lax", path="/")


async def _start_session(info: Ctx, email: str, order_id: str | None) -> gt.Viewer:
    settings = info.context.settings
    now = info.context.desk.clock.now()
    ttl = timedelta(hours=settings.session_hours)
    token = await store.start_session(email, order_id, now, ttl)
    _set_session_cookie(info, token, settings.session_hours * 3600)
    session = PortalSession.track(token, now + ttl, _session_open)
    session.clock = info.context.desk.clock
    info.context.principal = Principal(role="customer", name=email, customer_email=email, order_id=order_id,
                                       session=session)
    return gt.Viewer(name=email, role="customer", customer_email=email)


async def _session_open(token: str, now: datetime) -> bool:
    return await store.find_session(token, now) is not None


async def customer_from_cookie(cookie: str | None, now: datetime) -> Principal | None:
    """The customer whose session the cookie names. The principal re-checks the session before each live
    update, so a websocket opened with it stops receiving them once the customer signs out or it expires."""
    if not cookie:
        return None
    session = await store.find_session(cookie, now)
    if session is None:
        return None
    return Principal(role="customer", name=session.email, customer_email=session.email, order_id=session.order_id,
                     session=PortalSession.track(cookie, session.expires_at, _session_open))


def _in_background(work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(work)
    _BACKGROUND.add(task)  # held until done: the loop keeps only weak references to tasks
    task.add_done_callback(_BACKGROUND.discard)


async def _send_link_if_known(settings: Settings, send: LinkSender, email: str, now: datetime) -> None:
    """Run after the answer: whether the address is known must not show in how long the answer took."""
    try:
        known = (await q.customers_by_email([email])).get(email)
        # at most 3 links per address per 15 minutes: a mailbox cannot be flooded through us
        if known is None or await store.recent_links(email, now - timedelta(minutes=15)) >= 3:
            return
        url, expires_at = await create_portal_link(settings, email, None, "customer request", now)
        await send(email, url, expires_at)
    except Exception:
        log.exception("could not send a requested portal link")


# -- GraphQL ----------------------------------------------------------------------------------
@strawberry.type
class Preferences:
    by_email: bool
    by_sms: bool
    phone: str | None
    quiet_hours_start: time | None = strawberry.field(description="Local time; no SMS from then...")
    quiet_hours_end: time | None = strawberry.field(description="...until then.")
    timezone: str = strawberry.field(description="IANA zone, e.g. Europe/London; dates are shown in it.")
    language: str

    @strawberry.field(description="The number replied STOP: no texts go to it until it replies START, whatever "
                                  "bySms says (a tick in a form is not consent to texts the phone refused).")
    async def sms_stopped(self) -> bool:
        return bool(self.phone) and await notify_store.sms_opted_out(self.phone or "")

    @staticmethod
    def of(p: NotificationPreferences) -> Preferences:
        return Preferences(by_email=p.by_email, by_sms=p.by_sms, phone=p.phone, quiet_hours_start=p.quiet_hours_start,
                           quiet_hours_end=p.quiet_hours_end, timezone=p.timezone, language=p.language)


@strawberry.type
class Account:
    email: str
    name: str
    preferences: Preferences


@strawberry.input
class RequestPortalLinkInput:
    email: str


@strawberry.input
class CustomerPortalLinkInput:
    email: str
    order_id: strawberry.ID | None = strawberry.field(default=None, description="Limit the link to one order.")


@strawberry.input
class RedeemPortalLinkInput:
    token: str


@strawberry.input
class SignInWithOrderInput:
    order_number: str
    email: str


@strawberry.input(description="Only the fields given change; null clears phone or quiet hours.")
class UpdateNotificationPreferencesInput:
    by_email: bool | None = strawberry.UNSET
    by_sms: bool | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    quiet_hours_start: time | None = strawberry.UNSET
    quiet_hours_end: time | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    language: str | None = strawberry.UNSET
    customer_email: str | None = strawberry.field(default=None, description="Agents: whose preferences.")


@strawberry.type
class RequestPortalLinkPayload:
    message: str = SAME_ANSWER
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerPortalLinkPayload:
    url: str | None = None
    expires_at: datetime | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SignInPayload:
    viewer: gt.Viewer | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SignOutPayload:
    ok: bool


@strawberry.type
class PreferencesPayload:
    preferences: Preferences | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PortalQuery:
    @strawberry.field(permission_classes=[IsAuthenticated, HasAccount],
                      description="The signed-in customer's account; not for a sign-in with an order number "
                                  "(error ACCOUNT_SIGN_IN_REQUIRED). Null for staff.")
    async def my_account(self, info: Ctx) -> Account | None:
        principal = info.context.require_principal()
        if principal.customer_email is None:
            return None
        customers = await q.customers_by_email([principal.customer_email])
        customer = customers.get(principal.customer_email)
        prefs = await store.get_preferences(principal.customer_email)
        return Account(email=principal.customer_email, name=customer.name if customer else "",
                       preferences=Preferences.of(prefs))

    @strawberry.field(permission_classes=[IsStaff])
    async def customer_preferences(self, info: Ctx, email: str) -> Preferences:
        return Preferences.of(await store.get_preferences(email.strip().lower()))

    @strawberry.field(description="Languages messages and the portal can use.")
    def supported_languages(self) -> list[str]:
        return list(SUPPORTED_LANGUAGES)


@strawberry.type
class PortalMutation:
    @strawberry.mutation(description="Email a sign-in link. The answer is the same whether or not we know the address.")
    async def request_portal_link(self, info: Ctx, input: RequestPortalLinkInput) -> RequestPortalLinkPayload:
        async def run() -> RequestPortalLinkPayload:
            email = check_email(input.email)
            context = info.context
            send: LinkSender = context.extras.get("send_portal_link", log_link)
            _in_background(_send_link_if_known(context.settings, send, email, context.desk.clock.now()))
            return RequestPortalLinkPayload(message=same_answer(info.context.settings.link_minutes))
        return await _payload(RequestPortalLinkPayload, run)

    @strawberry.mutation(permission_classes=[IsStaff],
                         description="A sign-in link for a customer, to read out or send (agents).")
    async def customer_portal_link(self, info: Ctx, input: CustomerPortalLinkInput) -> CustomerPortalLinkPayload:
        async def run() -> CustomerPortalLinkPayload:
            email = check_email(input.email)
            if email not in await q.customers_by_email([email]):
                raise InvalidInput(f"no customer with email {email}", field="email", code=ErrorCode.NOT_FOUND)
            order_id = None
            if input.order_id:
                order_id = await _own_order(info, input.order_id)
                order = (await q.orders_by_id([order_id]))[order_id]
                if order.customer.email != email:
                    raise InvalidInput("that order belongs to someone else", field="orderId")
            url, expires_at = await issue_link(info, email, order_id, info.context.require_principal().name)
            return CustomerPortalLinkPayload(url=url, expires_at=expires_at)
        return await _payload(CustomerPortalLinkPayload, run)

    @strawberry.mutation(description="Exchange a sign-in link for a session (cookie). Each link works once.")
    async def redeem_portal_link(self, info: Ctx, input: RedeemPortalLinkInput) -> SignInPayload:
        async def run() -> SignInPayload:
            link_id = read_token(await store.signing_key(), input.token)
            outcome, link = await store.use_link(link_id, info.context.desk.clock.now())
            if outcome == "expired":
                raise InvalidInput("this sign-in link has expired: ask for a new one", field="token",
                                   code=ErrorCode.LINK_EXPIRED)
            if outcome == "used":
                raise InvalidInput("this sign-in link has already been used: ask for a new one", field="token",
                                   code=ErrorCode.LINK_USED)
            if outcome != "ok" or link is None:
                raise InvalidInput("this sign-in link is not valid", field="token", code=ErrorCode.LINK_INVALID)
            return SignInPayload(viewer=await _start_session(info, link.email, link.order_id))
        return await _payload(SignInPayload, run)

    @strawberry.mutation(description="Open one order with its number and the email on it.")
    async def sign_in_with_order(self, info: Ctx, input: SignInWithOrderInput) -> SignInPayload:
        async def run() -> SignInPayload:
            request = info.context.request
            client = request.client.host if request is not None and request.client else "-"
            if not ORDER_SIGN_IN_LIMIT.allow(client):
                raise PermissionDenied("too many attempts: wait a few minutes", field="orderNumber",
                                       code=ErrorCode.RATE_LIMITED)
            email = check_email(input.email)
            order_id = await q.order_id_by_number(input.order_number)
            order = (await q.orders_by_id([order_id])).get(order_id) if order_id else None
            if order is None or not hmac.compare_digest(order.customer.email, email):
                raise InvalidInput("we could not find an order with that number and email", field="orderNumber",
                                   code=ErrorCode.NOT_FOUND)
            return SignInPayload(viewer=await _start_session(info, email, order.id))
        return await _payload(SignInPayload, run)

    @strawberry.mutation(description="End the portal session.")
    async def sign_out(self, info: Ctx) -> SignOutPayload:
        request, response = info.context.request, info.context.response
        cookie = request.cookies.get(COOKIE) if request is not None else None
        if cookie:
            await store.end_session(cookie, info.context.desk.clock.now())
            PortalSession.end(cookie)  # live updates on this process stop now; on others within a recheck
        response.delete_cookie(COOKIE, path="/")
        info.context.principal = None
        return SignOutPayload(ok=True)

    @strawberry.mutation(permission_classes=[IsAuthenticated, HasAccount],
                         description="How the customer is told: channels, quiet hours, time zone, language. "
                                     "Not for a sign-in with an order number (error ACCOUNT_SIGN_IN_REQUIRED).")
    async def update_notification_preferences(self, info: Ctx,
                                              input: UpdateNotificationPreferencesInput) -> PreferencesPayload:
        async def run() -> PreferencesPayload:
            principal = info.context.require_principal()
            if principal.is_staff:
                if not input.customer_email:
                    raise InvalidInput("say whose preferences", field="customerEmail")
                email = check_email(input.customer_email, "customerEmail")
            else:
                assert principal.customer_email is not None
                email = principal.customer_email
            prefs = await store.get_preferences(email)
            for name in ("by_email", "by_sms", "phone", "quiet_hours_start", "quiet_hours_end", "timezone",
                         "language"):
                value = getattr(input, name)
                if value is strawberry.UNSET:
                    continue
                if value is None and name in ("by_email", "by_sms", "timezone", "language"):
                    raise InvalidInput(f"{name} cannot be null", field=name)
                if isinstance(value, str):
                    value = value.strip() or None
                setattr(prefs, name, value)
            prefs.validate()
            await store.save_preferences(prefs)
            return PreferencesPayload(preferences=Preferences.of(prefs))
        return await _payload(PreferencesPayload, run)


__all__ = ["COOKIE", "PortalMutation", "PortalQuery", "customer_from_cookie", "DomainError"]
