"""Order use cases: placing an order (allocate now, backorder the rest), the ship-complete choice, shipping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from domain import events as ev
from domain.causes import Actor, Cause, CauseKind
from domain.commands import CustomerDetails, LineRequest, Shipment
from domain.customers import check_phone
from domain.errors import Conflict, ErrorCode, InvalidInput, NotFound, NothingToShip, not_found, on_line
from domain.limits import MAX_KEY_LENGTH, check_location, check_text
from domain.model import (
    Backorder,
    Channel,
    Customer,
    CustomerTier,
    Order,
    OrderLine,
    Product,
    SkuInventory,
    check_email,
    check_quantity,
    check_sku,
    new_id,
)
from domain.use_cases.preferences import substitute_new_backorders
from domain.use_cases.reference_data import known_location
from domain.use_cases.shared import Deps, locked_order, save

MAX_ORDER_LINES = 200


async def place_order(
    deps: Deps,
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
        raise InvalidInput(f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters", field="idempotency_key")
    if idempotency_key is not None:
        check_text(idempotency_key, "idempotency_key", max_length=MAX_KEY_LENGTH, what="an idempotency key")
    check_text(customer.name, "customer.name", what="a name")
    if location is not None and location.strip():
        location = check_location(location)
    try:
        return await _place_order(deps, customer, channel, email, merged, first_line, ship_complete, location,
                                       idempotency_key)
    except Conflict:
        if not idempotency_key:
            raise
        # a twin with the same key but other SKUs (so other locks) committed first: that is the order
        async with deps.uow() as uow:
            earlier = await uow.get_order_by_key(idempotency_key)
        if earlier is None:
            raise
        return earlier


async def _place_order(deps: Deps, customer: CustomerDetails, channel: Channel, email: str, merged: dict[str, int],
                       first_line: dict[str, int], ship_complete: bool, location: str | None,
                       idempotency_key: str | None) -> Order:
    skus = sorted(merged)
    async with deps.uow() as uow:
        if idempotency_key:
            earlier = await uow.get_order_by_key(idempotency_key)
            if earlier is not None:
                return earlier
        if location is not None and location.strip():
            location = await known_location(uow, location)
        defaults = await uow.backorder_defaults(email)
        locked = set(skus)
        if defaults.substitutes.automatic:  # a substitute may be taken for them at once: lock those too, in order
            for sku in skus:
                product = await uow.get_product(sku)
                locked |= set(product.substitutes) if product is not None else set()
        # the order's own SKUs take its new backorders at their tail: a receipt's range pending there is not folded
        # first when the new backorder can join behind it (the order would wait for all of it)
        await uow.lock_skus(sorted(locked), appending=skus)
        if idempotency_key:  # a concurrent twin may have committed while we waited for the lock
            earlier = await uow.get_order_by_key(idempotency_key)
            if earlier is not None:
                return earlier
        # the order's time is when it holds the SKU locks: concurrent orders queue in the order they
        # really took their place, so a later order can never be served ahead of an earlier one
        now = deps.clock.now()
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
                backorder = inventory.place_line(order, order_line, now, location)
                if backorder is not None:
                    backorder.adopt_defaults(defaults, now)
            inventories.append(inventory)
        new = [b for inv in inventories for b in inv.created.values()]
        backordered = sum(b.quantity for b in new)
        uow.add_events([
            ev.OrderPlaced(occurred_at=now, order_id=order.id, order_number=order.number,
                           customer_email=email, channel=channel.value,
                           skus=tuple(line.sku for line in order.lines), backordered_units=backordered)
        ])
        for inventory in inventories:
            inventory.settle(now, Cause(kind=CauseKind.QUEUE_ORDER_PLACED, reference=order.number))
        replacements = await substitute_new_backorders(uow, order, inventories, new, now, locked)
        await uow.save_order(order, idempotency_key)
        for inventory in {i.sku: i for i in [*inventories, *replacements]}.values():
            await save(uow, inventory)
        await uow.commit()
        return order


async def set_shipping_preference(deps: Deps, order_id: str, ship_complete: bool) -> Order:
    async with deps.uow() as uow:
        order = await locked_order(uow, order_id)
        if order.ship_complete != ship_complete:
            order.ship_complete = ship_complete
            await uow.save_order(order)
            uow.add_events([ev.ShippingPreferenceChanged(
                occurred_at=deps.clock.now(), order_id=order.id, customer_email=order.customer.email,
                ship_complete=ship_complete)])
        await uow.commit()
        return order


async def ship_allocated(deps: Deps, order_id: str) -> Shipment:
    """Ship every unit of the order that is set aside; honours the order's ship-complete choice."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        order = await locked_order(uow, order_id)
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
                field="order_id", code=ErrorCode.SHIP_COMPLETE_PENDING,
            )
        shipment = Shipment(id=new_id(), order_id=order.id, units=0)
        unreleased: list[Product] = []
        for line in order.lines:
            inventory = inventories[line.sku]
            if inventory.product.is_preorder(now.date()):  # held for the customer, not sent before release
                unreleased.append(inventory.product)
                continue
            units = inventory.ship_line(line, shipment.locations)
            b = backorders.get(line.id)
            if b is not None:
                units += inventory.ship_backorder(b, now, shipment.id, shipment.locations)
            if units:
                shipment.lines[line.id] = units
                shipment.units += units
        if not shipment.units and unreleased:
            first = min(unreleased, key=lambda p: p.release_date or now.date())
            raise NothingToShip(
                f"{first.sku} ({first.name}) is released on {first.release_date}; preorders ship from then",
                field="order_id", code=ErrorCode.NOT_RELEASED,
            )
        if not shipment.units:
            raise NothingToShip(f"order {order.number} has nothing allocated to ship", field="order_id")
        await uow.save_order(order)
        uow.add_events([ev.OrderShipped(occurred_at=now, order_id=order.id, shipment_id=shipment.id,
                                        customer_email=order.customer.email, units=shipment.units)])
        for inventory in inventories.values():
            inventory.settle(now, Cause(kind=CauseKind.ORDER_SHIPPED, actor=Actor.AGENT, reference=order.number))
            await save(uow, inventory)
        await uow.commit()
        return shipment
