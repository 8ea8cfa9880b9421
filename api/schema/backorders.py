"""GraphQL for backorders: reading the queue (customers only their own), cancelling, accepting a substitute,
an agent's reprioritisation, and the desk's KPIs."""

from __future__ import annotations

import strawberry

from api import types as gt
from api.ids import decode_id, try_decode_id
from api.permissions import IsAuthenticated, IsStaff
from api.schema.common import Ctx, cursor, own_backorder, page_size, staff_name, user_errors, visible_backorder
from domain.causes import RequestedBy
from domain.store import current
from domain.store import kpis as kpi_now
from domain.store import queries as q

CancelRequestedBy = strawberry.enum(
    RequestedBy, name="CancelRequestedBy",
    description="Whose wish a cancel is: CUSTOMER (they asked: they are told 'cancelled at your request'), "
                "SHOP (the shop's decision: 'cancelled by the shop').")


@strawberry.input
class CancelBackorderInput:
    id: strawberry.ID
    quantity: int | None = strawberry.field(default=None, description="Units to cancel; omit to cancel all.")
    reason: str = ""
    requested_by: CancelRequestedBy | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Agents: whose wish this cancel is, so the customer is told the truth; unsaid, "
                                  "they read a neutral 'cancelled'. A customer's own cancel is always CUSTOMER.")


@strawberry.input
class AcceptSubstituteInput:
    backorder_id: strawberry.ID
    substitute_sku: str


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


# -- queries ----------------------------------------------------------------------------------
@strawberry.field(permission_classes=[IsAuthenticated])
async def backorder(info: Ctx, id: strawberry.ID) -> gt.Backorder | None:
    key = try_decode_id("Backorder", id)
    return await visible_backorder(info, key) if key else None


@strawberry.field(permission_classes=[IsAuthenticated],
                  description="Oldest first. Customers see only their own.")
async def backorders(info: Ctx, filter: BackorderFilter | None = None, first: int | None = 50,
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
        page_size(first, info.context.settings), cursor(after))
    found = [b for b in await info.context.loaders.backorder_by_id.load_many(page.ids) if b]
    await gt.prefetch(info, backorders=found)
    return gt.Connection.of([(b.id, gt.Backorder.of(b)) for b in found],
                             page.has_next, page.total, after=after)


@strawberry.field(permission_classes=[IsStaff])
async def kpis(info: Ctx) -> gt.Kpis:
    today = info.context.desk.clock.today()
    k, ages = await current.all_of(kpi_now.kpis(today), kpi_now.open_backorders_by_age(today))
    return gt.Kpis(**k.__dict__, age_buckets=[gt.AgeBucket(**a.__dict__) for a in ages])


# -- mutations --------------------------------------------------------------------------------
@strawberry.mutation(permission_classes=[IsAuthenticated],
                     description="Cancel all or part of a backorder; held units go to the next in line.")
@user_errors(BackorderPayload, fields={"backorder_id": "id"})
async def cancel_backorder(info: Ctx, input: CancelBackorderInput) -> BackorderPayload:
    key = await own_backorder(info, input.id)
    principal = info.context.require_principal()
    by = principal.name if principal.is_staff else "customer"
    b = await info.context.desk.cancel_backorder(key, input.quantity, by=by, reason=input.reason,
                                                 requested_by=input.requested_by)
    return BackorderPayload(backorder=gt.Backorder.of(b))


@strawberry.mutation(permission_classes=[IsAuthenticated], description=(
    "Take a listed, in-stock substitute for the backorder's waiting units: they leave the queue and the order gets a "
    "line of the substitute. The line is priced in the order's currency: a substitute priced in another currency is "
    "converted at the shop's exchange rate from its currency to the order's (rounded half up to the cent; the line "
    "keeps `listPrice` and `exchangeRate`), and refused with NO_EXCHANGE_RATE when the shop has no such rate, so an "
    "order never mixes currencies."))
@user_errors(AcceptSubstitutePayload)
async def accept_substitute(info: Ctx, input: AcceptSubstituteInput) -> AcceptSubstitutePayload:
    key = await own_backorder(info, input.backorder_id, "backorderId")
    b, line = await info.context.desk.accept_substitute(key, input.substitute_sku)
    order = (await q.orders_by_id([b.order_id])).get(b.order_id)
    return AcceptSubstitutePayload(backorder=gt.Backorder.of(b), order_line=gt.OrderLine.of(line),
                                   order=gt.Order.of(order) if order else None)


@strawberry.mutation(permission_classes=[IsStaff], description="Agent override of the queue, with a reason.")
@user_errors(BackorderPayload, fields={"backorder_id": "id"})
async def reprioritize_backorder(info: Ctx, input: ReprioritizeBackorderInput) -> BackorderPayload:
    b = await info.context.desk.reprioritize_backorder(
        decode_id("Backorder", input.id), input.priority, input.reason, staff_name(info))
    return BackorderPayload(backorder=gt.Backorder.of(b))
