"""Live updates fanned out by one task per process: each committed event is read, executed and encoded once for
every subscriber who sees it alike, and the same ready-made websocket frame is written to each of their sockets.

Before, every subscriber had its own pipeline (a queue, a task woken per event, strawberry's per-result stream
with its extension hooks, a `next` message built and encoded, starlette's and uvicorn's send path): ~110 us of
CPU per subscriber per event, so 5,000 subscribers took half a second of a core for one change
(bench/subscriptions.py). Now a subscription is a bus listener (`LiveSubscription.offer`, called in order for
each event as it is delivered) that decides, as before, whether its subscriber may see the event; the hub
(`LiveUpdates`) takes the events in order, reads what they show once, executes each subscriber's document once
per kind of reader (`group`: role, account, document, variables) and writes one frame per group and operation id
to each socket without awaiting it (`FrameSink`, offered by `api.websocket.LiveWebSocketProtocol`).

What each subscriber may see is decided per subscriber, as before: its filter, its principal's right to the
order, and its session (ended here, ended on another process, expired, or re-read when the last look is old).
A socket that does not read its updates is never waited for: once more than `buffer_bytes` are waiting in its
send buffer, or more than `backlog` events are waiting for it in the hub, it is closed with 1013 ("try again
later": the browser pages reconnect and read the current state) and the others carry on. Under a server that
offers no `FrameSink` (another ASGI server, the legacy graphql-ws protocol) each subscription falls back to
strawberry's own stream, fed the same shared update.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from graphql import GraphQLError
from websockets.frames import Frame, Opcode

from api import types as gt
from api.metrics import LIVE_SOCKETS_DROPPED
from domain import events as ev
from domain.store.served_ranges import StoredServedRanges

if TYPE_CHECKING:
    from api.context import Context, Principal
    from api.schema.subscriptions import BackorderUpdate, Views
    from domain.bus import EventBus

log = logging.getLogger("backorder.live")

FRAMES = "backorder.websocket.frames"  # the ASGI scope extension under which a server offers a FrameSink
SLOW = 1013  # RFC 6455 "try again later": the client reconnects and reads the current state
DEFAULT_BUFFER_BYTES = 1024 * 1024
DEFAULT_BACKLOG = 1000
BURST = 500  # events whose backorders (and customers' languages) are read in one query each


class FrameSink(Protocol):
    """A websocket that takes a frame already encoded, at once (api.websocket.LiveWebSocketProtocol)."""

    def write_frame(self, frame: bytes) -> bool:
        """Queued for sending; False when the socket is closing or closed."""

    def buffered(self) -> int:
        """Bytes written and not yet taken by the peer."""

    def drop(self, code: int, reason: str) -> None:
        """Close now with `code`, without waiting for the peer to read what is still buffered."""


class Operation:
    """Where a subscription's results go: the graphql-transport-ws operation id, and the socket's FrameSink."""

    __slots__ = ("id", "sink")

    def __init__(self, operation_id: str, sink: FrameSink | None) -> None:
        self.id, self.sink = operation_id, sink


# set by api.websocket's handler in each operation's own task, read by the subscription's resolver
CURRENT_OPERATION: ContextVar[Operation | None] = ContextVar("live_operation", default=None)
# set by api.schema.execution.PlainFieldsExecutionContext (in the same task) when it maps the source stream
CURRENT_EXECUTOR: ContextVar[Any] = ContextVar("live_executor", default=None)


class SessionOver(Exception):
    """The subscriber's session ended (signed out, revoked, expired): its subscription ends with an error."""


class Slow(Exception):
    """The subscriber's socket was closed: it did not keep up."""


class LiveSubscription:
    """One `backorderUpdates` subscription: its filter and principal, decided per event as it is delivered (the
    bus calls `offer` for each event, in order, in the publisher's call), and where its results go."""

    def __init__(self, hub: LiveUpdates, principal: Principal, context: Context, *, order_id: str | None,
                 sku: str | None, operation: Operation | None, executor: Any) -> None:
        self.hub, self.principal, self.context = hub, principal, context
        self.order_id, self.sku = order_id, sku
        self.operation, self.executor = operation, executor
        direct = operation is not None and operation.sink is not None and executor is not None
        self.sink: FrameSink | None = operation.sink if direct and operation is not None else None
        self.group: tuple[object, ...] = (principal.role, principal.has_account)
        if executor is not None:  # one execution per document and variables for each kind of reader
            variables = repr(sorted(executor.variable_values.coerced.items()))
            self.group = (*self.group, id(executor.operation), variables)
        self.queued = 0  # events waiting for it in the hub
        self.last_offered: ev.Event | None = None
        self.closed = False
        self.attached = False
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inbox: asyncio.Queue[BackorderUpdate] | None = None if self.sink else asyncio.Queue()

    def offer(self, event: ev.Event) -> None:
        if self.closed:
            return
        principal = self.principal
        if isinstance(event, ev.SessionEnded) and principal.session is not None \
                and principal.session.is_named_by(event):
            from api.context import PortalSession

            principal.session.ended = True  # ended on another process: so here, at once
            PortalSession.end(principal.session.key)
        if principal.session_ended():
            self.hub.enqueue(event, self)  # the hub ends the subscription, in its turn
        elif isinstance(event, ev.QueueChanged):  # each backorder's part is decided as the hub opens it up
            if (self.sku is None or event.sku == self.sku) and (
                    principal.is_staff or (principal.customer_email or "") in event.customers):
                self.hub.enqueue(event, self)
        elif isinstance(event, ev.QueueServed):  # whose backorders it covers is read once, by the hub
            if self.sku is None or event.sku == self.sku:
                self.hub.enqueue(event, self)
        elif isinstance(event, ev.BackorderEvent) and self.sees(event):
            self.hub.enqueue(event, self)

    def sees(self, event: ev.BackorderEvent) -> bool:
        principal = self.principal
        if not principal.is_staff and not gt.visible_to_customer(event):
            return False
        if self.order_id is not None and event.order_id != self.order_id:
            return False
        if self.sku is not None and event.sku != self.sku:
            return False
        return principal.can_see_order(event.order_id, event.customer_email)

    def end(self, error: BaseException | None) -> None:
        """No more updates: the stream ends (with `error`, if any) and the bus forgets it."""
        if self.closed:
            return
        self.closed = True
        if self.attached:
            self.attached = False
            self.hub.remove(self)
        if not self.ended.done():
            if error is None:
                self.ended.set_result(None)
            else:
                self.ended.set_exception(error)

    def send(self, frame: bytes) -> None:
        assert self.sink is not None
        if not self.sink.write_frame(frame):
            self.end(None)  # the socket is going: its handler ends the operation
        elif self.sink.buffered() > self.hub.buffer_bytes:
            self.drop(f"more than {self.hub.buffer_bytes} bytes of updates unread")

    def drop(self, why: str) -> None:
        """The socket cannot keep up: closed, so that it never holds the others up or grows without bound."""
        log.info("closing a live-update socket (%s)", why)
        LIVE_SOCKETS_DROPPED.inc()
        if self.sink is not None:
            self.sink.drop(SLOW, "too slow: reconnect and read the current state")
        self.end(Slow(why))

    async def stream(self) -> AsyncIterator[BackorderUpdate]:
        """The source stream strawberry maps: written to directly, it yields nothing and ends when the
        subscription does; else it yields the shared updates for strawberry to execute and send. A session that
        ended ends it with an error (then `complete`, from strawberry); a socket that is going (closed for being
        slow, or by the peer) is left to its handler, which cancels the operation as it shuts down."""
        self.hub.add(self)
        try:
            if self.inbox is not None:
                while not self.ended.done():
                    getting = asyncio.ensure_future(self.inbox.get())
                    await asyncio.wait({getting, self.ended}, return_when=asyncio.FIRST_COMPLETED)
                    if getting.done():
                        yield getting.result()
                    else:
                        getting.cancel()
            try:
                await self.ended
            except SessionOver as error:
                raise GraphQLError("Your session has ended: sign in again.",
                                   extensions={"code": "UNAUTHENTICATED"}) from error
            except Slow:
                pass
            await asyncio.Future()  # until the handler cancels the operation
        finally:
            self.end(None)


class LiveUpdates:
    """The hub: one per process (one per app), fed by every live subscription's `offer`."""

    def __init__(self, bus: EventBus, *, buffer_bytes: int = DEFAULT_BUFFER_BYTES,
                 backlog: int = DEFAULT_BACKLOG) -> None:
        self.bus = bus
        self.buffer_bytes, self.backlog = buffer_bytes, backlog
        self._pending: deque[tuple[ev.Event, list[LiveSubscription]]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending = False  # a burst is being read and sent
        self.subscriptions = 0

    @property
    def subscribers(self) -> int:
        return self.subscriptions

    @property
    def idle(self) -> bool:
        """Every update offered so far has been sent (or dropped): nothing waits and no burst is under way. What
        a test waits for before it counts what the updates cost, instead of a pause."""
        return not self._pending and not self._sending

    def add(self, subscription: LiveSubscription) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="live-updates")
        self.subscriptions += 1
        subscription.attached = True
        self.bus.attach(subscription)

    def remove(self, subscription: LiveSubscription) -> None:
        self.bus.detach(subscription)
        self.subscriptions -= 1

    def enqueue(self, event: ev.Event, subscription: LiveSubscription) -> None:
        """Called by the subscriptions as the bus delivers: the subscribers of one event arrive one after the
        other, so they are kept together, in the order of the events."""
        if subscription.queued >= self.backlog:
            subscription.drop(f"more than {self.backlog} updates waiting")
            return
        subscription.queued += 1
        last = self._pending[-1] if self._pending else None
        if last is not None and last[0] is event and subscription.last_offered is not event:
            last[1].append(subscription)
        else:
            self._pending.append((event, [subscription]))
        subscription.last_offered = event
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        from api.schema.subscriptions import Views

        while True:
            await self._wake.wait()
            self._wake.clear()
            self._sending = True
            try:
                while self._pending:
                    # what a burst of events shows is read together: its backorders and languages in one query each,
                    # and its documents executed side by side, so that their reads (history, substitutes...) are
                    # batched by one set of loaders; the frames still go out in the order of the events
                    burst = [self._pending[n] for n in range(min(len(self._pending), BURST))]
                    views, jobs = Views(), _Jobs()
                    try:
                        await views.read([e for e, _ in burst if isinstance(e, ev.BackorderEvent)], customers=any(
                            not s.principal.is_staff for _, subscriptions in burst for s in subscriptions))
                    except Exception:  # read again event by event below
                        log.exception("could not read a burst of live updates")
                    for _ in burst:
                        event, subscriptions = self._pending.popleft()
                        try:
                            await self._fan_out(event, subscriptions, views, jobs)
                        except Exception:  # one event's failure must not end the live updates of everyone
                            log.exception("could not send a live update for %s", event.kind)
                    await jobs.send()
            finally:
                self._sending = False

    async def _fan_out(self, event: ev.Event, subscriptions: list[LiveSubscription], views: Views,
                       jobs: _Jobs) -> None:
        live: list[LiveSubscription] = []
        for subscription in subscriptions:
            subscription.queued -= 1
            if subscription.closed:
                continue
            if subscription.principal.session_ended():
                subscription.end(SessionOver())
            else:
                live.append(subscription)
        if not live or not isinstance(event, ev.BackorderEvent | ev.QueueChanged | ev.QueueServed):
            return
        # a session whose last look is old is re-read before anything more is sent on it (once per session)
        principals = {id(s.principal.session): s.principal for s in live if s.principal.session is not None}
        confirmed = dict(zip(principals, await asyncio.gather(*(p.confirm_live() for p in principals.values())),
                             strict=True))
        for subscription in live:
            session = subscription.principal.session
            if session is not None and not confirmed[id(session)]:
                subscription.end(SessionOver())
        live = [s for s in live if not s.closed]
        if isinstance(event, ev.BackorderEvent):
            await self._send(event, live, views, jobs)
            return
        if isinstance(event, ev.QueueServed):
            event = await self._ranged(event, live)
            if event is None:
                return
        opened = self._opened(event, live)
        for start in range(0, len(opened), BURST):
            part = opened[start:start + BURST]
            await views.read([one for one, _ in part], customers=any(not s.principal.is_staff for s in live))
            for one, readers in part:
                await self._send(one, [s for s in readers if not s.closed], views, jobs)
            await jobs.send()

    @staticmethod
    async def _ranged(event: ev.QueueServed, live: list[LiveSubscription]) -> ev.QueueChanged | None:
        """A receipt recorded as a range, as the per-backorder events it stands for that these subscribers may
        see: one read for them all (every covered backorder when staff watch, else their customers' only), made
        into one QueueChanged as a long queue's change comes (from the covered rows: no event object per backorder
        until it is opened). None when none of theirs is covered."""
        customers = None if any(s.principal.is_staff for s in live) else \
            {s.principal.customer_email for s in live if s.principal.customer_email}
        if customers is not None and not customers:
            return None
        return await StoredServedRanges().queue_change(event, customers)

    def _opened(self, event: ev.QueueChanged,
                subscriptions: list[LiveSubscription]) -> list[tuple[ev.BackorderEvent, list[LiveSubscription]]]:
        """A long queue's change (QueueChanged) opened up into its per-backorder events, each with the subscribers
        who see it: all of them for staff, their own part for a customer. A subscriber who would be sent more
        than `backlog` of them is closed instead (1013: it reconnects and reads the queue as it now is); before,
        it was sent the last 1,000 and the rest were lost without a word."""
        everyone = event.expand()
        readers: list[list[LiveSubscription]] = [[] for _ in everyone]
        for subscription in subscriptions:
            principal = subscription.principal
            positions = range(len(everyone)) if principal.is_staff \
                else event.customers.get(principal.customer_email or "", ())
            seen = [n for n in positions if subscription.sees(everyone[n])]
            if len(seen) > self.backlog:
                subscription.drop(f"{len(seen)} updates at once, more than {self.backlog}")
                continue
            for n in seen:
                readers[n].append(subscription)
        return [(one, who) for one, who in zip(everyone, readers, strict=True) if who]

    async def _send(self, event: ev.BackorderEvent, subscriptions: list[LiveSubscription], views: Views,
                    jobs: _Jobs) -> None:
        from api.schema.subscriptions import shared_updates

        groups: dict[tuple[object, ...], list[LiveSubscription]] = {}
        for subscription in subscriptions:
            groups.setdefault(subscription.group, []).append(subscription)
        if not groups:
            return
        updates = await shared_updates(event, {(s[0].principal.role, s[0].principal.has_account)
                                               for s in groups.values()}, views)
        for members in groups.values():
            jobs.add(members, updates[(members[0].principal.role, members[0].principal.has_account)])


class _Jobs:
    """The updates of a burst, each for a group of subscribers who read it alike: executed side by side (one set of
    loaders for all, so that their reads are batched), then sent in the order they were added."""

    def __init__(self) -> None:
        self._jobs: list[tuple[list[LiveSubscription], BackorderUpdate]] = []

    def add(self, members: list[LiveSubscription], update: BackorderUpdate) -> None:
        self._jobs.append((members, update))

    async def send(self) -> None:
        from api.context import Loaders

        jobs, self._jobs = self._jobs, []
        if not jobs:
            return
        loaders = Loaders()  # the burst's reads, fresh: nothing from before it
        direct = [members[0] for members, _ in jobs if any(s.sink is not None for s in members)]
        for first in direct:
            first.context.loaders = loaders
        executed = iter(await asyncio.gather(*(_execute(members[0], update) for members, update in jobs
                                               if any(s.sink is not None for s in members)),
                                             return_exceptions=True))
        for members, update in jobs:
            for subscription in members:
                if subscription.inbox is not None and not subscription.closed:
                    subscription.inbox.put_nowait(update)
            if not any(s.sink is not None for s in members):
                continue
            payload = next(executed)
            if isinstance(payload, BaseException):
                log.error("could not execute a live update", exc_info=payload)
                continue
            frames: dict[str, bytes] = {}
            for subscription in members:
                if subscription.closed or subscription.sink is None:
                    continue
                assert subscription.operation is not None
                frame = frames.get(subscription.operation.id)
                if frame is None:
                    frame = frames[subscription.operation.id] = next_frame(subscription.operation.id, payload)
                subscription.send(frame)


async def _execute(subscription: LiveSubscription, update: BackorderUpdate) -> str:
    """The subscriber's document executed on the shared update (what a field shows depends only on the kind of
    reader, the same for the whole group), as the JSON of a `next` payload."""
    from api.schema.execution import payload_of

    result = subscription.executor.build_per_event_executor(update).execute_operation(False)
    if subscription.executor.is_awaitable(result):
        result = await result
    return json.dumps(payload_of(result, subscription.executor, subscription.context.settings), separators=(",", ":"))


def next_frame(operation_id: str, payload: str) -> bytes:
    """A graphql-transport-ws `next` message as one unmasked websocket text frame (a server's frames are not
    masked, and permessage-deflate is off: api.http_limits), the same bytes for every socket."""
    text = f'{{"id":{json.dumps(operation_id)},"type":"next","payload":{payload}}}'
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])  # type: ignore[no-any-return]
