"""GraphQL for orders: placing one (staff), reading them (customers only their own), the shipping preference
and shipping what is allocated."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api import types as gt
from api.ids import decode_id, try_decode_id
from api.permissions import IsAuthenticated, IsStaff
from api.schema.common import Ctx, LineInput, cursor, own_order, page_size, user_errors, visible_order
from domain import model as m
from domain.services import CustomerDetails, LineRequest
from domain.store import queries as q


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
    location: str | None = strawberry.field(default=None, description=(
        "Take the units set aside now from this location first: one the shop has set up (upsertLocation), else "
        "UNKNOWN_LOCATION. Null: from any."))
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retrying with the same key returns the first order instead of a second.")


@strawberry.input
class SetShippingPreferenceInput:
    order_id: strawberry.ID
    ship_complete: bool


@strawberry.input
class ShipAllocatedInput:
    order_id: strawberry.ID


@strawberry.input
class OrderFilter:
    customer_email: str | None = None
    channel: gt.Channel | None = None  # type: ignore[valid-type]
    number: str | None = None
    placed_after: datetime | None = None
    placed_before: datetime | None = None
    has_backorders: bool | None = None


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
class Shipment:
    id: strawberry.ID
    units: int
    locations: list[gt.UnitsAtLocation] = strawberry.field(
        default_factory=list, description="Where the shipped units came from: units per location.")


@strawberry.type
class ShipAllocatedPayload:
    shipment: Shipment | None = None
    order: gt.Order | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


# -- queries ----------------------------------------------------------------------------------
@strawberry.field(permission_classes=[IsAuthenticated])
async def order(info: Ctx, id: strawberry.ID) -> gt.Order | None:
    key = try_decode_id("Order", id)
    return await visible_order(info, key) if key else None


@strawberry.field(permission_classes=[IsStaff])
async def order_by_number(info: Ctx, number: str) -> gt.Order | None:
    key = await q.order_id_by_number(number)
    return await visible_order(info, key) if key else None


@strawberry.field(permission_classes=[IsStaff],
                  description="Customers whose email or name contains `search`, or whose phone ends in its digits "
                              "(\"07700 900123\" finds +447700900123), by email.")
async def customers(info: Ctx, search: str, first: int | None = 20) -> list[gt.Customer]:
    found = await q.search_customers(search, page_size(first, info.context.settings))
    return [gt.Customer.of(c) for c in found]


@strawberry.field(permission_classes=[IsAuthenticated])
async def orders(info: Ctx, filter: OrderFilter | None = None, first: int | None = 50,
                 after: str | None = None) -> gt.Connection[gt.Order]:
    f = filter or OrderFilter()
    principal = info.context.require_principal()
    email = f.customer_email if principal.is_staff else principal.customer_email
    size, after_key, number = page_size(first, info.context.settings), cursor(after), f.number
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
        size, after_key, count=("totalCount",) in gt.selected_paths(info))  # a COUNT only when it is asked for
    found = await info.context.loaders.order_by_id.load_many(page.ids)
    visible = [o for o in found if o and principal.can_see_order(o.id, o.customer.email)]
    await gt.prefetch(info, orders=visible)
    return gt.Connection.of([(o.id, gt.Order.of(o)) for o in visible],
                             page.has_next, page.total, after=after)


# -- mutations --------------------------------------------------------------------------------
@strawberry.mutation(permission_classes=[IsStaff],
                     description="Allocate what is in stock now and backorder the rest, line by line.")
@user_errors(PlaceOrderPayload)
async def place_order(info: Ctx, input: PlaceOrderInput) -> PlaceOrderPayload:
    c = input.customer
    placed = await info.context.desk.place_order(
        CustomerDetails(c.email, c.name, c.phone, m.CustomerTier(c.tier.value) if c.tier else None),
        m.Channel(input.channel.value), [LineRequest(li.sku, li.quantity) for li in input.lines],
        ship_complete=input.ship_complete, location=input.location, idempotency_key=input.idempotency_key)
    ids = [li.backorder_id for li in placed.lines if li.backorder_id]
    found = await q.backorders_by_id(ids)
    return PlaceOrderPayload(order=gt.Order.of(placed),
                             backorders=[gt.Backorder.of(found[i]) for i in ids if i in found])


@strawberry.mutation(permission_classes=[IsAuthenticated],
                     description="Ship what is available now, or wait and ship the order complete.")
@user_errors(OrderPayload)
async def set_shipping_preference(info: Ctx, input: SetShippingPreferenceInput) -> OrderPayload:
    key = await own_order(info, input.order_id)
    changed = await info.context.desk.set_shipping_preference(key, input.ship_complete)
    return OrderPayload(order=gt.Order.of(changed))


@strawberry.mutation(permission_classes=[IsStaff], description="Record a shipment of every allocated unit.")
@user_errors(ShipAllocatedPayload)
async def ship_allocated(info: Ctx, input: ShipAllocatedInput) -> ShipAllocatedPayload:
    key = decode_id("Order", input.order_id, "orderId")
    shipment = await info.context.desk.ship_allocated(key)
    shipped = (await q.orders_by_id([key])).get(key)
    return ShipAllocatedPayload(
        shipment=Shipment(id=strawberry.ID(gt.encode_id("Shipment", shipment.id)), units=shipment.units,
                          locations=[gt.UnitsAtLocation(location=location, held_quantity=0, shipped_quantity=units)
                                     for location, units in sorted(shipment.locations.items())]),
        order=gt.Order.of(shipped) if shipped else None)
