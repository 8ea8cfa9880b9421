"""Every HTTP request marked as being served (`domain.store.turns`): on SQLite, a staged receipt's next chunk waits
for the requests in flight, so each of them waits behind one chunk at most, not one per statement it makes."""

from __future__ import annotations

from typing import Any

from domain.store import turns


class RequestTurns:
    """ASGI middleware: the HTTP request is in flight from its start (once its body is in, if it has one) to its
    response's end (a websocket is not: it
    lasts as long as its subscriptions)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not _has_body(scope):
            with turns.request():
                await self.app(scope, receive, send)
            return
        with turns.request(started=False) as served:  # served once its body is in, not while it trickles in

            async def receiving() -> Any:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    served.start()
                return message

            await self.app(scope, receiving, send)


def _has_body(scope: Any) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False
