"""Suppliers' record: historical purchase orders imported (so a shop starts with what its suppliers did) and
the performance report over a period. The deliveries themselves are recorded by `receive_purchase_order`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from domain.causes import Actor, Cause, CauseKind
from domain.delays import SupplierPerformance, delivery_records
from domain.delays import supplier_performance as performance_of
from domain.errors import Conflict, ErrorCode, InvalidInput, not_found, on_line
from domain.limits import check_code, check_period
from domain.model import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    check_quantity,
    check_sku,
    new_id,
)
from domain.use_cases.shared import Deps, po_event, settle


@dataclass(frozen=True)
class HistoricalLine:
    """One line of a purchase order as a shop's records have it: `received_on` None while still open."""

    number: str
    supplier_name: str
    sku: str
    quantity: int
    expected_date: date
    received_on: date | None


@dataclass(frozen=True)
class ImportedPurchaseOrders:
    purchase_orders: int
    lines_received: int
    lines_open: int


# How far from its expected date a delivery can plausibly have come: a row outside is a typing slip (a year, a
# month and a day swapped), and as history it would teach every ETA of the supplier a delay nobody had.
MAX_DAYS_EARLY = 90
MAX_DAYS_LATE = 365


def check_delivery_dates(expected: date, received: date | None, field: str = "received_date") -> None:
    """A received date at most MAX_DAYS_EARLY before the expected one and at most MAX_DAYS_LATE after it."""
    if received is None:
        return
    early = (expected - received).days
    if early > MAX_DAYS_EARLY:
        raise InvalidInput(f"received {received.isoformat()}, {early} days before it was expected "
                           f"({expected.isoformat()}): a delivery comes at most {MAX_DAYS_EARLY} days early; "
                           "check both dates", field=field)
    if -early > MAX_DAYS_LATE:
        raise InvalidInput(f"received {received.isoformat()}, {-early} days after it was expected "
                           f"({expected.isoformat()}): a delivery comes at most {MAX_DAYS_LATE} days late; "
                           "check both dates", field=field)


async def import_purchase_orders(deps: Deps, lines: Sequence[HistoricalLine]) -> ImportedPurchaseOrders:
    """Every line checked before anything is written (an error names its line, 0-based); then, in one
    transaction, the purchase orders are written as they stand (received lines received, without touching
    stock: the stock counted today already holds them), their deliveries recorded for the suppliers' delay
    record, and the ETAs of every SKU those suppliers supply re-projected with what was learned."""
    now = deps.clock.now()
    today = now.date()
    if not lines:
        raise InvalidInput("no purchase order lines to import", field="lines")
    async with deps.uow() as uow:
        supplier_ids = await uow.supplier_ids_by_name(sorted({line.supplier_name.strip() for line in lines}))
        orders: dict[str, PurchaseOrder] = {}
        received_on: dict[str, dict[str, date]] = {}
        first_line: dict[str, int] = {}
        known_skus: set[str] = set()
        for index, line in enumerate(lines):
            with on_line(index):
                number = check_code(line.number, "number", "purchase order number")
                supplier_id = supplier_ids.get(line.supplier_name.strip())
                if supplier_id is None:
                    raise not_found("supplier", line.supplier_name.strip() or "(no name)", field="supplier")
                sku = check_sku(line.sku.strip().upper())
                check_quantity(line.quantity)
                if line.received_on is not None and line.received_on > today:
                    raise InvalidInput(f"received {line.received_on.isoformat()}: a date still to come",
                                       field="received_date")
                check_delivery_dates(line.expected_date, line.received_on)
                po = orders.get(number)
                if po is None:
                    if await uow.purchase_order_number_taken(number):
                        raise Conflict(f"purchase order {number} exists already", field="number",
                                       code=ErrorCode.DUPLICATE)
                    po = orders[number] = PurchaseOrder(
                        id=new_id(), number=number, supplier_id=supplier_id, expected_date=line.expected_date,
                        first_expected_date=line.expected_date, lines=[], created_at=now)
                    received_on[number], first_line[number] = {}, index
                elif po.supplier_id != supplier_id or po.expected_date != line.expected_date:
                    raise InvalidInput(f"purchase order {number} has another supplier or expected date on line "
                                       f"{first_line[number] + 2}", field="number")
                if po.line(sku) is not None:
                    raise InvalidInput(f"{sku} is listed twice on purchase order {number}", field="sku")
                if sku not in known_skus:
                    if await uow.get_product(sku) is None:
                        raise not_found("product", sku, field="sku")
                    known_skus.add(sku)
                po.lines.append(PurchaseOrderLine(sku, line.quantity,
                                                  line.quantity if line.received_on is not None else 0))
                if line.received_on is not None:
                    received_on[number][sku] = line.received_on
        skus = set(known_skus)
        for supplier_id in {po.supplier_id for po in orders.values()}:
            skus |= set(await uow.skus_supplied_by(supplier_id))
        await uow.lock_skus(sorted(skus))
        done = open_lines = 0
        for number, po in orders.items():
            receipts = received_on[number]
            if len(receipts) == len(po.lines):
                po.status = PurchaseOrderStatus.RECEIVED
                supplier = await uow.get_supplier(po.supplier_id)
                assert supplier is not None
                await uow.count_delivery(supplier.id, supplier.record_delivery(po.expected_date,
                                                                               max(receipts.values())))
            elif receipts:
                po.status = PurchaseOrderStatus.PARTIALLY_RECEIVED
            await uow.save_purchase_order(po)
            quantities = {line.sku: line.quantity for line in po.lines}
            await uow.record_deliveries(po.id, [
                record for sku, on in receipts.items() for record in delivery_records(
                    supplier_id=po.supplier_id, purchase_order=po.number, first_promised=po.expected_date,
                    last_promised=po.expected_date, received={sku: quantities[sku]}, received_on=on,
                    ordered_on=None)])
            done += len(receipts)
            open_lines += len(po.lines) - len(receipts)
            uow.add_events([po_event(po, now, "imported")])
        # open lines are inbound supply now, and the suppliers' record changed: every SKU they supply re-projects
        await settle(deps, uow, sorted(skus),
                     Cause(kind=CauseKind.PO_CREATED, actor=Actor.AGENT, reference="purchase order import"))
        await uow.commit()
    return ImportedPurchaseOrders(len(orders), done, open_lines)


async def supplier_performance(deps: Deps, received_from: date | None,
                               received_to: date | None) -> list[SupplierPerformance]:
    """Per supplier: lines received between the two dates (inclusive), on time and how late."""
    check_period(received_from, received_to, "received_to")
    async with deps.uow() as uow:
        return performance_of(await uow.delay_counts(received_from, received_to))
