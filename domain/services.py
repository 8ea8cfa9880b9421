"""The application service: `BackorderDesk`, the one object callers (the GraphQL API, the CLI, importers,
tests) hold to run a use case. It is a facade: each method delegates in one line to a use case in
`domain.use_cases.<area>`, where the transaction and its rules live (see that package's docstring).

Callers pass plain values (the commands in `domain.commands`, re-exported here); bad input raises a typed
`DomainError` before anything is written, and any error rolls the whole use case back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from domain.causes import RequestedBy
from domain.clock import Clock
from domain.commands import AllocationPreviewLine, CustomerDetails, LineRequest, ProductInput, Shipment
from domain.currency import ExchangeRate
from domain.customers import NotificationPreferences
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
    shared,
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


log = logging.getLogger("backorder.desk")


class BackorderDesk:
    """Every write the product offers, by name; the work is done in `domain.use_cases`."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock | None = None, *, fold_in_background: bool = True) -> None:
        self._uow = uow
        self.clock = clock or Clock()
        self._folding: dict[str, asyncio.Task[None]] = {}  # SKU -> the task folding its recorded receipts
        self._fold_in_background = fold_in_background
        self._closing = False  # shutting down: no fold is started any more (what is pending waits for the next start)

    @property
    def _deps(self) -> Deps:
        return Deps(self._uow, self.clock, self._fold_later if self._fold_in_background else None)

    def _fold_later(self, sku: str) -> None:
        """A receipt recorded a range of the SKU's queue: fold it into the rows in short transactions, in the
        background (one task per SKU; a crash leaves it to the worker's round or the SKU's next writer)."""
        if self._closing:  # left pending: the next start's round (`fold_pending_serves`) or the SKU's next writer
            return
        running = self._folding.get(sku)
        if running is not None and not running.done():
            running.add_done_callback(lambda _: self._fold_later(sku))  # a receipt recorded while it folded
            return
        self._folding[sku] = asyncio.get_running_loop().create_task(self._fold(sku), name=f"fold-{sku}")

    async def _fold(self, sku: str) -> None:
        await self._tell()  # first: the customers and integrations are told before the rows are folded
        try:
            await shared.fold_pending_serves(self._deps, [sku])
        except Exception:  # the worker's round or the SKU's next writer folds what is left
            log.exception("folding the receipts recorded for %s failed; left to the next writer or round", sku)

    async def _tell(self) -> int:
        try:
            return await shared.tell_pending_serves(self._deps)
        except shared.RangesLeftUntold as untold:  # each logged with its traceback where it failed: not again
            log.warning("%s", untold)
            return 0
        except Exception:  # left untold, whole: the next receipt's fan-out or the worker's round tells it
            log.exception("telling the receipts recorded as ranges failed; left to the next fan-out or round")
            return 0

    async def tell_pending_serves(self) -> int:
        """Tell the outbox and the webhooks every receipt recorded as a range and not yet told, one a transaction
        (what the desk does after each such receipt, in the background). Returns how many it told."""
        return await shared.tell_pending_serves(self._deps)

    async def fold_pending_serves(self) -> list[str]:
        """Tell every receipt recorded as a range and not yet told, then fold every one not yet folded (what a crash
        or a failure left: the worker's round, and at start-up)."""
        await self._tell()
        return await shared.fold_pending_serves(self._deps)

    async def put_away_staged_receipts(self) -> list[str]:
        """Put away what receipts for long queues staged and did not finish (a crash between two chunks), a chunk
        a transaction. Returns the SKUs that had some."""
        return await shared.put_away_staged(self._deps)

    async def folded(self) -> None:
        """Wait for the background folds started so far (tests, shut-down)."""
        while any(not task.done() for task in self._folding.values()):
            await asyncio.gather(*self._folding.values(), return_exceptions=True)

    async def close(self, wait_seconds: float | None = None) -> None:
        """Shut-down, before the database is closed: start no more background folds and wait for those running,
        at most `wait_seconds`; then cancel the rest. A cancelled fold rolls its chunk back (a chunk is one
        transaction, `domain.store.transactions`), so the range is left pending from its last committed chunk on,
        as a crash leaves it: read as the fold will write it, folded by the next start's round
        (`fold_pending_serves`) or the SKU's next writer."""
        self._closing = True
        try:
            await asyncio.wait_for(self.folded(), wait_seconds)
        except TimeoutError:
            log.warning("shutting down with receipts recorded as ranges not yet folded; the next start folds them")
        running = [task for task in self._folding.values() if not task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

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
        self, purchase_order_id: str, quantities: Sequence[LineRequest] | None = None, location: str | None = None,
    ) -> PurchaseOrder:
        return await purchasing.receive_purchase_order(self._deps, purchase_order_id, quantities, location)

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

    async def set_notification_preferences(self, email: str, changes: Mapping[str, object], *, by: str,
                                           by_agent: bool) -> NotificationPreferences:
        return await preferences.set_notification_preferences(self._deps, email, changes, by=by, by_agent=by_agent)

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

    async def retire_location(self, code: str) -> tuple[Location, bool]:
        return await reference_data.retire_location(self._deps, code)

    async def upsert_exchange_rate(self, from_currency: str, to_currency: str, rate: Decimal | str,
                                   as_of: date | None = None) -> ExchangeRate:
        return await reference_data.upsert_exchange_rate(self._deps, from_currency, to_currency, rate, as_of)
