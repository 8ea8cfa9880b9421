"""The `backorderUpdates` subscription, fed by committed domain events: each subscriber's filter and
visibility decided per event, and the update an event makes read once for all the subscribers it reaches
(api/live.py fans it out)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import date, datetime
from enum import Enum

import strawberry

from api import types as gt
from api.ids import decode_id
from api.live import CURRENT_EXECUTOR, CURRENT_OPERATION, LiveSubscription, LiveUpdates
from api.permissions import IsAuthenticated
from api.schema.common import Ctx
from domain import events as ev
from domain import model as m
from domain.store import queries as q
from domain.store.portal import languages_by_email


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
    GOODWILL_OFFERED = "GoodwillOffered"


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


class Views:
    """What the events of a burst show, read together: each backorder once and each customer's language once for
    all of them (a receipt's or a long queue's change is many events; one query per event was a query per row)."""

    def __init__(self) -> None:
        self.snapshots: dict[str, m.Backorder | None] = {}
        self.languages: dict[str, str] = {}

    async def read(self, events: list[ev.BackorderEvent], customers: bool) -> None:
        ids = list(dict.fromkeys(e.backorder_id for e in events if e.backorder_id not in self.snapshots))
        if ids:
            found = await q.backorders_by_id(ids)
            self.snapshots.update({i: found.get(i) for i in ids})
        emails = list(dict.fromkeys(e.customer_email for e in events if e.customer_email not in self.languages))
        if customers and emails:
            found_languages = await languages_by_email(emails)
            self.languages.update({email: found_languages.get(email, "en") for email in emails})


async def shared_updates(event: ev.BackorderEvent, readers: set[tuple[str, bool]],
                         views: Views | None = None) -> dict[tuple[str, bool], BackorderUpdate]:
    """The update for an event as each kind of reader sees it (a role, and for a customer whether they signed in
    with an account), read once for all the subscribers it reaches (`views`: already read with the rest of its
    burst). What a field shows depends on nothing else (each subscriber's filter and visibility are decided
    before), so api.live executes a document once per kind of reader and sends every such subscriber that result.
    The role itself, not just staff or not: a field for admins only must never reach an agent."""
    customers = any(role not in ("agent", "admin") for role, _ in readers)
    views = views or Views()
    await views.read([event], customers)
    snapshot = views.snapshots.get(event.backorder_id)
    updates = {}
    for role, account in readers:
        update = to_update(event)
        if role not in ("agent", "admin"):  # worded for the backorder's customer (the only customer who receives it)
            update.message = gt.update_message(event, staff=False,
                                               language=views.languages.get(event.customer_email, "en"))
        update.backorder = gt.Backorder.of(snapshot) if snapshot else None
        updates[(role, account)] = update
    return updates


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

        live: LiveUpdates = info.context.live
        subscription = LiveSubscription(live, principal, info.context, order_id=order_id, sku=sku,
                                        operation=CURRENT_OPERATION.get(), executor=CURRENT_EXECUTOR.get())
        async with aclosing(subscription.stream()) as stream:
            async for update in stream:
                yield update
