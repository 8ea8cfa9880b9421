"""The GraphQL schema: queries, mutations (one `input`, a payload with `userErrors`) and the
`backorderUpdates` subscription fed by committed domain events.

Resolvers are thin: they decode IDs, check who may see what, call one use case or one batch query.
Domain errors become `userErrors` in exactly one place (`_payload`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError, Undefined, is_leaf_type, is_non_null_type
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info
from strawberry.utils.await_maybe import await_maybe

from api import types as gt
from api.context import Context, Loaders
from api.ids import decode_cursor, decode_id, try_decode_id
from api.settings import Settings
from domain import events as ev
from domain import model as m
from domain.errors import DomainError, PermissionDenied
from domain.services import CustomerDetails, LineRequest, ProductInput
from domain.store import queries as q

Ctx = Info[Context, None]
P = TypeVar("P")


from api.permissions import IsAuthenticated, IsStaff  # noqa: E402


def _page_size(first: int | None, settings: Settings) -> int:
    size = 50 if first is None else first
    if size < 0 or size > settings.page_size_limit:
        raise GraphQLError(f"first must be between 0 and {settings.page_size_limit}",
                           extensions={"code": "INVALID_INPUT"})
    return size


def _cursor(after: str | None) -> str | None:
    try:
        return decode_cursor(after)
    except DomainError as error:
        raise GraphQLError(error.message, extensions={"code": error.code.value}) from error


async def _payload(make: Callable[..., P], run: Callable[[], Awaitable[P]]) -> P:
    """The one place where a domain error becomes `userErrors` (and nothing was written)."""
    try:
        return await run()
    except DomainError as error:
        return make(user_errors=[gt.UserError.of(error)])


def _staff_name(info: Ctx) -> str:
    principal = info.context.require_principal()
    return principal.name


# -- inputs -----------------------------------------------------------------------------------
@strawberry.input
class MoneyInput:
    amount: Decimal
    currency: str = "EUR"


@strawberry.input
class UpsertProductInput:
    sku: str
    name: str
    price: MoneyInput
    backorder_policy: gt.BackorderPolicy = m.BackorderPolicy.ALLOW  # type: ignore[valid-type]
    backorder_limit: int | None = None
    release_date: date | None = None
    substitutes: list[str] = strawberry.field(default_factory=list, description="SKUs, best first.")
    supplier_id: strawberry.ID | None = None
    lead_time_days: int | None = None


@strawberry.input
class UpsertSupplierInput:
    id: strawberry.ID | None = None
    name: str
    lead_time_days: int = 14


@strawberry.input
class ReceiveStockInput:
    sku: str
    quantity: int
    location: str = m.DEFAULT_LOCATION
    note: str | None = None


@strawberry.input
class AdjustStockInput:
    sku: str
    delta: int = 0
    reason: str
    location: str = m.DEFAULT_LOCATION
    safety_stock: int | None = None


@strawberry.input
class LineInput:
    sku: str
    quantity: int


@strawberry.input
class CreatePurchaseOrderInput:
    supplier_id: strawberry.ID
    expected_date: date
    lines: list[LineInput]
    number: str | None = None
    location: str = m.DEFAULT_LOCATION


@strawberry.input
class UpdatePurchaseOrderInput:
    id: strawberry.ID
    expected_date: date | None = None
    lines: list[LineInput] = strawberry.field(default_factory=list,
                                              description="New ordered quantity per SKU; new SKUs add lines.")
    cancel: bool = False


@strawberry.input
class ReceivePurchaseOrderInput:
    id: strawberry.ID
    lines: list[LineInput] | None = strawberry.field(default=None,
                                                     description="Units received per SKU; omit to receive all.")


@strawberry.input
class CustomerInput:
    email: str
    name: str = ""
    phone: str | None = None
    tier: gt.CustomerTier | None = None  # type: ignore[valid-type]


@strawberry.input
class PlaceOrderInput:
    customer: CustomerInput
    channel: gt.Channel  # type: ignore[valid-type]
    lines: list[LineInput]
    ship_complete: bool = False
    location: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retrying with the same key returns the first order instead of a second.")


@strawberry.input
class CancelBackorderInput:
    id: strawberry.ID
    quantity: int | None = strawberry.field(default=None, description="Units to cancel; omit to cancel all.")
    reason: str = ""


@strawberry.input
class AcceptSubstituteInput:
    backorder_id: strawberry.ID
    substitute_sku: str


@strawberry.input
class SetShippingPreferenceInput:
    order_id: strawberry.ID
    ship_complete: bool


@strawberry.input
class ShipAllocatedInput:
    order_id: strawberry.ID


@strawberry.input
class ReprioritizeBackorderInput:
    id: strawberry.ID
    priority: int = strawberry.field(description="-1000..1000; higher is served first; 0 is the default.")
    reason: str


@strawberry.input
class BackorderFilter:
    sku: str | None = None
    status: list[gt.BackorderStatus] | None = None  # type: ignore[valid-type]
    customer_email: str | None = None
    channel: gt.Channel | None = None  # type: ignore[valid-type]
    order_id: strawberry.ID | None = None
    overdue: bool | None = strawberry.field(default=None,
                                            description="Open and past the date first promised.")


@strawberry.input
class OrderFilter:
    customer_email: str | None = None
    channel: gt.Channel | None = None  # type: ignore[valid-type]
    number: str | None = None
    placed_after: datetime | None = None
    placed_before: datetime | None = None
    has_backorders: bool | None = None


@strawberry.input
class PurchaseOrderFilter:
    status: list[gt.PurchaseOrderStatus] | None = None  # type: ignore[valid-type]
    sku: str | None = None


@strawberry.input
class BackorderUpdatesFilter:
    order_id: strawberry.ID | None = None
    sku: str | None = None


# -- payloads ---------------------------------------------------------------------------------
@strawberry.type
class ProductPayload:
    product: gt.Product | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SupplierPayload:
    supplier: gt.Supplier | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PurchaseOrderPayload:
    purchase_order: gt.PurchaseOrder | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PlaceOrderPayload:
    order: gt.Order | None = None
    backorders: list[gt.Backorder] = strawberry.field(default_factory=list)
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrderPayload:
    order: gt.Order | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class BackorderPayload:
    backorder: gt.Backorder | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AcceptSubstitutePayload:
    backorder: gt.Backorder | None = None
    order_line: gt.OrderLine | None = None
    order: gt.Order | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Shipment:
    id: strawberry.ID
    units: int


@strawberry.type
class ShipAllocatedPayload:
    shipment: Shipment | None = None
    order: gt.Order | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


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


# -- queries ----------------------------------------------------------------------------------
async def _visible_order(info: Ctx, order_id: str) -> gt.Order | None:
    order = await info.context.loaders.order_by_id.load(order_id)
    principal = info.context.require_principal()
    if order is None or not principal.can_see_order(order.id, order.customer.email):
        return None
    return gt.Order.of(order)


async def _visible_backorder(info: Ctx, backorder_id: str) -> gt.Backorder | None:
    backorder = await info.context.loaders.backorder_by_id.load(backorder_id)
    principal = info.context.require_principal()
    if backorder is None or not principal.can_see_order(backorder.order_id, backorder.customer_email):
        return None
    return gt.Backorder.of(backorder)


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsAuthenticated], description="Who the token belongs to.")
    def viewer(self, info: Ctx) -> gt.Viewer:
        p = info.context.require_principal()
        return gt.Viewer(name=p.name, role=p.role, customer_email=p.customer_email)

    @strawberry.field(permission_classes=[IsStaff])
    async def product(self, info: Ctx, sku: str) -> gt.Product | None:
        p = await info.context.loaders.product_by_sku.load(sku.strip())
        return gt.Product.of(p) if p else None

    @strawberry.field(permission_classes=[IsStaff])
    async def products(self, info: Ctx, search: str | None = None, first: int | None = 50,
                       after: str | None = None) -> gt.Connection[gt.Product]:
        page = await q.list_products(search, _page_size(first, info.context.settings), _cursor(after))
        found = await info.context.loaders.product_by_sku.load_many(page.ids)
        return gt.Connection.of([(p.sku, gt.Product.of(p)) for p in found if p],
                                 page.has_next, page.total, after=after)

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def order(self, info: Ctx, id: strawberry.ID) -> gt.Order | None:
        key = try_decode_id("Order", id)
        return await _visible_order(info, key) if key else None

    @strawberry.field(permission_classes=[IsStaff])
    async def order_by_number(self, info: Ctx, number: str) -> gt.Order | None:
        key = await q.order_id_by_number(number)
        return await _visible_order(info, key) if key else None

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def orders(self, info: Ctx, filter: OrderFilter | None = None, first: int | None = 50,
                     after: str | None = None) -> gt.Connection[gt.Order]:
        f = filter or OrderFilter()
        principal = info.context.require_principal()
        email = f.customer_email if principal.is_staff else principal.customer_email
        size, cursor, number = _page_size(first, info.context.settings), _cursor(after), f.number
        if principal.order_id is not None:
            # signed in with one order's number: list only that order, so totalCount and pages add up
            own = await info.context.loaders.order_by_id.load(principal.order_id)
            if own is None or (number is not None and number.strip().upper() != own.number):
                return gt.Connection.of([], False, 0)
            number = own.number
        page = await q.list_orders(
            q.OrderFilter(customer_email=email, channel=f.channel.value if f.channel else None, number=number,
                          placed_after=f.placed_after, placed_before=f.placed_before,
                          has_backorders=f.has_backorders),
            size, cursor)
        found = await info.context.loaders.order_by_id.load_many(page.ids)
        visible = [o for o in found if o and principal.can_see_order(o.id, o.customer.email)]
        await gt.prefetch(info, orders=visible)
        return gt.Connection.of([(o.id, gt.Order.of(o)) for o in visible],
                                 page.has_next, page.total, after=after)

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def backorder(self, info: Ctx, id: strawberry.ID) -> gt.Backorder | None:
        key = try_decode_id("Backorder", id)
        return await _visible_backorder(info, key) if key else None

    @strawberry.field(permission_classes=[IsAuthenticated],
                      description="Oldest first. Customers see only their own.")
    async def backorders(self, info: Ctx, filter: BackorderFilter | None = None, first: int | None = 50,
                         after: str | None = None) -> gt.Connection[gt.Backorder]:
        f = filter or BackorderFilter()
        principal = info.context.require_principal()
        email = f.customer_email if principal.is_staff else principal.customer_email
        order_id = decode_id("Order", f.order_id, "orderId") if f.order_id else principal.order_id
        if not principal.is_staff and principal.order_id and order_id != principal.order_id:
            order_id = "-"
        page = await q.list_backorders(
            q.BackorderFilter(sku=f.sku, statuses=[s.value for s in f.status or []], customer_email=email,
                              channel=f.channel.value if f.channel else None, order_id=order_id,
                              overdue=f.overdue, today=info.context.desk.clock.today()),
            _page_size(first, info.context.settings), _cursor(after))
        found = [b for b in await info.context.loaders.backorder_by_id.load_many(page.ids) if b]
        await gt.prefetch(info, backorders=found)
        return gt.Connection.of([(b.id, gt.Backorder.of(b)) for b in found],
                                 page.has_next, page.total, after=after)

    @strawberry.field(permission_classes=[IsStaff])
    async def purchase_order(self, info: Ctx, id: strawberry.ID) -> gt.PurchaseOrder | None:
        key = try_decode_id("PurchaseOrder", id)
        po = await info.context.loaders.purchase_order_by_id.load(key) if key else None
        return gt.PurchaseOrder(_po=po) if po else None

    @strawberry.field(permission_classes=[IsStaff])
    async def purchase_orders(self, info: Ctx, filter: PurchaseOrderFilter | None = None, first: int | None = 50,
                              after: str | None = None) -> gt.Connection[gt.PurchaseOrder]:
        f = filter or PurchaseOrderFilter()
        page = await q.list_purchase_orders([s.value for s in f.status or []], f.sku,
                                            _page_size(first, info.context.settings), _cursor(after))
        found = await info.context.loaders.purchase_order_by_id.load_many(page.ids)
        return gt.Connection.of([(p.id, gt.PurchaseOrder(_po=p)) for p in found if p],
                                 page.has_next, page.total, after=after)

    @strawberry.field(permission_classes=[IsStaff])
    async def kpis(self, info: Ctx) -> gt.Kpis:
        k = await q.kpis(info.context.desk.clock.today())
        return gt.Kpis(**k.__dict__)


# -- mutations --------------------------------------------------------------------------------
@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsStaff])
    async def upsert_product(self, info: Ctx, input: UpsertProductInput) -> ProductPayload:
        async def run() -> ProductPayload:
            supplier = decode_id("Supplier", input.supplier_id, "supplierId") if input.supplier_id else None
            p = await info.context.desk.upsert_product(ProductInput(
                sku=input.sku, name=input.name, price=input.price.amount, currency=input.price.currency,
                backorder_policy=m.BackorderPolicy(input.backorder_policy.value),
                backorder_limit=input.backorder_limit, release_date=input.release_date,
                substitutes=input.substitutes, supplier_id=supplier, lead_time_days=input.lead_time_days))
            return ProductPayload(product=gt.Product.of(p))
        return await _payload(ProductPayload, run)

    @strawberry.mutation(permission_classes=[IsStaff])
    async def upsert_supplier(self, info: Ctx, input: UpsertSupplierInput) -> SupplierPayload:
        async def run() -> SupplierPayload:
            key = decode_id("Supplier", input.id) if input.id else None
            s = await info.context.desk.upsert_supplier(key, input.name, input.lead_time_days)
            return SupplierPayload(supplier=gt.Supplier(_s=s))
        return await _payload(SupplierPayload, run)

    @strawberry.mutation(permission_classes=[IsStaff], description="Units arrived outside a purchase order.")
    async def receive_stock(self, info: Ctx, input: ReceiveStockInput) -> ProductPayload:
        async def run() -> ProductPayload:
            cause = (input.note or "").strip()[:200] or f"stock received by {_staff_name(info)}"
            inventory = await info.context.desk.receive_stock(input.sku, input.quantity, input.location, cause)
            return ProductPayload(product=gt.Product.of(inventory.product))
        return await _payload(ProductPayload, run)

    @strawberry.mutation(permission_classes=[IsStaff], description="Correct a count or set safety stock.")
    async def adjust_stock(self, info: Ctx, input: AdjustStockInput) -> ProductPayload:
        async def run() -> ProductPayload:
            inventory = await info.context.desk.adjust_stock(input.sku, input.delta, input.reason, input.location,
                                                             input.safety_stock)
            return ProductPayload(product=gt.Product.of(inventory.product))
        return await _payload(ProductPayload, run)

    @strawberry.mutation(permission_classes=[IsStaff])
    async def create_purchase_order(self, info: Ctx, input: CreatePurchaseOrderInput) -> PurchaseOrderPayload:
        async def run() -> PurchaseOrderPayload:
            po = await info.context.desk.create_purchase_order(
                decode_id("Supplier", input.supplier_id, "supplierId"), input.expected_date,
                [LineRequest(li.sku, li.quantity) for li in input.lines], input.number, input.location)
            return PurchaseOrderPayload(purchase_order=gt.PurchaseOrder(_po=po))
        return await _payload(PurchaseOrderPayload, run)

    @strawberry.mutation(permission_classes=[IsStaff], description="Move the date, change quantities, or cancel.")
    async def update_purchase_order(self, info: Ctx, input: UpdatePurchaseOrderInput) -> PurchaseOrderPayload:
        async def run() -> PurchaseOrderPayload:
            po = await info.context.desk.update_purchase_order(
                decode_id("PurchaseOrder", input.id), input.expected_date,
                [LineRequest(li.sku, li.quantity) for li in input.lines], input.cancel)
            return PurchaseOrderPayload(purchase_order=gt.PurchaseOrder(_po=po))
        return await _payload(PurchaseOrderPayload, run)

    @strawberry.mutation(permission_classes=[IsStaff])
    async def receive_purchase_order(self, info: Ctx, input: ReceivePurchaseOrderInput) -> PurchaseOrderPayload:
        async def run() -> PurchaseOrderPayload:
            lines = None if input.lines is None else [LineRequest(li.sku, li.quantity) for li in input.lines]
            po = await info.context.desk.receive_purchase_order(decode_id("PurchaseOrder", input.id), lines)
            return PurchaseOrderPayload(purchase_order=gt.PurchaseOrder(_po=po))
        return await _payload(PurchaseOrderPayload, run)

    @strawberry.mutation(permission_classes=[IsStaff],
                         description="Allocate what is in stock now and backorder the rest, line by line.")
    async def place_order(self, info: Ctx, input: PlaceOrderInput) -> PlaceOrderPayload:
        async def run() -> PlaceOrderPayload:
            c = input.customer
            order = await info.context.desk.place_order(
                CustomerDetails(c.email, c.name, c.phone, m.CustomerTier(c.tier.value) if c.tier else None),
                m.Channel(input.channel.value), [LineRequest(li.sku, li.quantity) for li in input.lines],
                ship_complete=input.ship_complete, location=input.location, idempotency_key=input.idempotency_key)
            ids = [li.backorder_id for li in order.lines if li.backorder_id]
            found = await q.backorders_by_id(ids)
            return PlaceOrderPayload(order=gt.Order.of(order),
                                     backorders=[gt.Backorder.of(found[i]) for i in ids if i in found])
        return await _payload(PlaceOrderPayload, run)

    @strawberry.mutation(permission_classes=[IsAuthenticated],
                         description="Cancel all or part of a backorder; held units go to the next in line.")
    async def cancel_backorder(self, info: Ctx, input: CancelBackorderInput) -> BackorderPayload:
        async def run() -> BackorderPayload:
            key = await _own_backorder(info, input.id)
            principal = info.context.require_principal()
            by = principal.name if principal.is_staff else "customer"
            b = await info.context.desk.cancel_backorder(key, input.quantity, by=by, reason=input.reason)
            return BackorderPayload(backorder=gt.Backorder.of(b))
        return await _payload(BackorderPayload, run)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def accept_substitute(self, info: Ctx, input: AcceptSubstituteInput) -> AcceptSubstitutePayload:
        async def run() -> AcceptSubstitutePayload:
            key = await _own_backorder(info, input.backorder_id, "backorderId")
            b, line = await info.context.desk.accept_substitute(key, input.substitute_sku)
            order = (await q.orders_by_id([b.order_id])).get(b.order_id)
            return AcceptSubstitutePayload(backorder=gt.Backorder.of(b), order_line=gt.OrderLine.of(line),
                                           order=gt.Order.of(order) if order else None)
        return await _payload(AcceptSubstitutePayload, run)

    @strawberry.mutation(permission_classes=[IsAuthenticated],
                         description="Ship what is available now, or wait and ship the order complete.")
    async def set_shipping_preference(self, info: Ctx, input: SetShippingPreferenceInput) -> OrderPayload:
        async def run() -> OrderPayload:
            key = await _own_order(info, input.order_id)
            order = await info.context.desk.set_shipping_preference(key, input.ship_complete)
            return OrderPayload(order=gt.Order.of(order))
        return await _payload(OrderPayload, run)

    @strawberry.mutation(permission_classes=[IsStaff], description="Record a shipment of every allocated unit.")
    async def ship_allocated(self, info: Ctx, input: ShipAllocatedInput) -> ShipAllocatedPayload:
        async def run() -> ShipAllocatedPayload:
            key = decode_id("Order", input.order_id, "orderId")
            shipment = await info.context.desk.ship_allocated(key)
            order = (await q.orders_by_id([key])).get(key)
            return ShipAllocatedPayload(
                shipment=Shipment(id=strawberry.ID(gt.encode_id("Shipment", shipment.id)), units=shipment.units),
                order=gt.Order.of(order) if order else None)
        return await _payload(ShipAllocatedPayload, run)

    @strawberry.mutation(permission_classes=[IsStaff], description="Agent override of the queue, with a reason.")
    async def reprioritize_backorder(self, info: Ctx, input: ReprioritizeBackorderInput) -> BackorderPayload:
        async def run() -> BackorderPayload:
            b = await info.context.desk.reprioritize_backorder(
                decode_id("Backorder", input.id), input.priority, input.reason, _staff_name(info))
            return BackorderPayload(backorder=gt.Backorder.of(b))
        return await _payload(BackorderPayload, run)


async def _own_backorder(info: Ctx, value: str, field: str = "id") -> str:
    """The backorder's key, if the caller may change it; otherwise 'not found' (no existence leak)."""
    key = decode_id("Backorder", value, field)
    if await _visible_backorder(info, key) is None:
        raise _missing("backorder", value, field)
    return key


async def _own_order(info: Ctx, value: str, field: str = "orderId") -> str:
    key = decode_id("Order", value, field)
    if await _visible_order(info, key) is None:
        raise _missing("order", value, field)
    return key


def _missing(kind: str, value: str, field: str) -> DomainError:
    from domain.errors import not_found

    return not_found(kind, value, field=field)


# -- subscriptions ----------------------------------------------------------------------------
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
    return await asyncio.shield(entry[1])


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
            if not staff:
                update.message = gt.update_message(event, staff=False)
            b = await _snapshot(event)
            update.backorder = gt.Backorder.of(b) if b else None
            return update

        entry = (event, asyncio.ensure_future(build()))
        _UPDATES[key] = entry
        while len(_UPDATES) > 256:  # as _SNAPSHOTS: the entry keeps the event alive, so ids stay unique
            _UPDATES.popitem(last=False)
    return await asyncio.shield(entry[1])


_RESULTS: OrderedDict[tuple[int, int, str], tuple[BackorderUpdate, Any, Any]] = OrderedDict()


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

        def accept(event: ev.Event) -> bool:
            if principal.session_ended():
                return True  # wake the loop below: it ends the subscription
            if not isinstance(event, ev.BackorderEvent):
                return False
            if not principal.is_staff and not gt.visible_to_customer(event):
                return False
            if order_id is not None and event.order_id != order_id:
                return False
            if sku is not None and event.sku != sku:
                return False
            return principal.can_see_order(event.order_id, event.customer_email)

        stream = info.context.bus.subscribe(accept)
        try:
            async for event in stream:
                if not await principal.confirm_live():  # signed out, revoked or expired since it connected
                    raise GraphQLError("Your session has ended: sign in again.",
                                       extensions={"code": "UNAUTHENTICATED"})
                assert isinstance(event, ev.BackorderEvent)
                info.context.loaders = Loaders()  # the connection lives on; its reads must not go stale
                yield await _shared_update(event, principal.role, principal.has_account)
        except asyncio.CancelledError:
            raise
        finally:
            stream.close()


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor with a short way for the commonest field: a plain attribute (no resolver, no
    permission) holding a scalar or enum. graphql-core builds a resolve info, a node list and a resolver call
    for every field; the portal's query has 1,240 fields, about 1,000 of them such leaves, and that was the
    largest part of its CPU (bench/portal_query.py). Anything else, and any value that is not a clean leaf
    (null where not allowed, a failing coercion), takes graphql-core's own way, errors and all."""

    _plain: dict[tuple[str, str], tuple[str, Any, bool] | None] = {}  # the schema is built once per process

    def execute_operation(self, serially: bool | None = None) -> Any:
        """A subscription event shared by many subscribers (see `_shared_update`) is executed once per document
        and variables; a result with errors is not shared (each subscriber's own execution reports them)."""
        update = self.root_value
        if not isinstance(update, BackorderUpdate):
            return super().execute_operation(serially)
        key = (id(update), id(self.operation), repr(sorted(self.variable_values.coerced.items())))
        entry = _RESULTS.get(key)
        if entry is not None and entry[0] is update and entry[1] is self.operation:
            return self._shared(entry[2], serially)
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            result = asyncio.ensure_future(result)
        _RESULTS[key] = (update, self.operation, result)  # both kept alive: their ids stay unique
        while len(_RESULTS) > 256:
            _RESULTS.popitem(last=False)
        return self._shared(result, serially) if isinstance(result, asyncio.Future) else result

    def _shared(self, result: Any, serially: bool | None) -> Any:
        if not isinstance(result, asyncio.Future):
            return result if not result.errors else super().execute_operation(serially)

        async def later() -> Any:
            done = await asyncio.shield(result)
            if done.errors:
                return await await_maybe(super(PlainFieldsExecutionContext, self).execute_operation(serially))
            return done

        return later()

    def execute_field(self, parent_type: Any, source: Any, field_details_list: Any, path: Any,
                      position_context: Any) -> Any:
        key = (parent_type.name, field_details_list[0].node.name.value)
        try:
            plain = self._plain[key]
        except KeyError:
            plain = self._plain[key] = self._plain_leaf(parent_type, key[1])
        if plain is not None and not getattr(self.middleware_manager, "middlewares", None):  # no resolve hooks
            name, leaf, nullable = plain
            value = getattr(source, name, Undefined)
            if value is None and nullable:
                return None
            if value is not None and value is not Undefined:
                try:
                    coerced = leaf.coerce_output_value(value)
                except Exception:  # noqa: BLE001 - graphql-core's way below reports it where it happened
                    coerced = None
                if coerced is not None and coerced is not Undefined:
                    return coerced
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _plain_leaf(self, parent_type: Any, field_name: str) -> tuple[str, Any, bool] | None:
        field_def = self.schema.get_field(parent_type, field_name)
        definition = field_def.extensions.get("strawberry-definition") if field_def else None
        resolve = getattr(field_def, "resolve", None)
        if (definition is None or field_def.args or not getattr(resolve, "_is_default", False)
                or getattr(resolve, "__name__", "") != "_get_basic_result"):
            return None  # a resolver, a permission, an exception handler, arguments: the full way
        inner = field_def.type.of_type if is_non_null_type(field_def.type) else field_def.type
        if not is_leaf_type(inner):
            return None
        return definition.python_name, inner, not is_non_null_type(field_def.type)


class QuietMaskErrors(MaskErrors):
    """MaskErrors, less its check of every result against a runtime Protocol (typing's isinstance walks the
    protocol's members: 4% of the CPU fanning one event out to 5,000 subscribers, bench/subscriptions.py)."""

    def _process_result(self, result: object) -> None:
        if getattr(result, "errors", None):
            super()._process_result(result)


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        return False  # validation and syntax errors speak about the query, not the server
    return not isinstance(original, (DomainError, PermissionDenied, GraphQLError))


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # the limits' validation rules are built once: a rule class made per request would make every request
    # a miss in the validation cache, and validation is a tenth of a request's CPU (bench/portal_query.py)
    rules = [*QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
             *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules]
    extensions: list[Any] = [  # factories: a fresh extension per request
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(rules),
        # parsed and validated documents cached across requests: 5,000 browsers subscribing with the same
        # document after a restart cost one validation, not 5,000 (bench/subscriptions.py)
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ]
    if not settings.development:
        extensions.append(lambda: QuietMaskErrors(should_mask_error=_should_mask, error_message="Unexpected error."))
    from strawberry.tools import merge_types

    from api.notify_api import NotificationsMutation, NotificationsQuery
    from api.portal import PortalMutation, PortalQuery
    from api.tokens_api import TokensMutation, TokensQuery

    query = merge_types("Query", (Query, PortalQuery, NotificationsQuery, TokensQuery))
    mutation = merge_types("Mutation", (Mutation, PortalMutation, NotificationsMutation, TokensMutation))
    return strawberry.Schema(query=query, mutation=mutation, subscription=Subscription, extensions=extensions,
                             execution_context_class=PlainFieldsExecutionContext)
