"""Orders and their lines, from whichever channel they came.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from domain.currency import ExchangeRate
from domain.errors import InvalidInput
from domain.model.customer import Customer
from domain.model.ids import readable_number
from domain.model.money import Money


class Channel(str, Enum):
    ONLINE = "ONLINE"
    STORE = "STORE"
    PHONE = "PHONE"
    MOBILE = "MOBILE"
    MARKETPLACE = "MARKETPLACE"


@dataclass
class OrderLine:
    id: str
    order_id: str
    sku: str
    quantity: int
    unit_price: Money
    allocated_quantity: int = 0  # allocated from stock at placement (or substitution)
    shipped_quantity: int = 0
    reserved: dict[str, int] = field(default_factory=dict)
    backorder_id: str | None = None
    substitute_for: str | None = None  # the backorder this line replaced
    shipped_from: dict[str, int] = field(default_factory=dict)  # units shipped, per location
    # a substitute priced in another currency than the order: its own unit price, and the shop's rate that
    # turned it into `unit_price` (the order's currency); both None when no conversion was needed
    list_price: Money | None = None
    exchange_rate: ExchangeRate | None = None

    @property
    def held(self) -> int:
        return self.allocated_quantity - self.shipped_quantity


@dataclass
class Order:
    id: str
    number: str
    channel: Channel
    customer: Customer
    placed_at: datetime
    lines: list[OrderLine] = field(default_factory=list)
    ship_complete: bool = False
    version: int = 0

    @staticmethod
    def new_number(now: datetime) -> str:
        return readable_number("BD", now)

    def line(self, line_id: str) -> OrderLine:
        for line in self.lines:
            if line.id == line_id:
                return line
        raise InvalidInput(f"order {self.number} has no line {line_id}", field="line_id")
