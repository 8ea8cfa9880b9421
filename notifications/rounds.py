"""The loop both outboxes run (customer messages and webhook deliveries): a round, again at once while there
was work, else a sleep until woken, stopped, or the poll interval passes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def run_rounds(round_: Callable[[], Awaitable[int]], *, wake: asyncio.Event, stop: asyncio.Event,
                     poll_seconds: float, log: logging.Logger, what: str) -> None:
    while not stop.is_set():
        try:
            busy = await round_()
        except Exception:  # a bad message or a database hiccup must not end the loop
            log.exception("%s round failed", what)
            busy = 0
        if busy:
            continue
        wake.clear()
        waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())}
        await asyncio.wait(waiters, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
