"""GraphQL object types. Each wraps a domain object (never an ORM row); related objects come
through the request's DataLoaders, so a list of N things costs a fixed number of statements.

Customers read the same types as staff, less the shop's internals (exact stock, purchase order numbers,
tiers, priorities) and with history written for them: see "what customers read" below."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Generic, TypeVar

import strawberry
from strawberry.types import Info

from api.context import Context
from api.ids import encode_cursor, encode_id
from api.permissions import IsStaff
from domain import events as ev
from domain import model as m
from domain.errors import DomainError
from domain.errors import ErrorCode as DomainErrorCode
from domain.eta import Confidence, EtaSource

ErrorCode = strawberry.enum(DomainErrorCode, name="ErrorCode", description="Stable codes of user errors.")
BackorderStatus = strawberry.enum(m.BackorderStatus, name="BackorderStatus")
Channel = strawberry.enum(m.Channel, name="Channel", description="Where an order was placed.")
BackorderPolicy = strawberry.enum(
    m.BackorderPolicy, name="BackorderPolicy",
    description="ALLOW: sell beyond stock; DENY: refuse lines that cannot be filled; PREORDER: sell before release.")
CustomerTier = strawberry.enum(m.CustomerTier, name="CustomerTier")
PurchaseOrderStatus = strawberry.enum(m.PurchaseOrderStatus, name="PurchaseOrderStatus")
EtaConfidence = strawberry.enum(
    Confidence, name="EtaConfidence",
    description="HIGH: covered by a purchase order; MEDIUM: from lead time; LOW: supplier late or PO overdue.")
EtaSourceEnum = strawberry.enum(EtaSource, name="EtaSource")

Ctx = Info[Context, None]


def _staff(info: Ctx) -> bool:
    principal = info.context.principal
    return principal is not None and principal.is_staff


# -- what customers read ----------------------------------------------------------------------
# Causes are written for agents: they name agents and their reasons, purchase orders, other customers'
# orders, stock counts, suppliers. A customer reads a whitelisted wording of each instead; a cause nobody
# has worded for customers yet reads as a neutral phrase, so a new cause cannot leak anything.
CUSTOMER_CAUSES: list[tuple[re.Pattern[str], str]] = [(re.compile(pattern, re.S), words) for pattern, words in [
    (r"order \S+ placed: (?P<n>\d+) of (?P<of>\d+) backordered", "order placed: {n} of {of} on backorder"),
    (r"(?P<n>\d+) cancelled by customer(: .*)?", "{n} cancelled at your request"),
    (r"(?P<n>\d+) cancelled by .+", "{n} cancelled by the shop"),
    (r"(?P<n>\d+) replaced by substitute \S+", "{n} replaced by an alternative"),
    (r"shipment \S+", "shipped"),
    (r"\d+ received at \S+", "stock arrived"),
    (r"purchase order .+ received", "a delivery from the supplier arrived"),
    (r"purchase order .+ expected \d{4}-\d{2}-\d{2}", "a delivery from the supplier was scheduled"),
    (r"purchase order .+: (.+; )?cancelled", "a delivery from the supplier was cancelled"),
    (r"purchase order .+: (.+; )?date \d{4}-\d{2}-\d{2} -> \d{4}-\d{2}-\d{2}(; .+)?", "supplier date changed"),
    (r"purchase order .+", "a delivery from the supplier changed"),
    (r"supplier .+: lead time \d+ days", "the supplier's delivery time changed"),
    (r"stock adjusted: .*", "stock count corrected"),
    (r"product \S+ changed", "product details changed"),
    (r"a backorder ahead was cancelled \(.*\)", "the queue moved after a cancellation"),
    (r"a backorder ahead took substitute .+", "the queue moved after a customer chose an alternative"),
    (r"substitute for .+", "stock went to another order"),
    (r"queue reprioritised by .+", "the queue order changed"),
    (r"order \S+ placed", "the queue changed"),
    (r"order \S+ shipped", "an order was shipped"),
]]
NEUTRAL_CAUSES = {"STATUS": "status updated", "ETA": "expected date updated", "QUANTITY": "quantity changed"}
CUSTOMER_HISTORY_KINDS = frozenset(NEUTRAL_CAUSES)  # not PRIORITY: the queue's overrides are the shop's business


def customer_cause(kind: str, cause: str) -> str:
    """The cause of a history entry in words a customer may read: only digits are carried over."""
    for pattern, words in CUSTOMER_CAUSES:
        found = pattern.fullmatch(cause.strip())
        if found:
            return words.format(**found.groupdict())
    return NEUTRAL_CAUSES.get(kind, "updated")


def visible_to_customer(event: ev.BackorderEvent) -> bool:
    """Reprioritisations are agents' decisions about the queue, with their reasons: never sent to customers."""
    return not isinstance(event, ev.BackorderReprioritized)


def customer_message(event: ev.BackorderEvent) -> str:
    """A live update's sentence for its customer: as the staff's, less agents, reasons and PO numbers."""
    match event:
        case ev.BackorderCreated():
            where = f" (queue position {event.queue_position})" if event.queue_position else ""
            eta = f", expected {event.eta_date.isoformat()}" if event.eta_date else ""
            return f"{event.quantity} × {event.sku} backordered{where}{eta}"
        case ev.BackorderAllocated():
            return f"{event.quantity} × {event.sku} set aside for you ({event.allocated_quantity} of " \
                   f"{event.backordered_quantity})"
        case ev.BackorderStatusChanged():
            return f"status {event.old_status} → {event.new_status}: {customer_cause('STATUS', event.cause)}"
        case ev.EtaChanged():
            old = event.old_date.isoformat() if event.old_date else "none"
            new = event.new_date.isoformat() if event.new_date else "none"
            return f"expected date {old} → {new}: {customer_cause('ETA', event.cause)}"
        case ev.BackorderCancelled():
            who = "at your request" if event.cancelled_by == "customer" else "by the shop"
            return f"{event.quantity} × {event.sku} cancelled {who}"
        case ev.BackorderSubstituted():
            return f"{event.quantity} × {event.sku} replaced by {event.substitute_sku}"
        case ev.BackorderShipped():
            return f"{event.quantity} × {event.sku} shipped"
        case ev.SubstituteOffered():
            return f"an alternative to {event.sku} is offered: {event.substitute_sku}"
    return "your backorder was updated"


@strawberry.type(description="A problem with the input; nothing was changed.")
class UserError:
    field: str | None
    message: str
    code: ErrorCode  # type: ignore[valid-type]
    line: int | None = strawberry.field(
        default=None, description="Which line of the input's `lines` (0-based) it is about, when it is about one.")

    @staticmethod
    def of(error: DomainError) -> UserError:
        return UserError(field=error.field, message=error.message, code=error.code, line=error.line)


@strawberry.type
class Money:
    amount: Decimal
    currency: str

    @staticmethod
    def of(money: m.Money) -> Money:
        return Money(amount=money.amount, currency=money.currency)


@strawberry.type
class StockLevel:
    location: str
    on_hand: int
    allocated: int
    safety_stock: int
    available_to_promise: int

    @staticmethod
    def of(level: m.StockLevel) -> StockLevel:
        return StockLevel(location=level.location, on_hand=level.on_hand, allocated=level.allocated,
                          safety_stock=level.safety_stock, available_to_promise=level.available_to_promise)


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

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Product", self._p.sku))

    @strawberry.field
    def sku(self) -> str:
        return self._p.sku

    @strawberry.field
    def name(self) -> str:
        return self._p.name

    @strawberry.field
    def price(self) -> Money:
        return Money.of(self._p.price)

    @strawberry.field
    def backorder_policy(self) -> BackorderPolicy:  # type: ignore[valid-type]
        return self._p.backorder_policy

    @strawberry.field(description="At most this many units may wait on backorder; null: no cap.")
    def backorder_limit(self) -> int | None:
        return self._p.backorder_limit

    @strawberry.field
    def release_date(self) -> date | None:
        return self._p.release_date

    @strawberry.field
    def lead_time_days(self) -> int | None:
        return self._p.lead_time_days

    @strawberry.field(permission_classes=[IsStaff])
    async def supplier(self, info: Ctx) -> Supplier | None:
        if not self._p.supplier_id:
            return None
        s = await info.context.loaders.supplier_by_id.load(self._p.supplier_id)
        return Supplier(_s=s) if s else None

    @strawberry.field(description="Ranked substitutes.")
    async def substitutes(self, info: Ctx) -> list[Product]:
        found = await info.context.loaders.product_by_sku.load_many(self._p.substitutes)
        return [Product(_p=p) for p in found if p is not None]

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

    @strawberry.field(permission_classes=[IsStaff], description="Open purchase orders, earliest first.")
    async def inbound(self, info: Ctx) -> list[InboundSupply]:
        return [
            InboundSupply(purchase_order_number=s.reference, expected_date=s.expected_date, quantity=s.quantity)
            for s in await info.context.loaders.inbound_by_sku.load(self._p.sku)
        ]


@strawberry.type
class PurchaseOrderLine:
    sku: str
    quantity: int
    received_quantity: int
    outstanding_quantity: int

    @strawberry.field
    async def product(self, info: Ctx) -> Product | None:
        p = await info.context.loaders.product_by_sku.load(self.sku)
        return Product(_p=p) if p else None


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


@strawberry.type
class Customer:
    _c: strawberry.Private[m.Customer]

    @strawberry.field
    def email(self) -> str:
        return self._c.email

    @strawberry.field
    def name(self) -> str:
        return self._c.name

    @strawberry.field(description="Null to a sign-in with an order number: it opens the order, not the account.")
    def phone(self, info: Ctx) -> str | None:
        principal = info.context.principal
        return self._c.phone if principal is not None and principal.has_account else None

    @strawberry.field(description="Staff only: null for customers.")
    def tier(self, info: Ctx) -> CustomerTier | None:  # type: ignore[valid-type]
        return self._c.tier if _staff(info) else None

    @staticmethod
    def of(c: m.Customer) -> Customer:
        return Customer(_c=c)


@strawberry.type(description="When the waiting units are expected, how sure that is, and why.")
class Eta:
    date: date
    confidence: EtaConfidence  # type: ignore[valid-type]
    source: EtaSourceEnum = strawberry.field(  # type: ignore[valid-type]
        description="Why this date: PURCHASE_ORDER, a delivery the supplier confirmed; LEAD_TIME, estimated "
                    "from the usual lead time; ON_HAND or ALLOCATED, from stock; RELEASE_DATE, a preorder's release.")
    _purchase_order_number: strawberry.Private[str | None] = None

    @strawberry.field(description="The purchase order the date comes from. Staff only: null for customers.")
    def purchase_order_number(self, info: Ctx) -> str | None:
        return self._purchase_order_number if _staff(info) else None


@strawberry.enum
class HistoryKind(Enum):
    STATUS = "STATUS"
    ETA = "ETA"
    PRIORITY = "PRIORITY"
    QUANTITY = "QUANTITY"


@strawberry.type
class HistoryEntry:
    at: datetime
    kind: HistoryKind
    old_value: str | None
    new_value: str | None
    cause: str


@strawberry.type(description="An in-stock alternative a customer may take instead of waiting.")
class SubstituteOption:
    product: Product
    _available_to_promise: strawberry.Private[int]
    available: bool = strawberry.field(description="Enough is in stock for all the waiting units.")
    price_difference: Money = strawberry.field(description="Substitute unit price minus the original's.")

    @strawberry.field(description="Units available to promise now. Staff only: null for customers (see `available`).")
    def available_quantity(self, info: Ctx) -> int | None:
        return self._available_to_promise if _staff(info) else None


@strawberry.type
class OrderLine:
    _l: strawberry.Private[m.OrderLine]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("OrderLine", self._l.id))

    @strawberry.field
    def sku(self) -> str:
        return self._l.sku

    @strawberry.field
    def quantity(self) -> int:
        return self._l.quantity

    @strawberry.field
    def unit_price(self) -> Money:
        return Money.of(self._l.unit_price)

    @strawberry.field(description="Units set aside from stock when the line was placed.")
    def allocated_quantity(self) -> int:
        return self._l.allocated_quantity

    @strawberry.field
    def shipped_quantity(self) -> int:
        return self._l.shipped_quantity

    @strawberry.field
    async def product(self, info: Ctx) -> Product | None:
        p = await info.context.loaders.product_by_sku.load(self._l.sku)
        return Product(_p=p) if p else None

    @strawberry.field
    async def backorder(self, info: Ctx) -> Backorder | None:
        if not self._l.backorder_id:
            return None
        b = await info.context.loaders.backorder_by_id.load(self._l.backorder_id)
        return Backorder(_b=b) if b else None

    @strawberry.field(description="The backorder this line replaced, when it is a substitute.")
    async def substitute_for(self, info: Ctx) -> Backorder | None:
        if not self._l.substitute_for:
            return None
        b = await info.context.loaders.backorder_by_id.load(self._l.substitute_for)
        return Backorder(_b=b) if b else None


@strawberry.type
class Order:
    _o: strawberry.Private[m.Order]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Order", self._o.id))

    @strawberry.field
    def number(self) -> str:
        return self._o.number

    @strawberry.field
    def channel(self) -> Channel:  # type: ignore[valid-type]
        return self._o.channel

    @strawberry.field
    def customer(self) -> Customer:
        return Customer.of(self._o.customer)

    @strawberry.field
    def placed_at(self) -> datetime:
        return self._o.placed_at

    @strawberry.field(description="Wait and ship everything together rather than ship what is available now.")
    def ship_complete(self) -> bool:
        return self._o.ship_complete

    @strawberry.field
    def lines(self) -> list[OrderLine]:
        return [OrderLine(_l=line) for line in self._o.lines]

    @strawberry.field
    async def backorders(self, info: Ctx) -> list[Backorder]:
        ids = [li.backorder_id for li in self._o.lines if li.backorder_id]
        found = await info.context.loaders.backorder_by_id.load_many(ids)
        return [Backorder(_b=b) for b in found if b is not None]


@strawberry.type
class Backorder:
    _b: strawberry.Private[m.Backorder]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Backorder", self._b.id))

    @strawberry.field
    def sku(self) -> str:
        return self._b.sku

    @strawberry.field
    def status(self) -> BackorderStatus:  # type: ignore[valid-type]
        return self._b.status

    @strawberry.field
    def customer_email(self) -> str:
        return self._b.customer_email

    @strawberry.field
    def channel(self) -> Channel:  # type: ignore[valid-type]
        return self._b.channel

    @strawberry.field
    def ordered_at(self) -> datetime:
        return self._b.ordered_at

    @strawberry.field(description="Units first backordered.")
    def original_quantity(self) -> int:
        return self._b.original_quantity

    @strawberry.field(description="Units this backorder still owes (cancelled and substituted units leave it).")
    def quantity(self) -> int:
        return self._b.quantity

    @strawberry.field(description="Units set aside for it so far (shipped ones included).")
    def allocated_quantity(self) -> int:
        return self._b.allocated_quantity

    @strawberry.field(description="Units still waiting for stock.")
    def backordered_quantity(self) -> int:
        return self._b.waiting_quantity

    @strawberry.field
    def shipped_quantity(self) -> int:
        return self._b.shipped_quantity

    @strawberry.field
    def cancelled_quantity(self) -> int:
        return self._b.cancelled_quantity

    @strawberry.field
    def substituted_quantity(self) -> int:
        return self._b.substituted_quantity

    @strawberry.field(description="1 = next to be served; null once nothing waits.")
    def queue_position(self) -> int | None:
        return self._b.queue_position if self._b.is_active else None

    @strawberry.field
    def eta(self) -> Eta | None:
        e = self._b.eta
        if e is None or not self._b.is_active:
            return None
        return Eta(date=e.date, confidence=e.confidence, source=e.source, _purchase_order_number=e.reference)

    @strawberry.field(description="The first ETA the customer was given.")
    def promised_date(self) -> date | None:
        return self._b.promised_date

    @strawberry.field(permission_classes=[IsStaff], description="Agent override: higher is served first.")
    def priority(self) -> int:
        return self._b.priority_override

    @strawberry.field(permission_classes=[IsStaff])
    def priority_reason(self) -> str | None:
        return self._b.priority_reason

    @strawberry.field(permission_classes=[IsStaff], description="Why it got the units it got at the last allocation.")
    def allocation_reason(self) -> str | None:
        return self._b.allocation_reason

    @strawberry.field
    def updated_at(self) -> datetime | None:
        return self._b.updated_at

    @strawberry.field(description="What changed and why. Customers read each cause in plain words, and no "
                                  "PRIORITY entries.")
    async def history(self, info: Ctx) -> list[HistoryEntry]:
        entries = await info.context.loaders.history_by_backorder.load(self._b.id)
        if _staff(info):
            return [HistoryEntry(at=h.at, kind=HistoryKind(h.kind), old_value=h.old_value, new_value=h.new_value,
                                 cause=h.cause) for h in entries]
        return [HistoryEntry(at=h.at, kind=HistoryKind(h.kind), old_value=h.old_value, new_value=h.new_value,
                             cause=customer_cause(h.kind, h.cause))
                for h in entries if h.kind in CUSTOMER_HISTORY_KINDS]

    @strawberry.field
    async def order(self, info: Ctx) -> Order | None:
        o = await info.context.loaders.order_by_id.load(self._b.order_id)
        return Order(_o=o) if o else None

    @strawberry.field
    async def product(self, info: Ctx) -> Product | None:
        p = await info.context.loaders.product_by_sku.load(self._b.sku)
        return Product(_p=p) if p else None

    @strawberry.field(description="The product's substitutes with what is in stock now; best first.")
    async def substitutes(self, info: Ctx) -> list[SubstituteOption]:
        loaders = info.context.loaders
        product = await loaders.product_by_sku.load(self._b.sku)
        if product is None or not product.substitutes:
            return []
        candidates = await loaders.product_by_sku.load_many(product.substitutes)
        stock = await loaders.stock_by_sku.load_many(product.substitutes)
        options = []
        for candidate, levels in zip(candidates, stock, strict=True):
            if candidate is None:
                continue
            atp = sum(s.available_to_promise for s in levels)
            same_currency = candidate.price.currency == product.price.currency
            diff = (candidate.price - product.price) if same_currency else candidate.price
            options.append(SubstituteOption(
                product=Product(_p=candidate), _available_to_promise=atp,
                available=self._b.is_active and atp >= max(1, self._b.waiting_quantity),
                price_difference=Money.of(diff),
            ))
        return sorted(options, key=lambda o: not o.available)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = strawberry.field(
        default=False, description="Forward paging only: true when the page starts after a cursor.")
    start_cursor: str | None = None


T = TypeVar("T")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int

    @strawberry.field
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]

    @staticmethod
    def of(pairs: list[tuple[str, T]], has_next: bool, total: int, *, after: str | None = None) -> Connection[T]:
        edges = [Edge(cursor=encode_cursor(key), node=node) for key, node in pairs]
        return Connection(edges=edges, page_info=PageInfo(
            has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=after is not None, start_cursor=edges[0].cursor if edges else None),
            total_count=total)


@strawberry.type(description="Key figures of the backorder book.")
class Kpis:
    open_backorders: int
    units_waiting: int
    units_allocated_not_shipped: int
    overdue_backorders: int
    skus_with_backorders: int
    orders: int
    orders_with_backorders: int
    fill_rate: float = strawberry.field(description="Share of ordered units allocated at placement, 0..1.")
    mean_wait_days: float | None = strawberry.field(description="Mean days from backorder to fully allocated.")


@strawberry.type
class Viewer:
    name: str
    role: str
    customer_email: str | None

    @strawberry.field(description="Signed in with an order number and email: this session opens that one order "
                                  "and nothing account-wide (no preferences); a sign-in link opens the account.")
    def order_only(self, info: Ctx) -> bool:
        principal = info.context.principal
        return principal is not None and not principal.has_account
