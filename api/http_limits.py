"""Limits no anonymous client can talk its way past: the size of a request body (413 before it is read whole)
and the time a client may take to send its headers and its body (the connection is closed after that).

`BodyLimit` is ASGI middleware, so it holds under any server; the read timeouts need the server itself
(before the app runs there is no request to time), so `serve` and the tests run uvicorn with
`LimitedHttpToolsProtocol` through `server_config`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.settings import Settings
from api.websocket import LiveWebSocketProtocol

log = logging.getLogger("backorder")

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0


class BodyTooLarge(Exception):
    """The body went past the limit while the app was reading it."""


class BodyLimit:
    """Answers 413 to a body longer than `max_bytes`: at once when Content-Length says so, else as soon as
    the streamed (chunked) body passes the limit, so a 200 MB upload is never held in memory."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = f"Request body larger than {self.max_bytes} bytes".encode()
        # Connection: close, so the server stops reading the rest of the body instead of draining it
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with read deadlines: a client gets `header_timeout` seconds from the
    moment it connects (or starts its next request on a kept-alive connection) to finish its headers,
    and `body_timeout` seconds after that to finish its body; past either the connection is closed.
    uvicorn alone waits for ever, so 3,000 slow clients held 3,000 descriptors."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout = float(getattr(config, "header_timeout", DEFAULT_HEADER_TIMEOUT))
        self.body_timeout = float(getattr(config, "body_timeout", DEFAULT_BODY_TIMEOUT))
        self._read_deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._read_deadline = self.loop.call_later(seconds, self._too_slow, what)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _too_slow(self, what: str) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        log.info("closing a connection from %s: its %s took too long", self.client, what)
        if what == "headers":  # no request has started: the client may as well hear why
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_deadline is None:  # the next request on a kept-alive connection
            self._arm(self.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the websocket protocol takes the connection over, with its own pings
        super().handle_websocket_upgrade()


class ServerConfig(uvicorn.Config):
    """uvicorn's config with the read deadlines (picklable, for `serve --workers N`)."""

    def __init__(self, app: Any, *, header_timeout: float = DEFAULT_HEADER_TIMEOUT,
                 body_timeout: float = DEFAULT_BODY_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(app, http=LimitedHttpToolsProtocol, **kwargs)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout


def server_config(app: Any, settings: Settings, **kwargs: Any) -> ServerConfig:
    """How `serve` and the tests run uvicorn: the read deadlines, websocket messages no longer than a request
    body, websockets that take the live updates' ready-made frames (api/websocket.py), and X-Forwarded-For
    believed only from the proxies named in BACKORDER_TRUSTED_PROXIES (uvicorn
    alone believes any loopback peer, so every spoofed address got a fresh rate-limit bucket)."""
    proxies = list(settings.trusted_proxies)
    return ServerConfig(app, header_timeout=settings.header_timeout_seconds, body_timeout=settings.body_timeout_seconds,
                        ws_max_size=settings.max_body_bytes, ws=LiveWebSocketProtocol, ws_per_message_deflate=False,
                        proxy_headers=bool(proxies), forwarded_allow_ips=proxies or [], **kwargs)
