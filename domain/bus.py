"""In-process fan-out of committed domain events (the embedded profile).

Each subscriber gets its own bounded queue; a subscriber that stops reading loses its oldest events
rather than slowing the writers down, and is told so (`EventStream.dropped`). A listener that needs no queue
of its own (the live updates, which fan each event out to thousands of sockets from one task) is `attach`ed
instead: its `offer` is called for each event as it is delivered. The Redis variant for several processes
implements the same `publish` / `subscribe` / `attach` shape.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from domain.events import Event

EventFilter = Callable[[Event], bool]


class Listener(Protocol):
    """Told of each event as it is delivered, in order; it must not block (it runs in the publisher's call)."""

    def offer(self, event: Event) -> None: ...


class EventStream:
    def __init__(self, bus: InProcessBus, accept: EventFilter | None, maxsize: int) -> None:
        self._bus = bus
        self._accept = accept
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if self._accept is not None and not self._accept(event):
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        self._bus._streams.discard(self)

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessBus:
    def __init__(self, maxsize: int = 1000) -> None:
        self._streams: set[Listener] = set()
        self._maxsize = maxsize
        self.published = 0

    async def publish(self, events: Sequence[Event]) -> None:
        self.deliver(events)

    def deliver(self, events: Sequence[Event]) -> None:
        for event in events:
            self.published += 1
            for stream in list(self._streams):
                stream.offer(event)

    def subscribe(self, accept: EventFilter | None = None) -> EventStream:
        stream = EventStream(self, accept, self._maxsize)
        self._streams.add(stream)
        return stream

    def attach(self, listener: Listener) -> None:
        self._streams.add(listener)

    def detach(self, listener: Listener) -> None:
        self._streams.discard(listener)

    @property
    def subscribers(self) -> int:
        return len(self._streams)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._streams.clear()


class EventBus(Protocol):
    """What the API and the dispatcher need of a bus: InProcessBus here, RedisBus across processes."""

    async def publish(self, events: Sequence[Event]) -> None: ...

    def subscribe(self, accept: EventFilter | None = None) -> EventStream: ...

    def attach(self, listener: Listener) -> None: ...

    def detach(self, listener: Listener) -> None: ...

    @property
    def subscribers(self) -> int: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
