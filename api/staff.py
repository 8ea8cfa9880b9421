"""Agents' and admins' console sessions: an API token, sent once, exchanged for an HttpOnly cookie, so the
console page never holds the token. The session ends at sign-out, after `session_hours`, or when the token
is revoked; like the portal's, the cookie counts only on same-origin requests (checked by the app)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.context import PortalSession, Principal
from api.settings import Settings
from domain.store import portal as store
from domain.store.tokens import TokenInfo, token_info

STAFF_COOKIE = "bd_staff"


async def _session_open(token: str, now: datetime) -> bool:
    return await store.find_staff_session(token, now) is not None


async def staff_from_cookie(cookie: str | None, now: datetime) -> Principal | None:
    """The agent or admin whose console session the cookie names (None once it ended or its token was
    revoked). Websockets opened with it stop receiving updates once either happens."""
    if not cookie:
        return None
    session = await store.find_staff_session(cookie, now)
    if session is None:
        return None
    info = await token_info(session.api_token_id)
    if info is None:
        return None
    return _principal(info, cookie, session.expires_at)


def _principal(info: TokenInfo, cookie: str, expires_at: datetime) -> Principal:
    session = PortalSession.track(cookie, expires_at, _session_open)
    session.token_key = PortalSession.api_token_key(info.id)  # revoking the token ends this session's updates
    return Principal(role=info.role, name=info.name, session=session)


async def start_staff_session(info: TokenInfo, settings: Settings, now: datetime, request: Any,
                              response: Any) -> Principal:
    """Open a session for the token's holder and set its cookie on the response."""
    ttl = timedelta(hours=settings.session_hours)
    cookie = await store.start_staff_session(info.id, now, ttl)
    secure = request is not None and (
        request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https")
    response.set_cookie(STAFF_COOKIE, cookie, max_age=settings.session_hours * 3600, httponly=True, secure=secure,
                        samesite="strict", path="/")
    return _principal(info, cookie, now + ttl)


async def end_staff_session(request: Any, response: Any, now: datetime) -> None:
    """Sign-out: the session ends in the database and its live updates here stop at once."""
    cookie = request.cookies.get(STAFF_COOKIE) if request is not None else None
    if cookie:
        await store.end_staff_session(cookie, now)
        PortalSession.end(cookie)
    if response is not None:
        response.delete_cookie(STAFF_COOKIE, path="/")
