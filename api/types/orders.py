"""Order types: orders, their lines and their customer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry

from api.context import load_many_now, load_now
from api.ids import encode_id
from api.types.catalogue import Product
from api.types.common import Channel, Ctx, CustomerTier, ExchangeRate, Money, UnitsAtLocation, reader_is_staff
from domain import model as m


@strawberry.type
class Customer:
    email: str
    name: str
    _c: strawberry.Private[m.Customer]

    @strawberry.field(description="Null to a sign-in with an order number: it opens the order, not the account.")
    def phone(self, info: Ctx) -> str | None:
        principal = info.context.principal
        return self._c.phone if principal is not None and principal.has_account else None

    @strawberry.field(description="Staff only: null for customers.")
    def tier(self, info: Ctx) -> CustomerTier | None:  # type: ignore[valid-type]
        return self._c.tier if reader_is_staff(info) else None

    @staticmethod
    def of(c: m.Customer) -> Customer:
        return Customer(email=c.email, name=c.name, _c=c)


# Plain fields (filled once from the domain object) cost graphql-core a getattr; related objects come from
# the request's loaders, returned at once when a prefetch (below) has loaded them, else awaited.
@strawberry.type
class OrderLine:
    _l: strawberry.Private[m.OrderLine]
    id: strawberry.ID
    sku: str
    quantity: int
    unit_price: Money
    allocated_quantity: int = strawberry.field(description="Units set aside from stock when the line was placed.")
    shipped_quantity: int = strawberry.field(description=(
        "Units of `allocatedQuantity` (those set aside when the line was placed, or all of a substitute's line) "
        "that have shipped. Units that reached the line's backorder later and shipped are counted on "
        "`backorder.shippedQuantity`, not here: the line's units shipped in all are the sum of the two."))
    list_price: Money | None = strawberry.field(description=(
        "A substitute priced in another currency than the order: its own unit price, which `unitPrice` is the "
        "conversion of (at `exchangeRate`, rounded half up to the cent). Null when no conversion was needed."))
    exchange_rate: ExchangeRate | None = strawberry.field(description=(
        "The shop's rate `listPrice` was converted at into the order's currency, with its date; null when none."))

    @staticmethod
    def of(line: m.OrderLine) -> OrderLine:
        return OrderLine(_l=line, id=strawberry.ID(encode_id("OrderLine", line.id)), sku=line.sku,
                         quantity=line.quantity, unit_price=Money.of(line.unit_price),
                         allocated_quantity=line.allocated_quantity, shipped_quantity=line.shipped_quantity,
                         list_price=Money.of(line.list_price) if line.list_price else None,
                         exchange_rate=ExchangeRate.maybe(line.exchange_rate))

    @strawberry.field(description=(
        "Where the line's units come from: per location, the units set aside there and those shipped from there "
        "(its backorder's included). Units shipped before locations were recorded are not listed."))
    def locations(self, info: Ctx) -> list[UnitsAtLocation]:
        line = self._l
        if not line.backorder_id:
            return _locations(line, None)
        return load_now(info.context.loaders.backorder_by_id, line.backorder_id, lambda b: _locations(line, b))

    @strawberry.field
    def product(self, info: Ctx) -> Product | None:
        return load_now(info.context.loaders.product_by_sku, self._l.sku, Product.maybe)

    @strawberry.field
    def backorder(self, info: Ctx) -> Backorder | None:
        if not self._l.backorder_id:
            return None
        return load_now(info.context.loaders.backorder_by_id, self._l.backorder_id, Backorder.maybe)

    @strawberry.field(description="The backorder this line replaced, when it is a substitute.")
    def substitute_for(self, info: Ctx) -> Backorder | None:
        if not self._l.substitute_for:
            return None
        return load_now(info.context.loaders.backorder_by_id, self._l.substitute_for, Backorder.maybe)

    @strawberry.field(description="What the line costs: unitPrice × the units still ordered (cancelled and "
                                  "substituted units leave the line; a substitute is a line of its own).")
    def line_total(self, info: Ctx) -> Money:
        line = self._l
        if not line.backorder_id:
            return _line_total(line, None)
        return load_now(info.context.loaders.backorder_by_id, line.backorder_id, lambda b: _line_total(line, b))


def _locations(line: m.OrderLine, backorder: m.Backorder | None) -> list[UnitsAtLocation]:
    held, shipped = dict(line.reserved), dict(line.shipped_from)
    if backorder is not None:
        for into, more in ((held, backorder.reserved), (shipped, backorder.shipped_from)):
            for location, units in more.items():
                into[location] = into.get(location, 0) + units
    return [UnitsAtLocation(location=location, held_quantity=held.get(location, 0),
                            shipped_quantity=shipped.get(location, 0))
            for location in sorted(set(held) | set(shipped)) if held.get(location) or shipped.get(location)]


def _line_amount(line: m.OrderLine, backorder: m.Backorder | None) -> m.Money:
    left = backorder.cancelled_quantity + backorder.substituted_quantity if backorder is not None else 0
    return line.unit_price.times(line.quantity - left)


def _line_total(line: m.OrderLine, backorder: m.Backorder | None) -> Money:
    return Money.of(_line_amount(line, backorder))


def _order_total(lines: Sequence[m.OrderLine], backorders: dict[str, m.Backorder]) -> Money | None:
    amounts = [_line_amount(line, backorders.get(line.backorder_id or "")) for line in lines]
    if len({a.currency for a in amounts}) != 1:
        return None  # lines in two currencies are never added up (Money refuses to)
    total = amounts[0]
    for amount in amounts[1:]:
        total += amount
    return Money.of(total)


@strawberry.type
class Order:
    _o: strawberry.Private[m.Order]
    id: strawberry.ID
    number: str
    channel: Channel  # type: ignore[valid-type]
    customer: Customer
    placed_at: datetime
    ship_complete: bool = strawberry.field(
        description="Wait and ship everything together rather than ship what is available now.")
    lines: list[OrderLine]

    @staticmethod
    def of(o: m.Order) -> Order:
        return Order(_o=o, id=strawberry.ID(encode_id("Order", o.id)), number=o.number, channel=o.channel,
                     customer=Customer.of(o.customer), placed_at=o.placed_at, ship_complete=o.ship_complete,
                     lines=[OrderLine.of(line) for line in o.lines])

    @staticmethod
    def maybe(o: m.Order | None) -> Order | None:
        return Order.of(o) if o is not None else None

    @strawberry.field(description="The sum of the lines' lineTotal; null when its lines are priced in different "
                                  "currencies.")
    def total(self, info: Ctx) -> Money | None:
        lines = self._o.lines
        ids = [li.backorder_id for li in lines if li.backorder_id]
        return load_many_now(info.context.loaders.backorder_by_id, ids,
                             lambda found: _order_total(lines, {b.id: b for b in found if b is not None}))

    @strawberry.field
    def backorders(self, info: Ctx) -> list[Backorder]:
        ids = [li.backorder_id for li in self._o.lines if li.backorder_id]
        return load_many_now(info.context.loaders.backorder_by_id, ids,
                             lambda found: [Backorder.of(b) for b in found if b is not None])


# Product and Order name Backorder and Backorder names them: the modules import each other at the bottom,
# after their own classes exist, so either may be imported first (strawberry resolves the annotations
# when the schema is built).
from api.types.backorders import Backorder  # noqa: E402
