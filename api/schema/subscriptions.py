"""The `backorderUpdates` subscription, fed by committed domain events: each subscriber's filter and
visibility decided per event, and the update an event makes read once for all the subscribers it reaches."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from datetime import date, datetime
from enum import Enum
from typing import TypeVar

import strawberry
from graphql import GraphQLError

from api import types as gt
from api.context import Loaders, PortalSession
from api.ids import decode_id
from api.permissions import IsAuthenticated
from api.schema.common import Ctx
from domain import events as ev
from domain import model as m
from domain.bus import EventStream
from domain.store import queries as q
from domain.store.portal import languages_by_email

R = TypeVar("R")


@strawberry.input
class BackorderUpdatesFilter:
    order_id: strawberry.ID | None = None
    sku: str | None = None


@strawberry.enum
class BackorderUpdateKind(Enum):
    CREATED = "BackorderCreated"
    ALLOCATED = "BackorderAllocated"
    STATUS_CHANGED = "BackorderStatusChanged"
    ETA_CHANGED = "EtaChanged"
    CANCELLED = "BackorderCancelled"
    SUBSTITUTED = "BackorderSubstituted"
    SHIPPED = "BackorderShipped"
    REPRIORITIZED = "BackorderReprioritized"
    SUBSTITUTE_OFFERED = "SubstituteOffered"
    SUBSTITUTE_DECLINED = "SubstituteDeclined"
    PREFERENCES_CHANGED = "BackorderPreferencesChanged"


@strawberry.type(description="One committed change to a backorder, with the backorder as it is now.")
class BackorderUpdate:
    kind: BackorderUpdateKind
    occurred_at: datetime
    message: str
    old_status: gt.BackorderStatus | None = None  # type: ignore[valid-type]
    new_status: gt.BackorderStatus | None = None  # type: ignore[valid-type]
    old_eta_date: date | None = None
    new_eta_date: date | None = None
    quantity: int | None = None
    backorder_id: strawberry.ID
    backorder: gt.Backorder | None = None


def to_update(event: ev.BackorderEvent) -> BackorderUpdate:
    update = BackorderUpdate(
        kind=BackorderUpdateKind(event.kind), occurred_at=event.occurred_at,
        message=gt.update_message(event, staff=True),
        backorder_id=strawberry.ID(gt.encode_id("Backorder", event.backorder_id)),
    )
    if isinstance(event, ev.BackorderStatusChanged):
        update.old_status = m.BackorderStatus(event.old_status)
        update.new_status = m.BackorderStatus(event.new_status)
    if isinstance(event, ev.EtaChanged):
        update.old_eta_date, update.new_eta_date = event.old_date, event.new_date
    if isinstance(event, ev.BackorderCreated):
        update.new_eta_date = event.eta_date
    quantity = getattr(event, "quantity", None)
    if isinstance(quantity, int):
        update.quantity = quantity
    return update


_SNAPSHOTS: OrderedDict[int, tuple[ev.BackorderEvent, asyncio.Future[m.Backorder | None]]] = OrderedDict()


async def _snapshot(event: ev.BackorderEvent) -> m.Backorder | None:
    """The backorder as it is after `event`, read once for every subscriber the event reaches (the bus hands
    all of them the same event object): one query per change, not one per listener."""
    entry = _SNAPSHOTS.get(id(event))
    if entry is None or entry[0] is not event:
        async def read() -> m.Backorder | None:
            return (await q.backorders_by_id([event.backorder_id])).get(event.backorder_id)

        entry = (event, asyncio.ensure_future(read()))
        _SNAPSHOTS[id(event)] = entry
        while len(_SNAPSHOTS) > 256:  # recent events only; the entry keeps the event alive, so ids stay unique
            _SNAPSHOTS.popitem(last=False)
    return await _shared(entry[1])


async def _shared(future: asyncio.Future[R]) -> R:
    """A future awaited by many subscribers: its result at once when it is done (most of them, fanning one event
    out to thousands), else shielded, so one subscriber leaving does not cancel it for the others."""
    if future.done():
        return future.result()
    return await asyncio.shield(future)


_UPDATES: OrderedDict[tuple[int, str, bool], tuple[ev.BackorderEvent, asyncio.Future[BackorderUpdate]]] = \
    OrderedDict()


async def _shared_update(event: ev.BackorderEvent, role: str, account: bool) -> BackorderUpdate:
    """The update for an event as one kind of reader sees it (staff, or a customer with or without an account),
    one object for all its subscribers: what a field shows depends on nothing else (each subscriber's filter
    and visibility are decided before), so PlainFieldsExecutionContext executes a document once per object
    and every such subscriber is sent that result."""
    # the role itself, not just staff or not: a field for admins only must never reach an agent from the cache
    key = (id(event), role, account)
    staff = role in ("agent", "admin")
    entry = _UPDATES.get(key)
    if entry is None or entry[0] is not event:
        async def build() -> BackorderUpdate:
            update = to_update(event)
            if not staff:  # worded for the backorder's customer (the only customer who receives it), in their language
                language = (await languages_by_email([event.customer_email])).get(event.customer_email, "en")
                update.message = gt.update_message(event, staff=False, language=language)
            b = await _snapshot(event)
            update.backorder = gt.Backorder.of(b) if b else None
            return update

        entry = (event, asyncio.ensure_future(build()))
        _UPDATES[key] = entry
        while len(_UPDATES) > 256:  # as _SNAPSHOTS: the entry keeps the event alive, so ids stay unique
            _UPDATES.popitem(last=False)
    return await _shared(entry[1])


def _opened(event: ev.Event, visible: Callable[[ev.BackorderEvent], bool], staff: bool, email: str | None,
            stream: EventStream) -> list[ev.BackorderEvent]:
    """The per-backorder events a subscriber is sent for one event off the bus. A QueueChanged (a long queue's
    change) is opened up into those of its events the subscriber may see; as when they came one by one, only
    the last as many as the stream holds are kept, the rest counted as dropped (a receipt serving 100k would
    otherwise keep a subscriber reading, and the database answering, for minutes)."""
    if not isinstance(event, ev.QueueChanged):
        assert isinstance(event, ev.BackorderEvent)
        return [event]
    everyone = event.expand()
    mine = everyone if staff else [everyone[n] for n in event.customers.get(email or "", ())]
    seen = [e for e in mine if visible(e)]
    keep = stream.queue.maxsize or len(seen)
    stream.dropped += max(0, len(seen) - keep)
    return seen[-keep:] if seen else []


@strawberry.type
class Subscription:
    @strawberry.subscription(permission_classes=[IsAuthenticated],
                             description="Status, allocation and ETA changes as they are committed.")
    async def backorder_updates(self, info: Ctx,
                                filter: BackorderUpdatesFilter | None = None) -> AsyncGenerator[BackorderUpdate, None]:
        f = filter or BackorderUpdatesFilter()
        principal = info.context.require_principal()
        order_id = decode_id("Order", f.order_id, "orderId") if f.order_id else None
        sku = f.sku.strip() if f.sku else None

        def visible(event: ev.BackorderEvent) -> bool:
            if not principal.is_staff and not gt.visible_to_customer(event):
                return False
            if order_id is not None and event.order_id != order_id:
                return False
            if sku is not None and event.sku != sku:
                return False
            return principal.can_see_order(event.order_id, event.customer_email)

        def accept(event: ev.Event) -> bool:
            if isinstance(event, ev.SessionEnded) and principal.session is not None \
                    and principal.session.is_named_by(event):
                principal.session.ended = True  # ended on another process: so here, at once
                PortalSession.end(principal.session.key)
            if principal.session_ended():
                return True  # wake the loop below: it ends the subscription
            if isinstance(event, ev.QueueChanged):  # each backorder's part is filtered as it is opened up
                return (sku is None or event.sku == sku) and (
                    principal.is_staff or (principal.customer_email or "") in event.customers)
            if not isinstance(event, ev.BackorderEvent):
                return False
            return visible(event)

        stream = info.context.bus.subscribe(accept)
        try:
            async for event in stream:
                if not await principal.confirm_live():  # signed out, revoked or expired since it connected
                    raise GraphQLError("Your session has ended: sign in again.",
                                       extensions={"code": "UNAUTHENTICATED"})
                for one in _opened(event, visible, principal.is_staff, principal.customer_email, stream):
                    info.context.loaders = Loaders()  # the connection lives on; its reads must not go stale
                    yield await _shared_update(one, principal.role, principal.has_account)
        except asyncio.CancelledError:
            raise
        finally:
            stream.close()
