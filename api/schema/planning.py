"""GraphQL for planning (staff only): what a receipt of stock or a reprioritisation would do, before anyone acts
on it."""

from __future__ import annotations

import strawberry

from api import types as gt
from api.ids import decode_id
from api.permissions import IsStaff
from api.schema.common import Ctx, staff_name
from domain import model as m
from domain.errors import DomainError
from domain.services import AllocationPreviewLine as PreviewLine


@strawberry.type(description="What a receipt would do to one backorder that waits for units.")
class AllocationPreviewLine:
    _line: strawberry.Private[PreviewLine]
    allocated_quantity: int = strawberry.field(description="The units this receipt would give the backorder.")
    status: gt.BackorderStatus  # type: ignore[valid-type]
    queue_position: int | None = strawberry.field(description="Its place afterwards; null once nothing waits.")
    eta: gt.Eta | None = strawberry.field(description="Its ETA afterwards; null once nothing waits.")

    @strawberry.field(description="The backorder as it is now (the receipt has not happened).")
    async def backorder(self, info: Ctx) -> gt.Backorder | None:
        return gt.Backorder.maybe(await info.context.loaders.backorder_by_id.load(self._line.backorder_id))

    @staticmethod
    def of(line: PreviewLine) -> AllocationPreviewLine:
        e = line.eta
        return AllocationPreviewLine(
            _line=line, allocated_quantity=line.allocated_quantity, status=line.status,
            queue_position=line.queue_position,
            eta=gt.Eta(date=e.date, confidence=e.confidence, source=e.source, _purchase_order_number=e.reference)
            if e is not None else None)


@strawberry.type(description="What a receipt or a reprioritisation would do, computed by its own code and not saved.")
class AllocationPreview:
    lines: list[AllocationPreviewLine] = strawberry.field(
        default_factory=list, description="Every backorder waiting before the change, in the order it was served.")
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.field(permission_classes=[IsStaff],
                  description="What a receipt of `quantity` units of `sku` at `location` would do, without doing it.")
async def preview_allocation(info: Ctx, sku: str, quantity: int,
                             location: str = m.DEFAULT_LOCATION) -> AllocationPreview:
    try:
        lines = await info.context.desk.preview_receipt(sku, quantity, location)
    except DomainError as error:  # a query has no payload wrapper; its arguments are the fields errors name
        return AllocationPreview(user_errors=[gt.UserError.of(error)])
    return AllocationPreview(lines=[AllocationPreviewLine.of(line) for line in lines])


@strawberry.field(permission_classes=[IsStaff],
                  description="What reprioritizeBackorder with this priority would do to the queue, without doing it.")
async def preview_reprioritization(info: Ctx, backorder_id: strawberry.ID, priority: int) -> AllocationPreview:
    try:
        key = decode_id("Backorder", backorder_id, "backorderId")
        lines = await info.context.desk.preview_reprioritization(key, priority, staff_name(info))
    except DomainError as error:
        user_error = gt.UserError.of(error)
        if user_error.field == "id":  # the domain names the backorder `id`; this field's argument is backorderId
            user_error.field = "backorderId"
        return AllocationPreview(user_errors=[user_error])
    return AllocationPreview(lines=[AllocationPreviewLine.of(line) for line in lines])
