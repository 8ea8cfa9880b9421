"""Every HTTP request marked as being served (`domain.store.turns`): on SQLite, a staged receipt's next chunk waits
for the requests in flight, so each of them waits behind one chunk at most, not one per statement it makes."""

from __future__ import annotations

from typing import Any

from domain.store import turns


class RequestTurns:
    """ASGI middleware: the HTTP request is in flight from its start to its response's end (a websocket is not: it
    lasts as long as its subscriptions)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with turns.request():
            await self.app(scope, receive, send)
