"""The websocket path under the live updates: uvicorn's websocket protocol offering the app a `FrameSink` (a frame
written at once, the bytes still unread, a close that does not wait), and strawberry's graphql-transport-ws handler
telling each operation its id and its socket's sink (api/live.py writes the same `next` frame to thousands of
sockets from one task, instead of one ASGI send per subscriber through starlette and uvicorn)."""

from __future__ import annotations

import socket
from asyncio import BaseTransport
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from api.live import CURRENT_OPERATION, FRAMES, FrameSink
from api.live import Operation as LiveOperation

SEND_BUFFER_BYTES = 64 * 1024
_STATE = ("close_sent", "disconnected", "handshake_complete", "initial_response", "transport", "queue", "conn",
          "read_paused", "close_timer", "close_timeout", "loop")


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol, whose accepted connections carry themselves as a FrameSink in the ASGI
    scope's extensions (FRAMES). Only when no extension was negotiated: a frame is then the same bytes for every
    socket (server frames are not masked).

    The kernel's send buffer of a websocket is fixed at SEND_BUFFER_BYTES (Linux doubles it for its bookkeeping):
    autotuned, it grows to 4 MiB per socket (net.ipv4.tcp_wmem) before anything waits in the transport, so a
    peer that stopped reading would hold that much before the live updates' limit on what waits unread
    (Settings.live_buffer_bytes) even began to count. Live updates are a few hundred bytes each."""

    def connection_made(self, transport: BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        super().connection_made(transport)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        # uvicorn's protocol state this class reads and writes: were a release to rename it, the live updates fall
        # back to strawberry's own stream (slower, still right) instead of failing
        if scope is not None and not self.conn.extensions and all(hasattr(self, name) for name in _STATE):
            scope["extensions"][FRAMES] = self

    def write_frame(self, frame: bytes) -> bool:
        if (self.close_sent or self.disconnected or not self.handshake_complete or self.initial_response is not None
                or self.transport.is_closing()):
            return False
        self.transport.write(frame)
        return True

    def buffered(self) -> int:
        return int(self.transport.get_write_buffer_size())

    def drop(self, code: int, reason: str) -> None:
        """As the app's own `websocket.close`, without waiting for the peer to take what is buffered first (it is
        not taking it); the connection is cut after close_timeout if the peer never answers the close."""
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)


class LiveTransportWSHandler(BaseGraphQLTransportWSHandler):  # type: ignore[type-arg]
    """strawberry's graphql-transport-ws handler; each operation's task knows its id and its socket's sink."""

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        scope = getattr(getattr(self.websocket, "ws", None), "scope", None) or {}
        sink: FrameSink | None = (scope.get("extensions") or {}).get(FRAMES)
        CURRENT_OPERATION.set(LiveOperation(operation.id, sink))
        await super().run_operation(operation)
