"""Limits no anonymous client can talk its way past: the size of a request body (413 before it is read whole)
and the time a client may take to send its headers and its body (the connection is closed after that).

`BodyLimit` is ASGI middleware, so it holds under any server; the read timeouts need the server itself
(before the app runs there is no request to time), so `serve` and the tests run uvicorn with
`LimitedHttpToolsProtocol` through `server_config`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
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
# A refused body's sender gets this long (and this much more input, read and dropped) to read the answer
LINGER_SECONDS = 2.0
LINGER_BYTES = 8 * 1024 * 1024


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


class _LingeringTransport:
    """The socket transport as uvicorn's HTTP protocol sees it, except that `close()` while the request's
    body is still coming becomes a lingering close (`LimitedHttpToolsProtocol._linger`)."""

    def __init__(self, real: asyncio.Transport, protocol: LimitedHttpToolsProtocol) -> None:
        self.real = real
        self._protocol = weakref.ref(protocol)  # the protocol holds this: no cycle for the collector to find
        self.lingering = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def is_closing(self) -> bool:
        return self.lingering or self.real.is_closing()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.lingering:  # after the half-close an answer still being written (the app's, behind uvicorn's
            self.real.write(data)  # own 400) is dropped, as writes to a closing transport are

    def close(self) -> None:
        if self.lingering or self.real.is_closing():
            return
        protocol = self._protocol()
        if protocol is not None and protocol.body_unread():
            self.lingering = True
            protocol._linger()
        else:
            self.real.close()


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with read deadlines: a client gets `header_timeout` seconds from the
    moment it connects (or starts its next request on a kept-alive connection) to finish its headers,
    and `body_timeout` seconds after that to finish its body; past either the connection is closed.
    uvicorn alone waits for ever, so 3,000 slow clients held 3,000 descriptors.

    An answer given before the request's body is read whole (a 413 from `BodyLimit`) is followed by a
    lingering close, as nginx does: the server half-closes (its FIN after the answer), then reads and drops
    what the client still sends for up to `LINGER_SECONDS` and `LINGER_BYTES` before it closes. uvicorn
    closed at once with the body unread, so the kernel answered the client's next bytes with a reset, and a
    client still sending could lose the 413 it had been sent (the reset reached it first)."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout = float(getattr(config, "header_timeout", DEFAULT_HEADER_TIMEOUT))
        self.body_timeout = float(getattr(config, "body_timeout", DEFAULT_BODY_TIMEOUT))
        self._read_deadline: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._linger_left = 0
        self._body_ended = False
        self._idle = False  # the deadline armed is an idle connection's (an answer came before its request's body)

    def body_unread(self) -> bool:
        """Whether the current request's body is still (partly) on its way (counted here: uvicorn stops telling its
        cycle once the response is complete, so `cycle.more_body` stays on after an early answer)."""
        cycle = self.cycle
        return cycle is not None and not self._body_ended and not cycle.disconnected

    def _linger(self) -> None:
        self._disarm()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:  # an app still answering (uvicorn's 400 came first)
            cycle.disconnected = True  # is told the client is gone, as a close would tell it
            cycle.message_event.set()
        real = self._real_transport()
        self._linger_left = LINGER_BYTES
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, real.close)
        real.resume_reading()
        if real.can_write_eof():
            real.write_eof()  # after what is buffered, so the answer goes first

    def _real_transport(self) -> asyncio.Transport:
        transport = self.transport
        return transport.real if isinstance(transport, _LingeringTransport) else transport

    def data_received(self, data: bytes) -> None:
        if self._linger_timer is not None:  # a refused body's rest: dropped unparsed, up to a limit
            self._linger_left -= len(data)
            if self._linger_left <= 0:
                self._real_transport().close()
            return
        super().data_received(data)

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._idle = what == "idle"
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
        if what == "idle":  # nothing asked of it: no answer owed
            self._real_transport().close()
            return
        if what == "headers":  # no request has started: the client may as well hear why
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        self._real_transport().close()  # a client too slow gets no lingering

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_LingeringTransport(transport, self))  # type: ignore[arg-type]
        self._arm(self.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        super().connection_lost(exc)

    def eof_received(self) -> None:
        if self._linger_timer is not None:  # the client has stopped sending: the lingering is over
            self._real_transport().close()
        super().eof_received()

    def on_message_begin(self) -> None:
        self._body_ended = False
        super().on_message_begin()
        if self._read_deadline is None or self._idle:  # the next request on a kept-alive connection
            self._arm(self.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        self._body_ended = True
        super().on_message_complete()
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and not self.transport.is_closing():
            # answered before its body came: uvicorn armed its keep-alive timer at the answer and cancelled it when
            # the body arrived, so nothing would close the connection now; it is idle, and gets the headers' time
            self._arm(self.header_timeout, "idle")

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the websocket protocol takes the connection over, with its own pings
        self.transport = self._real_transport()  # and the socket's own transport, with its own close
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
