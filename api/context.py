"""Per-request context: who is asking (the principal), the use cases, and fresh DataLoaders.

Loaders are built per request (never module-level) so one request's cache never leaks into another.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from api.settings import Settings
from domain import model as m
from domain.bus import EventBus
from domain.errors import PermissionDenied
from domain.eta import InboundSupply
from domain.services import BackorderDesk
from domain.store import queries as q

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Principal:
    """Who is calling. Staff roles see everything; a customer (the portal) only their own data."""

    role: str  # "agent" | "admin" | "customer"
    name: str
    customer_email: str | None = None
    order_id: str | None = None  # set when a customer got in with order number + email: that order only

    @property
    def is_staff(self) -> bool:
        return self.role in ("agent", "admin")

    def can_see_customer(self, email: str) -> bool:
        return self.is_staff or (self.customer_email is not None and self.customer_email == email)

    def can_see_order(self, order_id: str, customer_email: str) -> bool:
        if self.is_staff:
            return True
        if self.order_id is not None and self.order_id != order_id:
            return False
        return self.can_see_customer(customer_email)


def _mapped(fetch: Callable[[Sequence[K]], Awaitable[dict[K, V]]], default: Any = None) -> DataLoader[K, V]:
    async def load(keys: list[K]) -> list[V]:
        found = await fetch(list(dict.fromkeys(keys)))
        return [found.get(k, default() if callable(default) else default) for k in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """One set per request (per event for a subscription); each DataLoader is built on first use, so a
    subscription with thousands of listeners does not build nine loaders per listener per event."""

    @cached_property
    def product_by_sku(self) -> DataLoader[str, m.Product | None]:
        return _mapped(q.products_by_sku)

    @cached_property
    def stock_by_sku(self) -> DataLoader[str, list[m.StockLevel]]:
        return _mapped(q.stock_by_sku, list)

    @cached_property
    def waiting_by_sku(self) -> DataLoader[str, int]:
        return _mapped(q.waiting_by_sku, lambda: 0)

    @cached_property
    def inbound_by_sku(self) -> DataLoader[str, list[InboundSupply]]:
        return _mapped(q.inbound_by_sku, list)

    @cached_property
    def order_by_id(self) -> DataLoader[str, m.Order | None]:
        return _mapped(q.orders_by_id)

    @cached_property
    def backorder_by_id(self) -> DataLoader[str, m.Backorder | None]:
        return _mapped(q.backorders_by_id)

    @cached_property
    def history_by_backorder(self) -> DataLoader[str, list[m.HistoryEntry]]:
        return _mapped(q.history_by_backorder, list)

    @cached_property
    def purchase_order_by_id(self) -> DataLoader[str, m.PurchaseOrder | None]:
        return _mapped(q.purchase_orders_by_id)

    @cached_property
    def supplier_by_id(self) -> DataLoader[str, m.Supplier | None]:
        return _mapped(q.suppliers_by_id)


@dataclass
class Context:
    desk: BackorderDesk
    settings: Settings
    bus: EventBus
    principal: Principal | None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # pluggable services (e.g. the link sender)
    loaders: Loaders = field(default_factory=Loaders)

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise PermissionDenied("sign in: send an API token as 'Authorization: Bearer ...'")
        return self.principal

    def require_staff(self) -> Principal:
        principal = self.require_principal()
        if not principal.is_staff:
            raise PermissionDenied("this needs an agent or admin token")
        return principal
