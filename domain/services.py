"""The use cases: each one a single transaction over a unit of work, ending with `settle()` of every
SKU it touched (allocate what is available to the queue, re-project ETAs, announce what changed).

Callers (the GraphQL API, the CLI, importers) pass plain values; bad input raises a typed
`DomainError` before anything is written, and any error rolls the whole use case back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, TypeVar

from domain import events as ev
from domain.allocation import AllocationPolicy
from domain.causes import Actor, Cause, CauseKind, RequestedBy
from domain.clock import Clock
from domain.customers import check_phone
from domain.errors import (
    Conflict,
    ErrorCode,
    InvalidInput,
    InvalidState,
    NotFound,
    NothingToShip,
    SubstituteError,
    not_found,
    on_line,
)
from domain.eta import Eta
from domain.limits import MAX_KEY_LENGTH, MAX_TEXT_LENGTH, check_code, check_location, check_text
from domain.model import (
    DEFAULT_LOCATION,
    Backorder,
    BackorderPolicy,
    BackorderStatus,
    Channel,
    Customer,
    CustomerTier,
    Money,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    SkuInventory,
    Supplier,
    check_email,
    check_quantity,
    check_sku,
    new_id,
    readable_number,
)
from domain.ports import UnitOfWork, UnitOfWorkFactory

MAX_ORDER_LINES = 200


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True)
class CustomerDetails:
    email: str
    name: str = ""
    phone: str | None = None
    tier: CustomerTier | None = None


@dataclass(frozen=True)
class ProductInput:
    sku: str
    name: str
    price: Decimal
    currency: str = "EUR"
    backorder_policy: BackorderPolicy = BackorderPolicy.ALLOW
    backorder_limit: int | None = None
    release_date: date | None = None
    substitutes: Sequence[str] = ()
    supplier_id: str | None = None
    lead_time_days: int | None = None
    allocation_policy: AllocationPolicy = AllocationPolicy.PRIORITY
    fair_share_minimum: int | None = None
    customer_cap_per_receipt: int | None = None


@dataclass(frozen=True)
class AllocationPreviewLine:
    """What a receipt would do to one waiting backorder: the units it would give, and the status, queue position
    and ETA the backorder would then have."""

    backorder_id: str
    allocated_quantity: int
    status: BackorderStatus
    queue_position: int | None
    eta: Eta | None


@dataclass
class Shipment:
    id: str
    order_id: str
    units: int
    lines: dict[str, int] = field(default_factory=dict)  # order line id -> units


class BackorderDesk:
    """The application service: every write the product offers."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock | None = None) -> None:
        self._uow = uow
        self.clock = clock or Clock()

    # -- catalogue ----------------------------------------------------------------------------
    async def upsert_product(self, data: ProductInput) -> Product:
        now = self.clock.now()
        sku = check_sku(data.sku)
        substitutes = [check_sku(s, "substitutes") for s in data.substitutes]
        async with self._uow() as uow:
            await uow.lock_skus([sku])
            existing = await uow.get_product(sku)
            if data.supplier_id is not None and await uow.get_supplier(data.supplier_id) is None:
                raise not_found("supplier", data.supplier_id, field="supplierId")
            for s in substitutes:
                if s != sku and await uow.get_product(s) is None:
                    raise not_found("product", s, field="substitutes")
            product = Product(
                sku=sku,
                name=data.name.strip(),
                price=Money.of(data.price, data.currency),
                backorder_policy=data.backorder_policy,
                backorder_limit=data.backorder_limit,
                release_date=data.release_date,
                substitutes=substitutes,
                supplier_id=data.supplier_id,
                lead_time_days=data.lead_time_days,
                allocation_policy=data.allocation_policy,
                fair_share_minimum=data.fair_share_minimum,
                customer_cap_per_receipt=data.customer_cap_per_receipt,
                version=existing.version if existing else 0,
            )
            product.validate()
            await uow.save_product(product)
            uow.add_events([ev.ProductChanged(occurred_at=now, sku=sku)])
            if existing is not None:
                inventory = await uow.inventory(sku)
                inventory.settle(now, Cause(kind=CauseKind.PRODUCT_CHANGED, actor=Actor.AGENT, reference=sku))
                await self._save(uow, inventory)
            await uow.commit()
            return product

    async def upsert_supplier(self, supplier_id: str | None, name: str, lead_time_days: int) -> Supplier:
        name = check_text(name, "name", required=True, what="a supplier's name")
        if isinstance(lead_time_days, bool) or not 0 <= lead_time_days <= 3650:
            raise InvalidInput("lead time must be between 0 and 3650 days", field="leadTimeDays")
        async with self._uow() as uow:
            supplier = await uow.get_supplier(supplier_id) if supplier_id else None
            if supplier_id and supplier is None:
                raise not_found("supplier", supplier_id)
            if supplier is None:
                supplier = Supplier(id=new_id(), name=name.strip(), lead_time_days=lead_time_days)
                await uow.save_supplier(supplier)
            else:
                # a new lead time moves the ETAs that come from it: lock, then read again under the locks
                skus = await uow.skus_supplied_by(supplier.id)
                await uow.lock_skus(skus)
                supplier = await uow.get_supplier(supplier.id)
                assert supplier is not None
                supplier.name, supplier.lead_time_days = name.strip(), lead_time_days
                await uow.save_supplier(supplier)
                await self._settle(uow, skus, Cause(kind=CauseKind.SUPPLIER_LEAD_TIME, actor=Actor.AGENT,
                                                     reference=supplier.name, quantity=lead_time_days))
            uow.add_events([ev.SupplierChanged(occurred_at=self.clock.now(), supplier_id=supplier.id,
                                               name=supplier.name, lead_time_days=supplier.lead_time_days)])
            await uow.commit()
            return supplier

    # -- stock --------------------------------------------------------------------------------
    async def receive_stock(self, sku: str, quantity: int, location: str = DEFAULT_LOCATION,
                            cause: str = "stock received") -> SkuInventory:
        async with self._uow() as uow:
            inventory, _ = await self._receipt(uow, sku, quantity, location, cause)
            await self._save(uow, inventory)
            await uow.commit()
            return inventory

    async def preview_receipt(self, sku: str, quantity: int,
                              location: str = DEFAULT_LOCATION) -> list[AllocationPreviewLine]:
        """What receive_stock would do, without writing anything: the same receipt on the same locked aggregate,
        then the unit of work rolls back instead of committing. One line per backorder that was waiting, in the
        order the queue was served."""
        async with self._uow() as uow:
            inventory, lines = await self._receipt(uow, sku, quantity, location, "stock received", preview=True)
            inventory.check_invariants()
            return lines  # no commit: nothing is saved and no event leaves

    async def refresh_stale_etas(self) -> list[str]:
        """Time alone moves ETAs: when a purchase order's date passes without delivery, the backorders it
        covered would show a date in the past. Re-project those SKUs (now LOW confidence, not before today)
        and announce what moved. One short transaction per SKU; safe to run from any number of workers.
        Returns the SKUs refreshed."""
        today = self.clock.now().date()
        async with self._uow() as uow:
            skus = await uow.skus_with_stale_etas(today)
        for sku in skus:
            async with self._uow() as uow:
                await uow.lock_skus([sku])
                await self._settle(uow, [sku], Cause(kind=CauseKind.ETA_OVERDUE))
                await uow.commit()
        return skus

    async def adjust_stock(self, sku: str, delta: int, reason: str, location: str = DEFAULT_LOCATION,
                           safety_stock: int | None = None) -> SkuInventory:
        now = self.clock.now()
        sku = check_sku(sku)
        async with self._uow() as uow:
            await uow.lock_skus([sku])
            inventory = await uow.inventory(sku)
            if delta:
                inventory.adjust(location, delta, now, reason)
            if safety_stock is not None:
                inventory.set_safety_stock(location, safety_stock)
            if not delta and safety_stock is None:
                raise InvalidInput("nothing to adjust: give a delta or a safety stock", field="delta")
            inventory.settle(now, Cause(kind=CauseKind.STOCK_ADJUSTED, actor=Actor.AGENT, reason=reason))
            await self._save(uow, inventory)
            await uow.commit()
            return inventory

    # -- purchase orders ----------------------------------------------------------------------
    async def create_purchase_order(
        self,
        supplier_id: str,
        expected_date: date,
        lines: Sequence[LineRequest],
        number: str | None = None,
        location: str = DEFAULT_LOCATION,
    ) -> PurchaseOrder:
        now = self.clock.now()
        po = PurchaseOrder(
            id=new_id(),
            number=readable_number("PO", now) if number is None else check_code(number, "number",
                                                                                "purchase order number"),
            supplier_id=supplier_id,
            expected_date=expected_date,
            lines=[_po_line(index, line) for index, line in enumerate(lines)],
            location=check_location(location),
            created_at=now,
        )
        po.validate()
        if expected_date < now.date():
            raise InvalidInput("the expected date is in the past", field="expectedDate")
        skus = sorted(line.sku for line in po.lines)
        async with self._uow() as uow:
            if await uow.get_supplier(supplier_id) is None:
                raise not_found("supplier", supplier_id, field="supplierId")
            while not number and await uow.purchase_order_number_taken(po.number):
                po.number = readable_number("PO", now)  # a drawn number met another: draw again
            await uow.lock_skus(skus)
            for index, line in enumerate(po.lines):
                if await uow.get_product(line.sku) is None:
                    with on_line(index):
                        raise not_found("product", line.sku, field="lines.sku")
            await uow.save_purchase_order(po)
            uow.add_events([self._po_event(po, now, "created")])
            await self._settle(uow, skus, Cause(kind=CauseKind.PO_CREATED, actor=Actor.AGENT, reference=po.number,
                                                 new=expected_date.isoformat()))
            await uow.commit()
            return po

    async def update_purchase_order(
        self,
        purchase_order_id: str,
        expected_date: date | None = None,
        quantities: Sequence[LineRequest] = (),
        cancel: bool = False,
    ) -> PurchaseOrder:
        now = self.clock.now()
        quantities = [_checked_line(index, q) for index, q in enumerate(quantities)]
        async with self._uow() as uow:
            po = await self._locked_purchase_order(uow, purchase_order_id, [q.sku for q in quantities])
            skus = sorted({line.sku for line in po.lines} | {q.sku for q in quantities})
            po.require_open()
            changes: list[str] = []
            old_date = po.expected_date
            line_changes: list[tuple[str, int | None, int]] = []
            if expected_date is not None and expected_date != po.expected_date:
                if expected_date < now.date():
                    raise InvalidInput("the expected date is in the past", field="expectedDate")
                changes.append(f"date {po.expected_date.isoformat()} → {expected_date.isoformat()}")
                po.expected_date = expected_date
            for index, q in enumerate(quantities):
                with on_line(index):
                    line = po.line(q.sku)
                    check_quantity(q.quantity, "lines.quantity", allow_zero=True)
                    if line is None:
                        if await uow.get_product(q.sku) is None:
                            raise not_found("product", q.sku, field="lines.sku")
                        if q.quantity:
                            po.lines.append(PurchaseOrderLine(q.sku, q.quantity))
                            changes.append(f"{q.sku} added ({q.quantity})")
                            line_changes.append((q.sku, None, q.quantity))
                        continue
                    if q.quantity < line.received_quantity:
                        raise InvalidInput(
                            f"{q.sku}: {line.received_quantity} already received; the quantity cannot be lower",
                            field="lines.quantity",
                        )
                    if q.quantity != line.quantity:
                        changes.append(f"{q.sku} {line.quantity} → {q.quantity}")
                        line_changes.append((q.sku, line.quantity, q.quantity))
                        line.quantity = q.quantity
            if cancel:
                po.status = PurchaseOrderStatus.CANCELLED
                changes.append("cancelled")
            elif po.lines and all(line.outstanding == 0 for line in po.lines) and any(
                line.received_quantity for line in po.lines
            ):
                po.status = PurchaseOrderStatus.RECEIVED
            if not changes:
                raise InvalidInput("nothing to change", field="input")
            await uow.save_purchase_order(po)
            uow.add_events([self._po_event(po, now, "; ".join(changes))])
            if cancel:
                po_cause = Cause(kind=CauseKind.PO_CANCELLED, actor=Actor.AGENT, reference=po.number)
            else:
                moved = po.expected_date != old_date
                po_cause = Cause(kind=CauseKind.PO_CHANGED, actor=Actor.AGENT, reference=po.number,
                                 old=old_date.isoformat() if moved else None,
                                 new=po.expected_date.isoformat() if moved else None, lines=tuple(line_changes))
            await self._settle(uow, skus, po_cause)
            await uow.commit()
            return po

    async def receive_purchase_order(
        self, purchase_order_id: str, quantities: Sequence[LineRequest] | None = None
    ) -> PurchaseOrder:
        now = self.clock.now()
        async with self._uow() as uow:
            po = await self._locked_purchase_order(uow, purchase_order_id)
            skus = sorted(line.sku for line in po.lines)
            if quantities is None:
                po.require_open()
                received = po.receive_all()
            else:
                wanted: dict[str, int] = {}
                for index, q in enumerate(quantities):
                    with on_line(index):
                        sku = check_sku(q.sku, "lines.sku")
                        if sku in wanted:
                            raise InvalidInput(f"{sku} is listed twice", field="lines")
                    wanted[sku] = q.quantity
                received = po.receive(wanted)
            if po.status is PurchaseOrderStatus.RECEIVED:
                supplier = await uow.get_supplier(po.supplier_id)
                if supplier is not None:
                    supplier.record_delivery(po.expected_date, now.date())
                    await uow.save_supplier(supplier)
            await uow.save_purchase_order(po)
            uow.add_events([self._po_event(po, now, "received")])
            await uow.load_inventories(skus)
            po_received = Cause(kind=CauseKind.PO_RECEIVED, actor=Actor.AGENT, reference=po.number)
            for sku in skus:
                inventory = await uow.inventory(sku)
                if sku in received:
                    inventory.receive(po.location, received[sku], now, po_received)
                inventory.settle(now, po_received)
                await self._save(uow, inventory)
            await uow.commit()
            return po

    # -- orders -------------------------------------------------------------------------------
    async def place_order(
        self,
        customer: CustomerDetails,
        channel: Channel,
        lines: Sequence[LineRequest],
        *,
        ship_complete: bool = False,
        location: str | None = None,
        idempotency_key: str | None = None,
    ) -> Order:
        email = check_email(customer.email, "customer.email")
        if not lines:
            raise InvalidInput("an order needs at least one line", field="lines")
        if len(lines) > MAX_ORDER_LINES:
            raise InvalidInput(f"an order has at most {MAX_ORDER_LINES} lines", field="lines")
        merged: dict[str, int] = {}
        first_line: dict[str, int] = {}  # where each SKU is first named: errors about it point there
        for index, line in enumerate(lines):
            with on_line(index):
                sku = check_sku(line.sku, "lines.sku")
                check_quantity(line.quantity, "lines.quantity")
                merged[sku] = merged.get(sku, 0) + line.quantity
                check_quantity(merged[sku], "lines.quantity")
            first_line.setdefault(sku, index)
        if customer.phone is not None and customer.phone.strip():
            customer = replace(customer, phone=check_phone(customer.phone, "customer.phone"))
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_KEY_LENGTH:
            raise InvalidInput(f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters", field="idempotencyKey")
        if idempotency_key is not None:
            check_text(idempotency_key, "idempotencyKey", max_length=MAX_KEY_LENGTH, what="an idempotency key")
        check_text(customer.name, "customer.name", what="a name")
        if location is not None and location.strip():
            location = check_location(location)
        try:
            return await self._place_order(customer, channel, email, merged, first_line, ship_complete, location,
                                           idempotency_key)
        except Conflict:
            if not idempotency_key:
                raise
            # a twin with the same key but other SKUs (so other locks) committed first: that is the order
            async with self._uow() as uow:
                earlier = await uow.get_order_by_key(idempotency_key)
            if earlier is None:
                raise
            return earlier

    async def _place_order(self, customer: CustomerDetails, channel: Channel, email: str, merged: dict[str, int],
                           first_line: dict[str, int], ship_complete: bool, location: str | None,
                           idempotency_key: str | None) -> Order:
        skus = sorted(merged)
        async with self._uow() as uow:
            if idempotency_key:
                earlier = await uow.get_order_by_key(idempotency_key)
                if earlier is not None:
                    return earlier
            await uow.lock_skus(skus)
            if idempotency_key:  # a concurrent twin may have committed while we waited for the lock
                earlier = await uow.get_order_by_key(idempotency_key)
                if earlier is not None:
                    return earlier
            # the order's time is when it holds the SKU locks: concurrent orders queue in the order they
            # really took their place, so a later order can never be served ahead of an earlier one
            now = self.clock.now()
            known = await uow.get_customer(email)
            person = Customer(
                email=email,
                name=(customer.name or (known.name if known else "")).strip(),
                phone=(customer.phone or None) or (known.phone if known else None),
                tier=customer.tier or (known.tier if known else CustomerTier.STANDARD),
            )
            await uow.save_customer(person)
            number = Order.new_number(now)
            while await uow.order_number_taken(number):  # the rare clash of random numbers: draw again
                number = Order.new_number(now)
            order = Order(
                id=new_id(), number=number, channel=channel, customer=person,
                placed_at=now, ship_complete=ship_complete,
            )
            inventories: list[SkuInventory] = []
            await uow.load_inventories(skus, appending_at=now)
            for sku in list(merged):  # one line per SKU, in the order first named, with the summed quantity
                qty = merged[sku]
                with on_line(first_line[sku]):
                    try:
                        inventory = await uow.inventory(sku)
                    except NotFound as error:  # point at the line, as every other line error does
                        raise not_found("product", sku, field="lines.sku") from error
                    order_line = OrderLine(id=new_id(), order_id=order.id, sku=sku, quantity=qty,
                                           unit_price=inventory.product.price)
                    order.lines.append(order_line)
                    inventory.place_line(order, order_line, now, location)
                inventories.append(inventory)
            await uow.save_order(order, idempotency_key)
            backordered = sum(b.quantity for inv in inventories for b in inv.created.values())
            uow.add_events([
                ev.OrderPlaced(occurred_at=now, order_id=order.id, order_number=order.number,
                               customer_email=email, channel=channel.value,
                               skus=tuple(line.sku for line in order.lines), backordered_units=backordered)
            ])
            for inventory in inventories:
                inventory.settle(now, Cause(kind=CauseKind.QUEUE_ORDER_PLACED, reference=order.number))
                await self._save(uow, inventory)
            await uow.commit()
            return order

    async def set_shipping_preference(self, order_id: str, ship_complete: bool) -> Order:
        async with self._uow() as uow:
            order = await self._locked_order(uow, order_id)
            if order.ship_complete != ship_complete:
                order.ship_complete = ship_complete
                await uow.save_order(order)
                uow.add_events([ev.ShippingPreferenceChanged(
                    occurred_at=self.clock.now(), order_id=order.id, customer_email=order.customer.email,
                    ship_complete=ship_complete)])
            await uow.commit()
            return order

    async def cancel_backorder(self, backorder_id: str, quantity: int | None = None, *, by: str = "customer",
                               reason: str = "", requested_by: RequestedBy | None = None) -> Backorder:
        """`by`: "customer" (their own cancel) or the agent's name; an agent says whether the customer asked
        (`requested_by`), so the customer is told "as you asked" or "we had to", never a guess."""
        now = self.clock.now()
        reason = check_text(reason, "reason", max_length=MAX_TEXT_LENGTH, multiline=True, what="a reason")
        async with self._uow() as uow:
            backorder = await self._backorder(uow, backorder_id)
            await uow.lock_skus([backorder.sku])
            inventory = await uow.inventory(backorder.sku)
            backorder = self._in_queue(inventory, backorder_id)
            inventory.cancel(backorder, quantity, now, by=by, reason=reason.strip(), requested_by=requested_by)
            inventory.settle(now, Cause(kind=CauseKind.QUEUE_CANCELLATION, reference=backorder.sku))
            await self._save(uow, inventory)
            await uow.commit()
            return backorder

    async def accept_substitute(self, backorder_id: str, substitute_sku: str) -> tuple[Backorder, OrderLine]:
        now = self.clock.now()
        substitute_sku = check_sku(substitute_sku, "substituteSku")
        async with self._uow() as uow:
            backorder = await self._backorder(uow, backorder_id)
            product = await uow.get_product(backorder.sku)
            if product is None or substitute_sku not in product.substitutes:
                raise SubstituteError(f"{substitute_sku} is not a substitute for {backorder.sku}",
                                      field="substituteSku", code=ErrorCode.NOT_A_SUBSTITUTE)
            await uow.lock_skus(sorted({backorder.sku, substitute_sku}))
            original = await uow.inventory(backorder.sku)
            backorder = self._in_queue(original, backorder_id)
            if backorder.waiting_quantity == 0:
                raise InvalidState("nothing is waiting on this backorder: it is fully allocated",
                                   field="backorderId")
            replacement = await uow.inventory(substitute_sku)
            order = await uow.get_order(backorder.order_id)
            assert order is not None
            line = OrderLine(id=new_id(), order_id=order.id, sku=substitute_sku,
                             quantity=backorder.waiting_quantity, unit_price=replacement.product.price,
                             substitute_for=backorder.id)
            replacement.reserve_for_substitute(line, now.date())
            original.substitute_out(backorder, now, substitute_sku, line.id)
            order.lines.append(line)
            await uow.save_order(order)
            original.settle(now, Cause(kind=CauseKind.QUEUE_SUBSTITUTE, reference=substitute_sku))
            replacement.settle(now, Cause(kind=CauseKind.SUBSTITUTE_TAKEN, reference=backorder.sku))
            await self._save(uow, original)
            await self._save(uow, replacement)
            await uow.commit()
            return backorder, line

    async def reprioritize_backorder(self, backorder_id: str, priority: int, reason: str, agent: str) -> Backorder:
        async with self._uow() as uow:
            inventory, backorder, _ = await self._reprioritization(uow, backorder_id, priority, reason, agent)
            await self._save(uow, inventory)
            await uow.commit()
            return backorder

    async def preview_reprioritization(self, backorder_id: str, priority: int,
                                       agent: str = "preview") -> list[AllocationPreviewLine]:
        """What reprioritize_backorder would do, without writing anything (as preview_receipt)."""
        async with self._uow() as uow:
            inventory, _, lines = await self._reprioritization(uow, backorder_id, priority, "preview", agent,
                                                               preview=True)
            inventory.check_invariants()
            return lines  # no commit: nothing is saved and no event leaves

    async def offer_substitute(self, backorder_id: str, substitute_sku: str, agent: str) -> Backorder:
        """An agent suggests an alternative to a waiting customer; the customer decides (accept_substitute)."""
        now = self.clock.now()
        substitute_sku = check_sku(substitute_sku, "substituteSku")
        async with self._uow() as uow:
            backorder = await self._backorder(uow, backorder_id)
            backorder.require_active()
            if backorder.waiting_quantity == 0:
                raise InvalidState("nothing is waiting on this backorder: it is fully allocated", field="id")
            product = await uow.get_product(backorder.sku)
            if product is None or substitute_sku not in product.substitutes:
                raise SubstituteError(f"{substitute_sku} is not listed as a substitute for {backorder.sku}",
                                      field="substituteSku", code=ErrorCode.NOT_A_SUBSTITUTE)
            uow.add_events([ev.SubstituteOffered(occurred_at=now, backorder_id=backorder.id,
                                                 order_id=backorder.order_id, sku=backorder.sku,
                                                 customer_email=backorder.customer_email,
                                                 substitute_sku=substitute_sku)])
            await uow.commit()
            return backorder

    async def ship_allocated(self, order_id: str) -> Shipment:
        """Ship every unit of the order that is set aside; honours the order's ship-complete choice."""
        now = self.clock.now()
        async with self._uow() as uow:
            order = await self._locked_order(uow, order_id)
            skus = sorted({line.sku for line in order.lines})
            inventories = {sku: await uow.inventory(sku) for sku in skus}
            backorders: dict[str, Backorder] = {}
            for line in order.lines:
                if line.backorder_id:
                    b = inventories[line.sku].queue.get(line.backorder_id)
                    if b is not None:
                        backorders[line.id] = b
            if order.ship_complete and any(b.waiting_quantity for b in backorders.values()):
                raise NothingToShip(
                    f"order {order.number} ships complete and units are still on backorder",
                    field="orderId", code=ErrorCode.SHIP_COMPLETE_PENDING,
                )
            shipment = Shipment(id=new_id(), order_id=order.id, units=0)
            unreleased: list[Product] = []
            for line in order.lines:
                inventory = inventories[line.sku]
                if inventory.product.is_preorder(now.date()):  # held for the customer, not sent before release
                    unreleased.append(inventory.product)
                    continue
                units = inventory.ship_line(line)
                b = backorders.get(line.id)
                if b is not None:
                    units += inventory.ship_backorder(b, now, shipment.id)
                if units:
                    shipment.lines[line.id] = units
                    shipment.units += units
            if not shipment.units and unreleased:
                first = min(unreleased, key=lambda p: p.release_date or now.date())
                raise NothingToShip(
                    f"{first.sku} ({first.name}) is released on {first.release_date}; preorders ship from then",
                    field="orderId", code=ErrorCode.NOT_RELEASED,
                )
            if not shipment.units:
                raise NothingToShip(f"order {order.number} has nothing allocated to ship", field="orderId")
            await uow.save_order(order)
            uow.add_events([ev.OrderShipped(occurred_at=now, order_id=order.id, shipment_id=shipment.id,
                                            customer_email=order.customer.email, units=shipment.units)])
            for inventory in inventories.values():
                inventory.settle(now, Cause(kind=CauseKind.ORDER_SHIPPED, actor=Actor.AGENT, reference=order.number))
                await self._save(uow, inventory)
            await uow.commit()
            return shipment

    # -- helpers ------------------------------------------------------------------------------
    async def _receipt(self, uow: UnitOfWork, sku: str, quantity: int, location: str, note: str,
                       preview: bool = False) -> tuple[SkuInventory, list[AllocationPreviewLine]]:
        """Units arrive and go to the queue: the one receipt both receive_stock and preview_receipt run."""
        now = self.clock.now()
        sku = check_sku(sku)
        check_quantity(quantity)
        location = check_location(location)
        note = check_text(note, "note", max_length=MAX_TEXT_LENGTH, multiline=True, what="a note") or "stock received"
        await uow.lock_skus([sku])
        inventory = await uow.inventory(sku)
        received = Cause(kind=CauseKind.STOCK_RECEIVED, actor=Actor.AGENT, quantity=quantity,
                         reference=location.strip().upper(), reason=note)
        lines = _watch(inventory, now.date(), preview)
        inventory.receive(location, quantity, now, received)
        inventory.settle(now, received)
        return inventory, lines()

    async def _reprioritization(self, uow: UnitOfWork, backorder_id: str, priority: int, reason: str, agent: str,
                                preview: bool = False) -> tuple[SkuInventory, Backorder, list[AllocationPreviewLine]]:
        """An agent's override of the queue: the one change both reprioritize_backorder and its preview run."""
        now = self.clock.now()
        backorder = await self._backorder(uow, backorder_id)
        await uow.lock_skus([backorder.sku])
        inventory = await uow.inventory(backorder.sku)
        backorder = self._in_queue(inventory, backorder_id)
        lines = _watch(inventory, now.date(), preview)
        inventory.reprioritize(backorder, priority, reason, agent, now)
        inventory.settle(now, Cause(kind=CauseKind.QUEUE_REPRIORITIZED, actor=Actor.AGENT, agent=agent))
        return inventory, backorder, lines()

    async def _backorder(self, uow: UnitOfWork, backorder_id: str) -> Backorder:
        backorder = await uow.get_backorder(backorder_id)
        if backorder is None:
            raise not_found("backorder", backorder_id)
        return backorder

    @staticmethod
    def _in_queue(inventory: SkuInventory, backorder_id: str) -> Backorder:
        """The locked, current copy of a backorder; it must still be active."""
        backorder = inventory.queue.get(backorder_id)
        if backorder is None:
            raise InvalidState("this backorder is no longer open", field="id")
        return backorder

    async def _settle(self, uow: UnitOfWork, skus: Sequence[str], cause: Cause) -> None:
        now = self.clock.now()
        await uow.load_inventories(skus)
        for sku in skus:
            inventory = await uow.inventory(sku)
            inventory.settle(now, cause)
            await self._save(uow, inventory)

    @staticmethod
    async def _save(uow: UnitOfWork, inventory: SkuInventory) -> None:
        inventory.check_invariants()
        await uow.save_inventory(inventory)
        uow.add_events(inventory.events)
        inventory.events = []

    @staticmethod
    async def _locked_order(uow: UnitOfWork, order_id: str) -> Order:
        """The order, read under the locks of all its SKUs: every writer of its lines holds one of them."""
        return await _read_under_locks(uow, uow.get_order, "order", order_id)

    @staticmethod
    async def _locked_purchase_order(uow: UnitOfWork, purchase_order_id: str,
                                     extra_skus: Sequence[str] = ()) -> PurchaseOrder:
        """The purchase order, read under the locks of all its SKUs (and `extra_skus`)."""
        return await _read_under_locks(uow, uow.get_purchase_order, "purchase order", purchase_order_id,
                                       extra_skus)

    @staticmethod
    def _po_event(po: PurchaseOrder, now: datetime, change: str) -> ev.PurchaseOrderChanged:
        return ev.PurchaseOrderChanged(
            occurred_at=now,
            purchase_order_id=po.id, number=po.number, status=po.status.value,
            expected_date=po.expected_date, skus=tuple(line.sku for line in po.lines), change=change,
        )


def _watch(inventory: SkuInventory, today: date, preview: bool) -> Callable[[], list[AllocationPreviewLine]]:
    """Remember the backorders waiting now; the returned function says, after a change, what the change did to
    each of them. Nothing to remember when no preview is wanted (a real change on a long queue)."""
    waiting = inventory.ranked_queue(today) if preview else []
    before = {b.id: b.allocated_quantity for b in waiting}

    def lines() -> list[AllocationPreviewLine]:
        return [AllocationPreviewLine(b.id, b.allocated_quantity - before[b.id], b.status,
                                      b.queue_position if b.is_active else None, b.eta if b.is_active else None)
                for b in waiting]
    return lines


class _Line(Protocol):
    @property
    def sku(self) -> str: ...


class _WithLines(Protocol):
    @property
    def lines(self) -> Sequence[_Line]: ...


W = TypeVar("W", bound=_WithLines)


async def _read_under_locks(uow: UnitOfWork, read: Callable[[str], Awaitable[W | None]], kind: str, key: str,
                            extra_skus: Sequence[str] = ()) -> W:
    """An order or purchase order read under the locks of all its SKUs. A line added while we waited for
    them (an accepted substitute, a PO update) brings a new SKU: lock that too and read again."""
    locked: set[str] = set()
    while True:
        found = await read(key)
        if found is None:
            raise not_found(kind, key)
        skus = {line.sku for line in found.lines} | set(extra_skus)
        if skus <= locked:
            return found
        locked |= skus
        await uow.lock_skus(sorted(locked))


def _checked_line(index: int, line: LineRequest) -> LineRequest:
    with on_line(index):
        return LineRequest(check_sku(line.sku, "lines.sku"), line.quantity)


def _po_line(index: int, line: LineRequest) -> PurchaseOrderLine:
    checked = _checked_line(index, line)
    return PurchaseOrderLine(checked.sku, checked.quantity)

