"""A request in flight, as the API marks each one (`domain.store.turns`): what the tests of background work that
hands over to the requests being served (a fold's chunks, the fan-out's read) place beside it."""

from __future__ import annotations

import asyncio

from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest
from domain.store import turns


async def served_order(desk: BackorderDesk, sku: str, log: list[str], in_flight: asyncio.Event) -> None:
    """A request: marked in flight (`in_flight` set), some Python of its own, then its transaction (one unit of `sku`,
    in stock); "order" logged once placed."""
    with turns.request():
        in_flight.set()
        await asyncio.sleep(0.05)  # sleep-ok: the request's own Python before its transaction, not a wait
        await desk.place_order(CustomerDetails("o@example.com"), Channel.ONLINE, [LineRequest(sku, 1)])
        log.append("order")
