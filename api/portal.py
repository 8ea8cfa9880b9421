"""Customer access to the portal: signed, expiring, single-use links that become an HttpOnly session cookie;
sessions started, found and ended; the sign-in rate limit. Its GraphQL (sign-in, sign-out, the customer's own
account and notification preferences) is in `api.schema.portal`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from strawberry.types import Info

from api import types as gt
from api.context import Context, Loaders, PortalSession, Principal
from api.settings import Settings
from domain.store import current
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


# -- signed links (made and read in domain.store.portal: the dispatcher makes them again at send time) ---------
make_token = store.link_token
read_token = store.link_of_token


async def issue_link(info: Ctx, email: str, order_id: str | None, created_by: str) -> tuple[str, datetime]:
    return await create_portal_link(info.context.settings, email, order_id, created_by,
                                    info.context.desk.clock.now())


async def create_portal_link(settings: Settings, email: str, order_id: str | None, created_by: str,
                             now: datetime) -> tuple[str, datetime]:
    """A signed, single-use sign-in link and when it expires."""
    link = await store.create_link(email, order_id, now, timedelta(minutes=settings.link_minutes), created_by)
    key = await store.signing_key()
    url = store.sign_in_url(settings.public_url, store.link_token(key, link.id, link.expires_at))
    return url, link.expires_at


def _set_session_cookie(info: Ctx, token: str, max_age: int) -> None:
    request, response = info.context.request, info.context.response
    secure = request is not None and (
        request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https")
    response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, secure=secure, samesite="lax", path="/")


async def start_session(info: Ctx, email: str, order_id: str | None) -> gt.Viewer:
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


async def end_session(info: Ctx) -> None:
    """Sign out: the session ends in the database, its live updates here stop now, the cookie goes. The cookie
    is the context's: present only on requests from our own pages (signOut's caller checks them first)."""
    response = info.context.response
    cookie = info.context.session_cookie
    if cookie:
        await store.end_session(cookie, info.context.desk.clock.now())
        # live updates stop now, on this process and (through the bus) on every other
        await info.context.bus.publish([PortalSession.ended_event(cookie, info.context.desk.clock.now())])
    response.delete_cookie(COOKIE, path="/")
    info.context.principal = None


async def _session_open(token: str, now: datetime) -> bool:
    return await store.find_session(token, now) is not None


async def customer_from_cookie(cookie: str | None, now: datetime, loaders: Loaders | None = None,
                               asking: current.Asking | None = None) -> Principal | None:
    """The customer whose session the cookie names. The principal re-checks the session before each live
    update, so a websocket opened with it stops receiving them once the customer signs out or it expires.
    The same statement reads the customer and their preferences, primed into the request's `loaders`, and given
    `asking` (the first read of a query's snapshot) answers whether a receipt's range is pending."""
    if not cookie:
        return None
    session = await store.find_signed_in(cookie, now, asking)
    if session is None:
        return None
    if loaders is not None:
        loaders.signed_in(session)
    return Principal(role="customer", name=session.email, customer_email=session.email, order_id=session.order_id,
                     session=PortalSession.track(cookie, session.expires_at, _session_open))


def send_link_later(settings: Settings, send: LinkSender, email: str, now: datetime) -> None:
    """Send a requested link after the answer has gone (see `_send_link_if_known`)."""
    _in_background(_send_link_if_known(settings, send, email, now))


async def links_sent() -> None:
    """Returns once every requested link is sent or given up on (what a test waits for, not a silence)."""
    while _BACKGROUND:
        await asyncio.gather(*_BACKGROUND, return_exceptions=True)


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
