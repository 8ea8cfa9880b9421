"""Builders for the domain unit tests: a product, its SKU aggregate and orders placed on it, in a line each;
and `refused`, the check that a refusal is typed and leaves the aggregate exactly as it was."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest

from domain import events as ev
from domain.allocation import PriorityPolicy
from domain.causes import Actor, Cause, CauseKind
from domain.errors import DomainError, ErrorCode
from domain.eta import InboundSupply
from domain.model import (
    DEFAULT_LOCATION,
    Backorder,
    BackorderPolicy,
    Channel,
    Customer,
    CustomerTier,
    Money,
    Order,
    OrderLine,
    Product,
    SkuInventory,
    StockLevel,
    Supplier,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
SKU = "MUG-01"
_ids = count(1)


def product(
    sku: str = SKU,
    *,
    policy: BackorderPolicy = BackorderPolicy.ALLOW,
    limit: int | None = None,
    release_date: date | None = None,
    lead_time_days: int | None = None,
) -> Product:
    return Product(sku=sku, name=f"Product {sku}", price=Money.of("10.00", "EUR"), backorder_policy=policy,
                   backorder_limit=limit, release_date=release_date, lead_time_days=lead_time_days)


def inventory(
    on_hand: int = 0,
    *,
    allocated: int = 0,
    safety_stock: int = 0,
    product_: Product | None = None,
    inbound: Sequence[InboundSupply] = (),
    supplier: Supplier | None = None,
    policy: PriorityPolicy | None = None,
    lead_time_days: int = 14,
) -> SkuInventory:
    made = product_ or product()
    stock = [StockLevel(made.sku, DEFAULT_LOCATION, on_hand, allocated, safety_stock)]
    return SkuInventory(made, stock, [], inbound=inbound, supplier=supplier, policy=policy,
                        default_lead_time_days=lead_time_days)


def order(
    *,
    email: str = "ann@example.com",
    tier: CustomerTier = CustomerTier.STANDARD,
    placed_at: datetime = NOW,
    ship_complete: bool = False,
) -> Order:
    n = next(_ids)
    return Order(id=f"order-{n:04d}", number=f"BD-260302-{n:04d}", channel=Channel.ONLINE,
                 customer=Customer(email=email, tier=tier), placed_at=placed_at, ship_complete=ship_complete)


def place(
    inv: SkuInventory,
    quantity: int,
    *,
    minutes: int = 0,
    email: str = "ann@example.com",
    tier: CustomerTier = CustomerTier.STANDARD,
    settle: bool = True,
) -> tuple[Order, OrderLine, Backorder | None]:
    """Place a one-line order `minutes` after NOW, then settle as the use case does."""
    placed = order(email=email, tier=tier, placed_at=NOW + timedelta(minutes=minutes))
    line = OrderLine(id=f"line-{next(_ids):04d}", order_id=placed.id, sku=inv.sku, quantity=quantity,
                     unit_price=inv.product.price)
    placed.lines.append(line)
    backorder = inv.place_line(placed, line, placed.placed_at)
    if settle:
        inv.settle(placed.placed_at, Cause(kind=CauseKind.QUEUE_ORDER_PLACED, reference=placed.number))
    return placed, line, backorder


def events_of(inv: SkuInventory, kind: type[ev.Event]) -> list[ev.Event]:
    return [e for e in inv.events if isinstance(e, kind)]


def received(quantity: int, location: str = "MAIN") -> Cause:
    """The cause `receive_stock` records."""
    return Cause(kind=CauseKind.STOCK_RECEIVED, actor=Actor.AGENT, quantity=quantity, reference=location)


def note(text: str) -> Cause:
    """A cause these tests do not look into."""
    return Cause.legacy(text)


def snapshot(inv: SkuInventory) -> object:
    return copy.deepcopy((inv.stock, inv.queue, inv.events, inv.touched, inv.created, inv.product))


def refused(inv: SkuInventory, action: Callable[[], object], error: type[DomainError], code: ErrorCode) -> DomainError:
    """`action` raises `error` with `code` and the aggregate is left exactly as it was."""
    before = snapshot(inv)
    with pytest.raises(error) as raised:
        action()
    assert raised.value.code is code
    assert snapshot(inv) == before
    return raised.value


def statuses(backorder) -> list[tuple[str | None, str | None]]:
    return [(h.old_value, h.new_value) for h in backorder.history if h.kind == "STATUS"]
