"""The application service: `BackorderDesk`, the one object callers (the GraphQL API, the CLI, importers,
tests) hold to run a use case. It is a facade: each method delegates in one line to a use case in
`domain.use_cases.<area>`, where the transaction and its rules live (see that package's docstring).

Callers pass plain values (the commands in `domain.commands`, re-exported here); bad input raises a typed
`DomainError` before anything is written, and any error rolls the whole use case back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from domain.causes import RequestedBy
from domain.clock import Clock
from domain.commands import AllocationPreviewLine, CustomerDetails, LineRequest, ProductInput, Shipment
from domain.currency import ExchangeRate
from domain.delays import SupplierPerformance
from domain.goodwill import Goodwill
from domain.locations import Location
from domain.model import (
    DEFAULT_LOCATION,
    Backorder,
    Channel,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    SkuInventory,
    Supplier,
)
from domain.ports import UnitOfWorkFactory
from domain.preferences import KEEP, Keep, SubstituteConsent
from domain.use_cases import (
    backorders,
    catalogue,
    goodwill,
    orders,
    preferences,
    purchasing,
    reference_data,
    stock,
    supplier_history,
)
from domain.use_cases.orders import MAX_ORDER_LINES
from domain.use_cases.shared import Deps
from domain.use_cases.supplier_history import HistoricalLine, ImportedPurchaseOrders

__all__ = [
    "MAX_ORDER_LINES",
    "AllocationPreviewLine",
    "BackorderDesk",
    "CustomerDetails",
    "LineRequest",
    "ProductInput",
    "Shipment",
]


class BackorderDesk:
    """Every write the product offers, by name; the work is done in `domain.use_cases`."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock | None = None) -> None:
        self._uow = uow
        self.clock = clock or Clock()

    @property
    def _deps(self) -> Deps:
        return Deps(self._uow, self.clock)

    async def upsert_product(self, data: ProductInput) -> Product:
        return await catalogue.upsert_product(self._deps, data)

    async def upsert_supplier(self, supplier_id: str | None, name: str, lead_time_days: int) -> Supplier:
        return await catalogue.upsert_supplier(self._deps, supplier_id, name, lead_time_days)

    async def receive_stock(self, sku: str, quantity: int, location: str = DEFAULT_LOCATION,
                            cause: str = "stock received") -> SkuInventory:
        return await stock.receive_stock(self._deps, sku, quantity, location, cause)

    async def preview_receipt(self, sku: str, quantity: int,
                              location: str = DEFAULT_LOCATION) -> list[AllocationPreviewLine]:
        return await stock.preview_receipt(self._deps, sku, quantity, location)

    async def refresh_stale_etas(self) -> list[str]:
        return await stock.refresh_stale_etas(self._deps)

    async def adjust_stock(self, sku: str, delta: int, reason: str, location: str = DEFAULT_LOCATION,
                           safety_stock: int | None = None) -> SkuInventory:
        return await stock.adjust_stock(self._deps, sku, delta, reason, location, safety_stock)

    async def create_purchase_order(
        self,
        supplier_id: str,
        expected_date: date,
        lines: Sequence[LineRequest],
        number: str | None = None,
        location: str = DEFAULT_LOCATION,
    ) -> PurchaseOrder:
        return await purchasing.create_purchase_order(self._deps, supplier_id, expected_date, lines, number,
                                                      location)

    async def update_purchase_order(
        self,
        purchase_order_id: str,
        expected_date: date | None = None,
        quantities: Sequence[LineRequest] = (),
        cancel: bool = False,
    ) -> PurchaseOrder:
        return await purchasing.update_purchase_order(self._deps, purchase_order_id, expected_date, quantities,
                                                      cancel)

    async def receive_purchase_order(
        self, purchase_order_id: str, quantities: Sequence[LineRequest] | None = None
    ) -> PurchaseOrder:
        return await purchasing.receive_purchase_order(self._deps, purchase_order_id, quantities)

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
        return await orders.place_order(self._deps, customer, channel, lines, ship_complete=ship_complete,
                                        location=location, idempotency_key=idempotency_key)

    async def set_shipping_preference(self, order_id: str, ship_complete: bool) -> Order:
        return await orders.set_shipping_preference(self._deps, order_id, ship_complete)

    async def cancel_backorder(self, backorder_id: str, quantity: int | None = None, *, by: str = "customer",
                               reason: str = "", requested_by: RequestedBy | None = None) -> Backorder:
        return await backorders.cancel_backorder(self._deps, backorder_id, quantity, by=by, reason=reason,
                                                 requested_by=requested_by)

    async def accept_substitute(self, backorder_id: str, substitute_sku: str) -> tuple[Backorder, OrderLine]:
        return await backorders.accept_substitute(self._deps, backorder_id, substitute_sku)

    async def reprioritize_backorder(self, backorder_id: str, priority: int, reason: str, agent: str) -> Backorder:
        return await backorders.reprioritize_backorder(self._deps, backorder_id, priority, reason, agent)

    async def preview_reprioritization(self, backorder_id: str, priority: int,
                                       agent: str = "preview") -> list[AllocationPreviewLine]:
        return await backorders.preview_reprioritization(self._deps, backorder_id, priority, agent)

    async def offer_substitute(self, backorder_id: str, substitute_sku: str, agent: str) -> Backorder:
        return await backorders.offer_substitute(self._deps, backorder_id, substitute_sku, agent)

    async def offer_goodwill(self, backorder_id: str, *, credit_amount: Decimal | str | None,
                             credit_currency: str | None, discount_code: str | None, note: str,
                             agent: str) -> tuple[Backorder, Goodwill]:
        return await goodwill.offer_goodwill(self._deps, backorder_id, credit_amount=credit_amount,
                                             credit_currency=credit_currency, discount_code=discount_code,
                                             note=note, agent=agent)

    async def ship_allocated(self, order_id: str) -> Shipment:
        return await orders.ship_allocated(self._deps, order_id)

    async def set_backorder_preferences(self, backorder_id: str, *, cancel_if_not_by: date | None | Keep = KEEP,
                                        substitutes: SubstituteConsent | None = None, by: str = "customer",
                                        ) -> Backorder:
        return await preferences.set_backorder_preferences(
            self._deps, backorder_id, cancel_if_not_by=cancel_if_not_by, substitutes=substitutes, by=by)

    async def decline_substitute(self, backorder_id: str, substitute_sku: str, *, by: str = "customer") -> Backorder:
        return await preferences.decline_substitute(self._deps, backorder_id, substitute_sku, by=by)

    async def apply_substitute_consents(self, arrived: Sequence[str] | None = None) -> list[str]:
        return await preferences.apply_substitute_consents(self._deps, arrived)

    async def import_purchase_orders(self, lines: Sequence[HistoricalLine]) -> ImportedPurchaseOrders:
        return await supplier_history.import_purchase_orders(self._deps, lines)

    async def supplier_performance(self, received_from: date | None,
                                   received_to: date | None) -> list[SupplierPerformance]:
        return await supplier_history.supplier_performance(self._deps, received_from, received_to)

    async def upsert_location(self, code: str, name: str | None = None) -> Location:
        return await reference_data.upsert_location(self._deps, code, name)

    async def upsert_exchange_rate(self, from_currency: str, to_currency: str, rate: Decimal | str,
                                   as_of: date | None = None) -> ExchangeRate:
        return await reference_data.upsert_exchange_rate(self._deps, from_currency, to_currency, rate, as_of)
