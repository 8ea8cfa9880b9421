"""Catalogue types: products (with their stock, inbound supply and waiting queue) and suppliers."""

from __future__ import annotations

from datetime import date

import strawberry
from graphql import GraphQLError

from api.context import load_many_now
from api.ids import encode_id
from api.permissions import IsStaff
from api.types.common import AllocationPolicy, BackorderPolicy, Ctx, Money, reader_is_staff
from domain import model as m


@strawberry.type
class StockLevel:
    location: str
    on_hand: int
    allocated: int
    safety_stock: int
    available_to_promise: int
    being_put_away: int = strawberry.field(description=(
        "Units received here for a long queue and still being put away to the backorders waiting for them (a "
        "receipt served a chunk at a time): not on hand yet, and no one else's to take."))

    @staticmethod
    def of(level: m.StockLevel) -> StockLevel:
        return StockLevel(location=level.location, on_hand=level.on_hand, allocated=level.allocated,
                          safety_stock=level.safety_stock, available_to_promise=level.available_to_promise,
                          being_put_away=level.staged)


@strawberry.type(description="Units expected on an open purchase order.")
class InboundSupply:
    purchase_order_number: str
    expected_date: date
    quantity: int


@strawberry.type
class Supplier:
    _s: strawberry.Private[m.Supplier]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Supplier", self._s.id))

    @strawberry.field
    def name(self) -> str:
        return self._s.name

    @strawberry.field
    def lead_time_days(self) -> int:
        return self._s.lead_time_days

    @strawberry.field
    def on_time_deliveries(self) -> int:
        return self._s.deliveries_on_time

    @strawberry.field
    def late_deliveries(self) -> int:
        return self._s.deliveries_late


@strawberry.type
class Product:
    _p: strawberry.Private[m.Product]
    id: strawberry.ID
    sku: str
    name: str
    price: Money
    backorder_policy: BackorderPolicy  # type: ignore[valid-type]
    allocation_policy: AllocationPolicy  # type: ignore[valid-type]
    release_date: date | None

    @strawberry.field(description="FAIR_SHARE: units each waiting backorder gets first from a receipt; null: an "
                                  "equal share of it (null for customers).")
    def fair_share_minimum(self, info: Ctx) -> int | None:
        return self._p.fair_share_minimum if reader_is_staff(info) else None

    @strawberry.field(description="FAIR_SHARE: at most this many units of one receipt per customer while "
                                  "another customer still waits; null: no cap (null for customers).")
    def customer_cap_per_receipt(self, info: Ctx) -> int | None:
        return self._p.customer_cap_per_receipt if reader_is_staff(info) else None

    @strawberry.field(description="At most this many units may wait on backorder; null: no cap (and null for "
                                  "customers: the shop's own figure).")
    def backorder_limit(self, info: Ctx) -> int | None:
        return self._p.backorder_limit if reader_is_staff(info) else None

    @strawberry.field(description="The product's own lead time in days (null for customers: the shop's own figure).")
    def lead_time_days(self, info: Ctx) -> int | None:
        return self._p.lead_time_days if reader_is_staff(info) else None

    @staticmethod
    def of(p: m.Product) -> Product:
        return Product(_p=p, id=strawberry.ID(encode_id("Product", p.sku)), sku=p.sku, name=p.name,
                       price=Money.of(p.price), backorder_policy=p.backorder_policy,
                       allocation_policy=p.allocation_policy, release_date=p.release_date)

    @staticmethod
    def maybe(p: m.Product | None) -> Product | None:
        return Product.of(p) if p is not None else None

    @strawberry.field(permission_classes=[IsStaff])
    async def supplier(self, info: Ctx) -> Supplier | None:
        if not self._p.supplier_id:
            return None
        s = await info.context.loaders.supplier_by_id.load(self._p.supplier_id)
        return Supplier(_s=s) if s else None

    @strawberry.field(description="Ranked substitutes.")
    def substitutes(self, info: Ctx) -> list[Product]:  # now when loaded already, else an awaitable
        return load_many_now(info.context.loaders.product_by_sku, self._p.substitutes,
                             lambda found: [Product.of(p) for p in found if p is not None])

    @strawberry.field(permission_classes=[IsStaff])
    async def stock(self, info: Ctx) -> list[StockLevel]:
        return [StockLevel.of(s) for s in await info.context.loaders.stock_by_sku.load(self._p.sku)]

    @strawberry.field(permission_classes=[IsStaff])
    async def on_hand(self, info: Ctx) -> int:
        return sum(s.on_hand for s in await info.context.loaders.stock_by_sku.load(self._p.sku))

    @strawberry.field(permission_classes=[IsStaff], description="On hand - allocated - safety stock, all locations.")
    async def available_to_promise(self, info: Ctx) -> int:
        return sum(s.available_to_promise for s in await info.context.loaders.stock_by_sku.load(self._p.sku))

    @strawberry.field(permission_classes=[IsStaff], description="Units ordered and still waiting for stock.")
    async def units_backordered(self, info: Ctx) -> int:
        return await info.context.loaders.waiting_by_sku.load(self._p.sku)

    @strawberry.field(permission_classes=[IsStaff],
                      description="The backorders waiting for it, in queue order (position 1 first): the first "
                                  "`first` of them (at most the page size limit); unitsBackordered counts them all.")
    async def queue(self, info: Ctx, first: int = 200) -> list[Backorder]:
        if first < 0 or first > info.context.settings.page_size_limit:
            raise GraphQLError(f"first must be between 0 and {info.context.settings.page_size_limit}",
                               extensions={"code": "INVALID_INPUT"})
        loaders = info.context.loaders
        ids = (await loaders.queue_by_sku.load(self._p.sku))[:first]
        found = [b for b in await loaders.backorder_by_id.load_many(ids) if b is not None]
        return [Backorder.of(b) for b in found]

    @strawberry.field(permission_classes=[IsStaff], description="Open purchase orders, earliest first.")
    async def inbound(self, info: Ctx) -> list[InboundSupply]:
        return [
            InboundSupply(purchase_order_number=s.reference, expected_date=s.expected_date, quantity=s.quantity)
            for s in await info.context.loaders.inbound_by_sku.load(self._p.sku)
        ]


# Product and Order name Backorder and Backorder names them: the modules import each other at the bottom,
# after their own classes exist, so either may be imported first (strawberry resolves the annotations
# when the schema is built).
from api.types.backorders import Backorder  # noqa: E402
