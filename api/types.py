"""GraphQL object types. Each wraps a domain object (never an ORM row); related objects come
through the request's DataLoaders, so a list of N things costs a fixed number of statements.

Customers read the same types as staff, less the shop's internals (exact stock, purchase order numbers,
tiers, priorities) and with history written for them: see "what customers read" below."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from api.context import Context, Loaders, load_many_now, load_now
from api.ids import encode_cursor, encode_id
from api.permissions import IsStaff
from domain import allocation
from domain import model as m
from domain.errors import DomainError
from domain.errors import ErrorCode as DomainErrorCode
from domain.eta import Confidence, EtaSource
from notifications import wording

ErrorCode = strawberry.enum(DomainErrorCode, name="ErrorCode", description="Stable codes of user errors.")
BackorderStatus = strawberry.enum(m.BackorderStatus, name="BackorderStatus")
Channel = strawberry.enum(m.Channel, name="Channel", description="Where an order was placed.")
BackorderPolicy = strawberry.enum(
    m.BackorderPolicy, name="BackorderPolicy",
    description="ALLOW: sell beyond stock; DENY: refuse lines that cannot be filled; PREORDER: sell before release.")
AllocationPolicy = strawberry.enum(
    allocation.AllocationPolicy, name="AllocationPolicy",
    description="How arriving stock is shared: PRIORITY hands it out strictly in queue order; FAIR_SHARE first "
                "gives each waiting backorder up to a minimum, then the rest in queue order.")
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
# Causes are data (domain.causes); staff and customers read them worded by notifications.wording, the one
# place where every audience's words live (history here, live updates, emails and texts alike).
update_message = wording.update_message
visible_to_customer = wording.visible_to_customer


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
        return self._p.fair_share_minimum if _staff(info) else None

    @strawberry.field(description="FAIR_SHARE: at most this many units of one receipt per customer while "
                                  "another customer still waits; null: no cap (null for customers).")
    def customer_cap_per_receipt(self, info: Ctx) -> int | None:
        return self._p.customer_cap_per_receipt if _staff(info) else None

    @strawberry.field(description="At most this many units may wait on backorder; null: no cap (and null for "
                                  "customers: the shop's own figure).")
    def backorder_limit(self, info: Ctx) -> int | None:
        return self._p.backorder_limit if _staff(info) else None

    @strawberry.field(description="The product's own lead time in days (null for customers: the shop's own figure).")
    def lead_time_days(self, info: Ctx) -> int | None:
        return self._p.lead_time_days if _staff(info) else None

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
        return self._c.tier if _staff(info) else None

    @staticmethod
    def of(c: m.Customer) -> Customer:
        return Customer(email=c.email, name=c.name, _c=c)


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


@strawberry.type
class Backorder:
    _b: strawberry.Private[m.Backorder]
    id: strawberry.ID
    sku: str
    status: BackorderStatus  # type: ignore[valid-type]
    customer_email: str
    channel: Channel  # type: ignore[valid-type]
    ordered_at: datetime
    original_quantity: int = strawberry.field(description="Units first backordered.")
    quantity: int = strawberry.field(
        description="Units this backorder still owes (cancelled and substituted units leave it).")
    allocated_quantity: int = strawberry.field(description="Units set aside for it so far (shipped ones included).")
    backordered_quantity: int = strawberry.field(description="Units still waiting for stock.")
    shipped_quantity: int
    cancelled_quantity: int
    substituted_quantity: int
    queue_position: int | None = strawberry.field(description="1 = next to be served; null once nothing waits.")
    eta: Eta | None
    promised_date: date | None = strawberry.field(description="The first ETA the customer was given.")
    priority: int = strawberry.field(permission_classes=[IsStaff],
                                     description="Agent override: higher is served first.")
    priority_reason: str | None = strawberry.field(permission_classes=[IsStaff])
    allocation_reason: str | None = strawberry.field(
        permission_classes=[IsStaff], description="Why it got the units it got at the last allocation.")
    updated_at: datetime | None

    @staticmethod
    def of(b: m.Backorder) -> Backorder:
        active, e = b.is_active, b.eta
        return Backorder(
            _b=b, id=strawberry.ID(encode_id("Backorder", b.id)), sku=b.sku, status=b.status,
            customer_email=b.customer_email, channel=b.channel, ordered_at=b.ordered_at,
            original_quantity=b.original_quantity, quantity=b.quantity, allocated_quantity=b.allocated_quantity,
            backordered_quantity=b.waiting_quantity, shipped_quantity=b.shipped_quantity,
            cancelled_quantity=b.cancelled_quantity, substituted_quantity=b.substituted_quantity,
            queue_position=b.queue_position if active else None,
            eta=Eta(date=e.date, confidence=e.confidence, source=e.source, _purchase_order_number=e.reference)
            if e is not None and active else None,
            promised_date=b.promised_date, priority=b.priority_override, priority_reason=b.priority_reason,
            allocation_reason=b.allocation_reason, updated_at=b.updated_at)

    @staticmethod
    def maybe(b: m.Backorder | None) -> Backorder | None:
        return Backorder.of(b) if b is not None else None


    @strawberry.field(description="What changed and why. Customers read each cause in plain words, and no "
                                  "PRIORITY entries.")
    def history(self, info: Ctx) -> list[HistoryEntry]:
        loaders = info.context.loaders
        if _staff(info):
            return load_now(loaders.history_by_backorder, self._b.id, lambda entries: history_entries(entries, True))
        # a customer reads only their own backorders: worded in their language
        return load_now(loaders.history_by_backorder, self._b.id, lambda entries: load_now(
            loaders.language_by_email, self._b.customer_email,
            lambda language: history_entries(entries, False, language)))

    @strawberry.field(description="Why it is where it is in the queue, in words its customer can read (their "
                                  "language; English for staff, who also read allocationReason): \"You are 3rd in "
                                  "line: 2 orders placed before yours are waiting.\" Null once nothing waits.")
    def queue_explanation(self, info: Ctx) -> str | None:
        b, loaders = self._b, info.context.loaders
        if not b.is_active or b.queue_position is None:
            return None
        position = b.queue_position

        def worded(placed_before: int, product: m.Product | None, language: str) -> str:
            fair = product is not None and product.allocation_policy is allocation.AllocationPolicy.FAIR_SHARE
            return wording.queue_explanation(position, placed_before, fair_share=fair, language=language)

        def in_language(language: str) -> Any:
            return load_now(loaders.placed_before_by_backorder, b.id, lambda placed_before: load_now(
                loaders.product_by_sku, b.sku, lambda product: worded(placed_before, product, language)))

        if _staff(info):
            return in_language("en")
        return load_now(loaders.language_by_email, b.customer_email, in_language)

    @strawberry.field
    def order(self, info: Ctx) -> Order | None:
        return load_now(info.context.loaders.order_by_id, self._b.order_id, Order.maybe)

    @strawberry.field
    def product(self, info: Ctx) -> Product | None:
        return load_now(info.context.loaders.product_by_sku, self._b.sku, Product.maybe)

    @strawberry.field(description="The product's substitutes with what is in stock now; best first.")
    def substitutes(self, info: Ctx) -> list[SubstituteOption]:
        loaders, today = info.context.loaders, info.context.desk.clock.today()
        return load_now(loaders.product_by_sku, self._b.sku, lambda product: self._options(loaders, product, today))

    def _options(self, loaders: Loaders, product: m.Product | None, today: date) -> Any:
        if product is None or not product.substitutes:
            return []
        skus = product.substitutes
        return load_many_now(loaders.product_by_sku, skus, lambda candidates: load_many_now(
            loaders.stock_by_sku, skus, lambda stock: self._ranked(product, candidates, stock, today)))

    def _ranked(self, product: m.Product, candidates: list[m.Product | None],
                stock: list[list[m.StockLevel]], today: date) -> list[SubstituteOption]:
        b, options = self._b, []
        for candidate, levels in zip(candidates, stock, strict=True):
            if candidate is None:
                continue
            atp = sum(s.available_to_promise for s in levels)
            same_currency = candidate.price.currency == product.price.currency
            diff = (candidate.price - product.price) if same_currency else candidate.price
            options.append(SubstituteOption(
                product=Product.of(candidate), _available_to_promise=atp,
                available=b.is_active and atp >= max(1, b.waiting_quantity) and not candidate.is_preorder(today),
                price_difference=Money.of(diff),
            ))
        return sorted(options, key=lambda o: not o.available)


def history_entries(entries: list[m.HistoryEntry], staff: bool, language: str = "en") -> list[HistoryEntry]:
    """A backorder's history as its reader may see it: all of it for staff, worded for customers."""
    if staff:
        return [HistoryEntry(at=h.at, kind=HistoryKind(h.kind), old_value=h.old_value, new_value=h.new_value,
                             cause=wording.staff_cause(h.cause)) for h in entries]
    return [HistoryEntry(at=h.at, kind=HistoryKind(h.kind), old_value=h.old_value, new_value=h.new_value,
                         cause=wording.customer_cause(h.kind, h.cause, language))
            for h in entries if h.kind in wording.CUSTOMER_HISTORY_KINDS]


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
    nodes: list[T]

    @staticmethod
    def of(pairs: list[tuple[str, T]], has_next: bool, total: int, *, after: str | None = None) -> Connection[T]:
        edges = [Edge(cursor=encode_cursor(key), node=node) for key, node in pairs]
        return Connection(edges=edges, page_info=PageInfo(
            has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=after is not None, start_cursor=edges[0].cursor if edges else None),
            total_count=total, nodes=[node for _, node in pairs])


@strawberry.type(description="Key figures of the backorder book.")
class Kpis:
    open_backorders: int = strawberry.field(description=(
        "Backorders not yet shipped, cancelled or substituted: those waiting for stock (WAITING, "
        "PARTIALLY_ALLOCATED) and those whose units are held for shipping (ALLOCATED)."))
    units_waiting: int = strawberry.field(description="Units of open backorders not yet allocated.")
    units_allocated_not_shipped: int
    overdue_backorders: int
    skus_with_backorders: int
    orders: int
    orders_with_backorders: int
    fill_rate: float = strawberry.field(description="Share of ordered units allocated at placement, 0..1.")
    mean_wait_days: float | None = strawberry.field(description="Mean days from backorder to fully allocated.")
    age_buckets: list[AgeBucket] = strawberry.field(description=(
        "openBackorders and unitsWaiting by days since the backorder was made (the buckets add up to them)."))


@strawberry.type(description="Open backorders of one age range.")
class AgeBucket:
    label: str
    min_days: int
    max_days: int | None = strawberry.field(description="Null: no upper bound.")
    backorders: int
    units: int = strawberry.field(description="Units still waiting for stock.")


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


# -- prefetch ---------------------------------------------------------------------------------
# A list resolver loads, in a few batches, the related objects its query will ask for, before returning: the
# fields below it then find them in the loaders and complete without an await (see `load_now`). The batches
# are the ones the fields would have made themselves, so this adds no statement, it only saves the awaits.
Path = tuple[str, ...]


def selected_paths(info: Ctx) -> set[Path]:
    """Every path of fields the query selects under the current field, by GraphQL name, fragments flattened and
    a connection's `nodes` / `edges { node }` dropped, e.g. ("lines", "backorder", "history")."""
    out: set[Path] = set()

    def walk(selections: list[Any], prefix: Path) -> None:
        for selection in selections:
            if isinstance(selection, SelectedField):
                path = prefix + (selection.name,)
                if path in (("nodes",), ("edges",), ("edges", "node")):
                    walk(selection.selections, ())
                    continue
                out.add(path)
                walk(selection.selections, path)
            else:  # a fragment: its fields are the parent's
                walk(selection.selections, prefix)

    for field in info.selected_fields:
        walk(field.selections, ())
    return out


async def prefetch(info: Ctx, orders: Sequence[m.Order] = (), backorders: Sequence[m.Backorder] = ()) -> None:
    """Load what the query selects below these orders (or backorders): line products, backorders, their
    history, products and substitutes (with the substitutes' stock)."""
    wants = selected_paths(info)
    loaders = info.context.loaders
    lines = [line for o in orders for line in o.lines]
    roots: list[Path] = [()] if backorders else []  # where backorders sit in the selection
    ids: list[str] = []
    if ("lines", "backorder") in wants:
        roots.append(("lines", "backorder"))
        ids += [line.backorder_id for line in lines if line.backorder_id]
    if ("lines", "substituteFor") in wants:
        roots.append(("lines", "substituteFor"))
        ids += [line.substitute_for for line in lines if line.substitute_for]
    if ("backorders",) in wants and orders:
        roots.append(("backorders",))
        ids += [line.backorder_id for line in lines if line.backorder_id]
    if not roots and ("lines", "product") not in wants:
        return
    ids = list(dict.fromkeys(ids))
    wanted = {field for root in roots for field in ("history", "product", "substitutes") if root + (field,) in wants}
    first: list[Awaitable[Any]] = []
    of_backorders = bool(wanted & {"product", "substitutes"})  # a line's backorder is of the line's SKU
    skus = {line.sku for line in lines} if ("lines", "product") in wants or of_backorders else set()
    skus |= {b.sku for b in backorders} if of_backorders else set()
    if skus:
        first.append(loaders.product_by_sku.load_many(list(skus)))
    if ids:
        first.append(loaders.backorder_by_id.load_many(ids))
    if "history" in wanted:
        first.append(loaders.history_by_backorder.load_many(ids + [b.id for b in backorders]))
        if not _staff(info):  # worded in the customer's language (a customer reads only their own)
            email = info.context.principal.customer_email if info.context.principal else None
            if email:
                first.append(loaders.language_by_email.load(email))
    await asyncio.gather(*first)
    if "substitutes" not in wanted:
        return
    found = [b for b in await loaders.backorder_by_id.load_many(ids) if b is not None] + list(backorders)
    products = await loaders.product_by_sku.load_many(list({b.sku for b in found}))
    substitutes = list({sku: None for p in products if p is not None for sku in p.substitutes})
    if substitutes:
        await asyncio.gather(loaders.product_by_sku.load_many(substitutes), loaders.stock_by_sku.load_many(substitutes))
