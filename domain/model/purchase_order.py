"""Purchase orders: what is coming from a supplier, when, and what has been received.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from domain.errors import InvalidInput, InvalidQuantity, InvalidState, OverReceipt, on_line
from domain.limits import check_code, check_location
from domain.model.checks import check_quantity, check_sku
from domain.model.stock import DEFAULT_LOCATION


class PurchaseOrderStatus(str, Enum):
    OPEN = "OPEN"
    PARTIALLY_RECEIVED = "PARTIALLY_RECEIVED"
    RECEIVED = "RECEIVED"
    CANCELLED = "CANCELLED"


@dataclass
class PurchaseOrderLine:
    sku: str
    quantity: int
    received_quantity: int = 0

    @property
    def outstanding(self) -> int:
        return max(0, self.quantity - self.received_quantity)


@dataclass
class PurchaseOrder:
    id: str
    number: str
    supplier_id: str
    expected_date: date
    lines: list[PurchaseOrderLine]
    status: PurchaseOrderStatus = PurchaseOrderStatus.OPEN
    location: str = DEFAULT_LOCATION
    created_at: datetime | None = None
    version: int = 0
    # the date the supplier first gave; None on purchase orders from before it was kept (expected_date is the
    # date as last moved)
    first_expected_date: date | None = None

    @property
    def first_promised_date(self) -> date:
        return self.first_expected_date or self.expected_date

    @property
    def is_open(self) -> bool:
        return self.status in (PurchaseOrderStatus.OPEN, PurchaseOrderStatus.PARTIALLY_RECEIVED)

    def line(self, sku: str) -> PurchaseOrderLine | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def validate(self) -> None:
        check_code(self.number, "number", "purchase order number")
        check_location(self.location)
        if not self.lines:
            raise InvalidInput("a purchase order needs at least one line", field="lines")
        seen: set[str] = set()
        for index, line in enumerate(self.lines):
            with on_line(index):
                check_sku(line.sku, "lines.sku")
                check_quantity(line.quantity, "lines.quantity")
                if line.sku in seen:
                    raise InvalidInput(f"SKU {line.sku} is listed twice", field="lines")
            seen.add(line.sku)

    def require_open(self) -> None:
        if not self.is_open:
            raise InvalidState(f"purchase order {self.number} is {self.status.value.lower()}",
                               field="purchase_order_id")

    def receive(self, quantities: dict[str, int]) -> dict[str, int]:
        """Record a (partial) receipt; returns what was received per SKU."""
        self.require_open()
        received: dict[str, int] = {}
        for sku, qty in quantities.items():  # check every line before changing any: all or nothing
            line = self.line(sku)
            if line is None:
                raise InvalidInput(f"purchase order {self.number} has no line for {sku}", field="lines.sku")
            check_quantity(qty, "lines.quantity", allow_zero=True)
            if qty > line.outstanding:
                raise OverReceipt(
                    f"{sku}: receiving {qty} but only {line.outstanding} outstanding on {self.number}",
                    field="lines.quantity",
                )
            if qty:
                received[sku] = qty
        if not received:
            raise InvalidQuantity("nothing to receive", field="lines")
        for sku, qty in received.items():
            line = self.line(sku)
            assert line is not None
            line.received_quantity += qty
        self.status = (
            PurchaseOrderStatus.RECEIVED
            if all(line.outstanding == 0 for line in self.lines)
            else PurchaseOrderStatus.PARTIALLY_RECEIVED
        )
        return received

    def receive_all(self) -> dict[str, int]:
        return self.receive({line.sku: line.outstanding for line in self.lines if line.outstanding})
