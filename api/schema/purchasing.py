"""GraphQL for purchase orders (staff only): create, move or change, receive; listing with a filter."""

from __future__ import annotations

from datetime import date

import strawberry

from api import types as gt
from api.ids import decode_id, try_decode_id
from api.permissions import IsStaff
from api.schema.common import KNOWN_LOCATION, Ctx, LineInput, cursor, page_size, user_errors
from domain import model as m
from domain import reorder
from domain.errors import InvalidInput
from domain.services import LineRequest
from domain.store import planning
from domain.store import queries as q


@strawberry.input
class CreatePurchaseOrderInput:
    supplier_id: strawberry.ID
    expected_date: date
    lines: list[LineInput] = strawberry.field(default_factory=list, description="SKUs and units to order.")
    from_suggestions: list[str] | None = strawberry.field(default=None, description=(
        "SKUs whose reorder suggestion (reorderSuggestions with the shop's policy, read when the order is made) "
        "becomes a line each with its suggestedQuantity, after `lines`. Each must be bought from this supplier "
        "and below its reorder point."))
    number: str | None = None
    location: str = strawberry.field(default=m.DEFAULT_LOCATION, description=KNOWN_LOCATION)


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
    location: str | None = strawberry.field(
        default=None, description="The shop's location the units are received into; omit for the purchase order's "
                                  "own. A code the shop has not set up is UNKNOWN_LOCATION, and nothing is received.")


@strawberry.input
class PurchaseOrderFilter:
    status: list[gt.PurchaseOrderStatus] | None = None  # type: ignore[valid-type]
    sku: str | None = None


@strawberry.type
class PurchaseOrderPayload:
    purchase_order: gt.PurchaseOrder | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


# -- queries ----------------------------------------------------------------------------------
@strawberry.field(permission_classes=[IsStaff])
async def purchase_order(info: Ctx, id: strawberry.ID) -> gt.PurchaseOrder | None:
    key = try_decode_id("PurchaseOrder", id)
    po = await info.context.loaders.purchase_order_by_id.load(key) if key else None
    return gt.PurchaseOrder(_po=po) if po else None


@strawberry.field(permission_classes=[IsStaff])
async def purchase_orders(info: Ctx, filter: PurchaseOrderFilter | None = None, first: int | None = 50,
                          after: str | None = None) -> gt.Connection[gt.PurchaseOrder]:
    f = filter or PurchaseOrderFilter()
    page = await q.list_purchase_orders([s.value for s in f.status or []], f.sku,
                                        page_size(first, info.context.settings), cursor(after))
    found = await info.context.loaders.purchase_order_by_id.load_many(page.ids)
    return gt.Connection.of([(p.id, gt.PurchaseOrder(_po=p)) for p in found if p],
                             page.has_next, page.total, after=after)


# -- mutations --------------------------------------------------------------------------------
@strawberry.mutation(permission_classes=[IsStaff])
@user_errors(PurchaseOrderPayload)
async def create_purchase_order(info: Ctx, input: CreatePurchaseOrderInput) -> PurchaseOrderPayload:
    supplier_id = decode_id("Supplier", input.supplier_id, "supplierId")
    lines = [LineRequest(li.sku, li.quantity) for li in input.lines]
    if input.from_suggestions:
        lines += await _suggested_lines(info, input.from_suggestions, supplier_id, [li.sku for li in input.lines])
    po = await info.context.desk.create_purchase_order(supplier_id, input.expected_date, lines, input.number,
                                                       input.location)
    return PurchaseOrderPayload(purchase_order=gt.PurchaseOrder(_po=po))


async def _suggested_lines(info: Ctx, skus: list[str], supplier_id: str, already: list[str]) -> list[LineRequest]:
    if len(skus) > info.context.settings.page_size_limit:
        raise InvalidInput(f"at most {info.context.settings.page_size_limit} SKUs", field="from_suggestions")
    skus = [m.check_sku(sku, "from_suggestions") for sku in skus]
    settings = info.context.settings
    found = await planning.reorder_suggestions(info.context.desk.clock.today(), settings.reorder_policy, skus=skus,
                                               default_lead_time_days=settings.default_lead_time_days,
                                               learning=settings.eta_learning)
    return [LineRequest(sku, quantity) for sku, quantity in
            reorder.purchase_lines(skus, {s.sku: s for s in found}, supplier_id, already)]


@strawberry.mutation(permission_classes=[IsStaff], description="Move the date, change quantities, or cancel.")
@user_errors(PurchaseOrderPayload, fields={"purchase_order_id": "id", "changes": "input"})
async def update_purchase_order(info: Ctx, input: UpdatePurchaseOrderInput) -> PurchaseOrderPayload:
    po = await info.context.desk.update_purchase_order(
        decode_id("PurchaseOrder", input.id), input.expected_date,
        [LineRequest(li.sku, li.quantity) for li in input.lines], input.cancel)
    return PurchaseOrderPayload(purchase_order=gt.PurchaseOrder(_po=po))


@strawberry.mutation(permission_classes=[IsStaff])
@user_errors(PurchaseOrderPayload, fields={"purchase_order_id": "id"})
async def receive_purchase_order(info: Ctx, input: ReceivePurchaseOrderInput) -> PurchaseOrderPayload:
    lines = None if input.lines is None else [LineRequest(li.sku, li.quantity) for li in input.lines]
    po = await info.context.desk.receive_purchase_order(decode_id("PurchaseOrder", input.id), lines, input.location)
    return PurchaseOrderPayload(purchase_order=gt.PurchaseOrder(_po=po))
