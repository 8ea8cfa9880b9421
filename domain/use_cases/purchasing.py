"""Purchase order use cases: create, change or cancel, receive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from domain.causes import Actor, Cause, CauseKind
from domain.commands import LineRequest
from domain.delays import delivery_records
from domain.errors import InvalidInput, not_found, on_line
from domain.eta import InboundSupply
from domain.limits import check_code, check_location
from domain.model import (
    DEFAULT_LOCATION,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    SkuInventory,
    check_quantity,
    check_sku,
    new_id,
    readable_number,
)
from domain.ports import UnitOfWork
from domain.use_cases.reference_data import known_location
from domain.use_cases.shared import (
    Deps,
    checked_line,
    fold_after,
    locked_purchase_order,
    po_event,
    po_line,
    put_away_after,
    receive_at_head,
    save,
    settle,
    settle_aside,
)


async def create_purchase_order(
    deps: Deps,
    supplier_id: str,
    expected_date: date,
    lines: Sequence[LineRequest],
    number: str | None = None,
    location: str = DEFAULT_LOCATION,
) -> PurchaseOrder:
    now = deps.clock.now()
    po = PurchaseOrder(
        id=new_id(),
        number=readable_number("PO", now) if number is None else check_code(number, "number",
                                                                            "purchase order number"),
        supplier_id=supplier_id,
        expected_date=expected_date,
        first_expected_date=expected_date,
        lines=[po_line(index, line) for index, line in enumerate(lines)],
        location=check_location(location),
        created_at=now,
    )
    po.validate()
    if expected_date < now.date():
        raise InvalidInput("the expected date is in the past", field="expected_date")
    skus = sorted(line.sku for line in po.lines)
    async with deps.uow() as uow:
        if await uow.get_supplier(supplier_id) is None:
            raise not_found("supplier", supplier_id, field="supplier_id")
        await known_location(uow, po.location)
        while not number and await uow.purchase_order_number_taken(po.number):
            po.number = readable_number("PO", now)  # a drawn number met another: draw again
        await uow.lock_skus(skus)
        for index, line in enumerate(po.lines):
            if await uow.get_product(line.sku) is None:
                with on_line(index):
                    raise not_found("product", line.sku, field="lines.sku")
        await uow.save_purchase_order(po)
        uow.add_events([po_event(po, now, "created")])
        created = Cause(kind=CauseKind.PO_CREATED, actor=Actor.AGENT, reference=po.number,
                        new=expected_date.isoformat())
        await settle(deps, uow, await settle_inbound_change(deps, uow, skus, po, expected_date, {}, created), created)
        await uow.commit()
        return po


async def update_purchase_order(
    deps: Deps,
    purchase_order_id: str,
    expected_date: date | None = None,
    quantities: Sequence[LineRequest] = (),
    cancel: bool = False,
) -> PurchaseOrder:
    now = deps.clock.now()
    quantities = [checked_line(index, q) for index, q in enumerate(quantities)]
    async with deps.uow() as uow:
        po = await locked_purchase_order(uow, purchase_order_id, [q.sku for q in quantities])
        skus = sorted({line.sku for line in po.lines} | {q.sku for q in quantities})
        po.require_open()
        changes: list[str] = []
        old_date = po.expected_date
        old_outstanding = {line.sku: line.outstanding for line in po.lines}
        line_changes: list[tuple[str, int | None, int]] = []
        if expected_date is not None and expected_date != po.expected_date:
            if expected_date < now.date():
                raise InvalidInput("the expected date is in the past", field="expected_date")
            changes.append(f"date {po.expected_date.isoformat()} → {expected_date.isoformat()}")
            po.first_expected_date = po.first_promised_date  # an older PO: the earliest date we know of
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
            raise InvalidInput("nothing to change", field="changes")
        await uow.save_purchase_order(po)
        uow.add_events([po_event(po, now, "; ".join(changes))])
        if cancel:
            po_cause = Cause(kind=CauseKind.PO_CANCELLED, actor=Actor.AGENT, reference=po.number)
        else:
            moved = po.expected_date != old_date
            po_cause = Cause(kind=CauseKind.PO_CHANGED, actor=Actor.AGENT, reference=po.number,
                             old=old_date.isoformat() if moved else None,
                             new=po.expected_date.isoformat() if moved else None, lines=tuple(line_changes))
        skus = await settle_inbound_change(deps, uow, skus, po, old_date, old_outstanding, po_cause)
        await settle(deps, uow, skus, po_cause)
        await uow.commit()
        return po


# waiting backorders from which a SKU whose inbound supply changed is re-projected in a slice. Not measured at
# this size: at 1k the slice took 0.4-0.9x the whole settle's time (bench/README.md, "ETA re-projection bounded
# by what can change")
SLICE_FROM = 200


async def settle_inbound_change(deps: Deps, uow: UnitOfWork, skus: Sequence[str], po: PurchaseOrder,
                                old_date: date, old_outstanding: Mapping[str, int], cause: Cause) -> list[str]:
    """Re-project the long queues of `skus` after purchase order `po` changed (created, dated, its quantities,
    cancelled; it was expected on `old_date` with `old_outstanding` units of each SKU still to come), reading and
    writing only the backorders whose ETA can change: those whose cumulative demand falls where the projection
    before and after differ (`EtaSteps.differing`), when the SKU's stored projection (`SkuInventory.stored_steps`,
    which the database forgets whenever a row of the queue changes) gives the queue the ETAs the projection
    before the change gives it (`EtaSteps.agrees_up_to`), so every other stored ETA is already right. Returns
    the SKUs that need the whole settle instead: a short queue; a policy under which an ETA is not a function of
    the demand ahead (FAIR_SHARE, weighted scores), or stock free to hand out (`SkuInventory.eta_steps`); no
    stored projection (the queue changed since it was recorded), or one whose ETAs are not those before the
    change (a day passed, a supplier's record changed); supply before the change that cannot be told exactly (a
    cancelled line of another supplier than the product's); a "cancel if not by" date the change breaks
    (`SkuInventory.reproject_slice`). Either way the same ETAs, history and events."""
    today = deps.clock.now().date()
    whole: list[str] = []
    summarised = await uow.summarised_inventories(skus, at_least=SLICE_FROM)
    for sku in skus:
        inventory = summarised.get(sku)
        ahead = inventory.ahead if inventory is not None else None
        if inventory is None or ahead is None or ahead.waiting_count < SLICE_FROM:
            whole.append(sku)
            continue
        before = _inbound_before(inventory, po, old_date, old_outstanding.get(sku, 0))
        old = inventory.eta_steps(today, before) if before is not None else None
        new = inventory.eta_steps(today)
        stored = inventory.stored_steps  # what every stored row follows, as long as the database kept it
        if old is None or new is None or stored is None or not stored.agrees_up_to(old, ahead.waiting_units):
            whole.append(sku)
            continue
        demand = await uow.load_slice(inventory, old.differing(new))
        if not inventory.reproject_slice(deps.clock.now(), cause, new, demand):
            whole.append(sku)
            continue
        await save(uow, inventory)
    return whole


def _inbound_before(inventory: SkuInventory, po: PurchaseOrder, old_date: date,
                    old_outstanding: int) -> list[InboundSupply] | None:
    """The SKU's inbound supply as it stood before `po` changed, built as the store builds it; None when that
    cannot be told (the PO's line is gone from the supply and its supplier is not the product's)."""
    others = [s for s in inventory.inbound if s.reference != po.number]
    mine = [s for s in inventory.inbound if s.reference == po.number]
    if len(mine) > 1:
        return None  # two lines of one SKU: which one changed is not known here
    if old_outstanding <= 0:
        return others
    if mine:
        return [*others, replace(mine[0], expected_date=old_date, quantity=old_outstanding)]
    supplier = inventory.supplier
    if supplier is None or supplier.id != po.supplier_id:
        return None
    return [*others, InboundSupply(po.number, old_date, old_outstanding, supplier.has_been_late,
                                   supplier_id=po.supplier_id)]


async def receive_purchase_order(
    deps: Deps, purchase_order_id: str, quantities: Sequence[LineRequest] | None = None,
    location: str | None = None,
) -> PurchaseOrder:
    """Receive what arrived (all that is outstanding unless `quantities` says) into `location`: the PO's own
    unless the agent names another of the shop's locations (goods are sometimes unloaded where there is room);
    an unknown one is UNKNOWN_LOCATION before anything is written. The PO is marked received in the first
    transaction; a long queue's units that reach more than a chunk of backorders are put away after it, a chunk a
    transaction, before this returns (as `stock.receive_stock`)."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        po = await locked_purchase_order(uow, purchase_order_id)
        into = po.location if location is None else await known_location(uow, location)
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
        # the suppliers' delivery record, before the SKUs are loaded: their ETAs project with it
        await uow.record_deliveries(po.id, delivery_records(
            supplier_id=po.supplier_id, purchase_order=po.number, first_promised=po.first_promised_date,
            last_promised=po.expected_date, received=received, received_on=now.date(),
            ordered_on=po.created_at.date() if po.created_at else None))
        if po.status is PurchaseOrderStatus.RECEIVED:
            supplier = await uow.get_supplier(po.supplier_id)
            if supplier is not None:
                await uow.count_delivery(supplier.id, supplier.record_delivery(po.expected_date, now.date()))
        await uow.save_purchase_order(po)
        uow.add_events([po_event(po, now, "received", location=into)])
        po_received = Cause(kind=CauseKind.PO_RECEIVED, actor=Actor.AGENT, reference=po.number)
        at_head: dict[str, SkuInventory] = {}  # long first-come-first-served queues: served from their heads' rows
        recorded: list[str] = []  # of those, the ones whose range served whole is recorded, folded in after commit
        staged: list[str] = []  # and those whose units reach more than a chunk: the rest put away after commit
        for sku in skus:
            if received.get(sku):
                rest = await receive_at_head(uow, sku, into, received[sku], now, po_received, recorded, staged)
                if rest is not None:
                    at_head[sku] = rest
        await uow.load_inventories([sku for sku in skus if sku not in at_head])
        for sku in skus:
            inventory = at_head.get(sku)
            if inventory is None:
                inventory = await uow.inventory(sku)
                if sku in received:
                    inventory.receive(into, received[sku], now, po_received)
                await settle_aside(inventory, now, po_received)
            await save(uow, inventory)
        await uow.commit()
    fold_after(deps, recorded)
    await put_away_after(deps, staged)  # a long queue's receipt, chunk by chunk (see stock.receive_stock)
    return po
