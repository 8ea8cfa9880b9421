"""Purchase order types."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.ids import encode_id
from api.types.catalogue import Product, Supplier
from api.types.common import Ctx, PurchaseOrderStatus
from domain import model as m


@strawberry.type
class PurchaseOrderLine:
    sku: str
    quantity: int
    received_quantity: int
    outstanding_quantity: int

    @strawberry.field
    async def product(self, info: Ctx) -> Product | None:
        return Product.maybe(await info.context.loaders.product_by_sku.load(self.sku))


@strawberry.type
class PurchaseOrder:
    _po: strawberry.Private[m.PurchaseOrder]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("PurchaseOrder", self._po.id))

    @strawberry.field
    def number(self) -> str:
        return self._po.number

    @strawberry.field
    def expected_date(self) -> date:
        return self._po.expected_date

    @strawberry.field
    def status(self) -> PurchaseOrderStatus:  # type: ignore[valid-type]
        return self._po.status

    @strawberry.field
    def location(self) -> str:
        return self._po.location

    @strawberry.field
    def created_at(self) -> datetime | None:
        return self._po.created_at

    @strawberry.field
    def lines(self) -> list[PurchaseOrderLine]:
        return [PurchaseOrderLine(sku=li.sku, quantity=li.quantity, received_quantity=li.received_quantity,
                                  outstanding_quantity=li.outstanding) for li in self._po.lines]

    @strawberry.field
    async def supplier(self, info: Ctx) -> Supplier | None:
        s = await info.context.loaders.supplier_by_id.load(self._po.supplier_id)
        return Supplier(_s=s) if s else None
