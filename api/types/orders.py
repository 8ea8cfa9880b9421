"""Order types: orders, their lines and their customer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import strawberry

from api.context import load_many_now, load_now
from api.ids import encode_id
from api.types.catalogue import Product
from api.types.common import Channel, Ctx, CustomerTier, Money, reader_is_staff
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
    shipped_quantity: int

    @staticmethod
    def of(line: m.OrderLine) -> OrderLine:
        return OrderLine(_l=line, id=strawberry.ID(encode_id("OrderLine", line.id)), sku=line.sku,
                         quantity=line.quantity, unit_price=Money.of(line.unit_price),
                         allocated_quantity=line.allocated_quantity, shipped_quantity=line.shipped_quantity)

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


def _line_total(line: m.OrderLine, backorder: m.Backorder | None) -> Money:
    left = backorder.cancelled_quantity + backorder.substituted_quantity if backorder is not None else 0
    return Money(amount=(line.unit_price.amount * (line.quantity - left)).quantize(Decimal("0.01")),
                 currency=line.unit_price.currency)


def _order_total(lines: Sequence[m.OrderLine], backorders: dict[str, m.Backorder]) -> Money | None:
    totals = [_line_total(line, backorders.get(line.backorder_id or "")) for line in lines]
    if len({t.currency for t in totals}) != 1:
        return None
    return Money(amount=sum((t.amount for t in totals), Decimal("0.00")), currency=totals[0].currency)


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
