"""Committed domain events across processes through Redis pub/sub (the scale-out profile).

Same shape as `domain.bus.InProcessBus`: `publish` after commit, `subscribe(accept)` for a local stream.
Every process publishes to one channel and delivers what it hears there to its own subscribers, its own
events included, so all processes see the events in the same order. A small helper on `redis.asyncio`
rather than the `broadcaster` package, whose Redis backend hangs with redis-py 8.

Pub/sub is fire-and-forget: a process that is disconnected from Redis misses what was published meanwhile.
That is acceptable for what rides on it (live updates on open pages and dispatcher wake-ups): the
notifications themselves are rows in the transactional outbox, and a page that reconnects reads the
current state. The listener reconnects with backoff and logs what it missed the chance to hear.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from domain.bus import EventFilter, EventStream, InProcessBus, Listener
from domain.events import Event

log = logging.getLogger("backorder.bus")

DEFAULT_CHANNEL = "backorder:events"


class RedisBus:
    def __init__(self, url: str, *, channel: str = DEFAULT_CHANNEL, maxsize: int = 1000) -> None:
        self.url = url
        self.channel = channel
        self._local = InProcessBus(maxsize)
        self._redis: aioredis.Redis = aioredis.from_url(url, health_check_interval=30)
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._connected = False
        self.origin = f"{os.getpid()}:{id(self):x}"  # lets a process tell its own messages apart (stats)
        self.published = 0
        self.received = 0
        self.publish_failures = 0

    async def publish(self, events: Sequence[Event]) -> None:
        """Called after the transaction committed: a Redis hiccup must not fail the caller's use case."""
        if not events:
            return
        payload = json.dumps({"origin": self.origin, "events": [e.to_dict() for e in events]})
        try:
            await self._redis.publish(self.channel, payload)
            self.published += len(events)
        except (RedisError, OSError) as error:
            self.publish_failures += 1
            log.warning("could not publish %d event(s) to Redis (%s); live subscribers miss them", len(events), error)

    def subscribe(self, accept: EventFilter | None = None) -> EventStream:
        return self._local.subscribe(accept)

    def attach(self, listener: Listener) -> None:
        self._local.attach(listener)

    def detach(self, listener: Listener) -> None:
        self._local.detach(listener)

    @property
    def connected(self) -> bool:
        """Whether this process is subscribed to the channel right now (for health checks)."""
        return self._connected

    @property
    def subscribers(self) -> int:
        return self._local.subscribers

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="redis-bus")
            # subscribed before start() returns, so nothing published afterwards is missed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), 5)
            if not self._ready.is_set():
                log.warning("Redis at %s not reachable yet; live updates start once it is", _redact(self.url))

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._local.stop()
        await self._redis.aclose()

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._ready.set()
                self._connected = True
                delay = 0.1
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is not None and message.get("type") == "message":
                        self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self._connected = False
                log.warning("Redis subscription lost (%s); reconnecting in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _deliver(self, data: bytes | str) -> None:
        try:
            body: dict[str, Any] = json.loads(data)
            events = [Event.from_dict(e) for e in body["events"]]
        except (ValueError, KeyError, TypeError) as error:
            log.error("ignored a malformed message on %s: %s", self.channel, error)
            return
        self.received += len(events)
        self._local.deliver(events)


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
