"""GraphQL for the catalogue (staff only): products and suppliers, stock received outside a purchase order and
stock corrections."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from api import types as gt
from api.ids import decode_id
from api.permissions import IsStaff
from api.schema.common import KNOWN_LOCATION, Ctx, cursor, page_size, staff_name, user_errors
from domain import allocation
from domain import model as m
from domain.services import ProductInput
from domain.store import queries as q


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
    allocation_policy: gt.AllocationPolicy = allocation.AllocationPolicy.PRIORITY  # type: ignore[valid-type]
    fair_share_minimum: int | None = strawberry.field(
        default=None, description="FAIR_SHARE only: units each waiting backorder gets first; null: an equal share.")
    customer_cap_per_receipt: int | None = strawberry.field(
        default=None, description="FAIR_SHARE only: at most this many units of one receipt per customer while "
                                  "another customer still waits; null: no cap.")


@strawberry.input
class UpsertSupplierInput:
    id: strawberry.ID | None = None
    name: str
    lead_time_days: int = 14


@strawberry.input
class ReceiveStockInput:
    sku: str
    quantity: int
    location: str = strawberry.field(default=m.DEFAULT_LOCATION, description=KNOWN_LOCATION)
    note: str | None = None


@strawberry.input
class AdjustStockInput:
    sku: str
    delta: int = 0
    reason: str
    location: str = strawberry.field(default=m.DEFAULT_LOCATION, description=KNOWN_LOCATION)
    safety_stock: int | None = None


@strawberry.type
class ProductPayload:
    product: gt.Product | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SupplierPayload:
    supplier: gt.Supplier | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


# -- queries ----------------------------------------------------------------------------------
@strawberry.field(permission_classes=[IsStaff])
async def product(info: Ctx, sku: str) -> gt.Product | None:
    p = await info.context.loaders.product_by_sku.load(sku.strip())
    return gt.Product.of(p) if p else None


@strawberry.field(permission_classes=[IsStaff])
async def products(info: Ctx, search: str | None = None, first: int | None = 50,
                   after: str | None = None) -> gt.Connection[gt.Product]:
    page = await q.list_products(search, page_size(first, info.context.settings), cursor(after))
    found = await info.context.loaders.product_by_sku.load_many(page.ids)
    return gt.Connection.of([(p.sku, gt.Product.of(p)) for p in found if p],
                             page.has_next, page.total, after=after)


# -- mutations --------------------------------------------------------------------------------
@strawberry.mutation(permission_classes=[IsStaff])
@user_errors(ProductPayload)
async def upsert_product(info: Ctx, input: UpsertProductInput) -> ProductPayload:
    supplier = decode_id("Supplier", input.supplier_id, "supplierId") if input.supplier_id else None
    p = await info.context.desk.upsert_product(ProductInput(
        sku=input.sku, name=input.name, price=input.price.amount, currency=input.price.currency,
        backorder_policy=m.BackorderPolicy(input.backorder_policy.value),
        backorder_limit=input.backorder_limit, release_date=input.release_date,
        substitutes=input.substitutes, supplier_id=supplier, lead_time_days=input.lead_time_days,
        allocation_policy=allocation.AllocationPolicy(input.allocation_policy.value),
        fair_share_minimum=input.fair_share_minimum, customer_cap_per_receipt=input.customer_cap_per_receipt))
    return ProductPayload(product=gt.Product.of(p))


@strawberry.mutation(permission_classes=[IsStaff])
@user_errors(SupplierPayload, fields={"supplier_id": "id"})
async def upsert_supplier(info: Ctx, input: UpsertSupplierInput) -> SupplierPayload:
    key = decode_id("Supplier", input.id) if input.id else None
    s = await info.context.desk.upsert_supplier(key, input.name, input.lead_time_days)
    return SupplierPayload(supplier=gt.Supplier(_s=s))


@strawberry.mutation(permission_classes=[IsStaff], description="Units arrived outside a purchase order.")
@user_errors(ProductPayload)
async def receive_stock(info: Ctx, input: ReceiveStockInput) -> ProductPayload:
    cause = (input.note or "").strip()[:200] or f"stock received by {staff_name(info)}"
    inventory = await info.context.desk.receive_stock(input.sku, input.quantity, input.location, cause)
    return ProductPayload(product=gt.Product.of(inventory.product))


@strawberry.mutation(permission_classes=[IsStaff], description="Correct a count or set safety stock.")
@user_errors(ProductPayload)
async def adjust_stock(info: Ctx, input: AdjustStockInput) -> ProductPayload:
    inventory = await info.context.desk.adjust_stock(input.sku, input.delta, input.reason, input.location,
                                                     input.safety_stock)
    return ProductPayload(product=gt.Product.of(inventory.product))
