"""An in-memory unit of work (the `domain.ports` protocol), so use cases can be driven without a database.

Each unit of work works on a deep copy of the store and only `commit()` makes it the store's state, so a
use case that raises leaves the store exactly as it was, as a rolled-back transaction would. Reads hand out
copies and saves store copies, as rows do: a use case that changes an object and forgets to save it loses the
change here too. tests/integration/test_unit_of_work_contract.py runs the same tests against this and the
database, so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType

from domain.currency import ExchangeRate
from domain.delays import DelayCount, DelayHistory, DeliveryRecord, EtaLearning, delay_counts
from domain.errors import Conflict, ErrorCode, not_found
from domain.eta import InboundSupply
from domain.events import Event
from domain.locations import Location, LocationUse
from domain.model import (
    Backorder,
    Behind,
    Customer,
    HeadRange,
    Order,
    Product,
    PurchaseOrder,
    ServedWhole,
    ServeRecord,
    SkuInventory,
    StagedReceipt,
    StockLevel,
    Supplier,
    Waiting,
)
from domain.ports import UnlockedWrite
from domain.preferences import BackorderPreferences, customer_today


@dataclass
class StoreState:
    products: dict[str, Product] = field(default_factory=dict)
    suppliers: dict[str, Supplier] = field(default_factory=dict)
    purchase_orders: dict[str, PurchaseOrder] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    order_keys: dict[str, str] = field(default_factory=dict)
    backorders: dict[str, Backorder] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    stock: dict[tuple[str, str], StockLevel] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    # as the migration seeds them: the default location is known from the start
    locations: dict[str, Location] = field(default_factory=lambda: {"MAIN": Location("MAIN", "Main warehouse")})
    exchange_rates: dict[tuple[str, str], ExchangeRate] = field(default_factory=dict)
    deliveries: list[DeliveryRecord] = field(default_factory=list)
    backorder_defaults: dict[str, BackorderPreferences] = field(default_factory=dict)  # by customer email


class InMemoryStore:
    def __init__(self) -> None:
        self.state = StoreState()

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)


class InMemoryUnitOfWork:
    def __init__(self, store: InMemoryStore, eta_learning: EtaLearning | None = EtaLearning()) -> None:
        self._store = store
        self._eta_learning = eta_learning
        self._work = copy.deepcopy(store.state)
        self._locked: set[str] = set()
        self._inventories: dict[str, SkuInventory] = {}
        self._events: list[Event] = []

    async def __aenter__(self) -> InMemoryUnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None  # without commit() the working copy is simply dropped

    async def lock_skus(self, skus: Sequence[str], *, appending: Sequence[str] = (),
                        behind: Mapping[str, Behind] | None = None) -> None:
        self._locked.update(skus)  # one unit of work at a time here: only the bookkeeping the store checks

    async def queue_head(self, sku: str, at_least: int) -> SkuInventory | None:
        return None  # this store always loads a queue whole: receipts take the domain's path

    async def waiting_head(self, sku: str, units: int, limit: int | None = None,
                           origin: int | None = None) -> tuple[list[Waiting], int]:
        raise AssertionError("never asked: queue_head says this store does not serve heads")

    async def head_range(self, sku: str, units: int, origin: int | None = None) -> HeadRange:
        raise AssertionError("never asked: queue_head says this store does not serve heads")

    @property
    def single_writer(self) -> bool:
        return False

    async def after_requests(self) -> None:
        await asyncio.sleep(0)

    async def write_served(self, served: ServedWhole, *, from_head: bool = False) -> None:
        raise AssertionError("never asked: queue_head says this store does not serve heads")

    async def staged_receipt(self, sku: str) -> StagedReceipt | None:
        return None  # nothing is ever staged here (queue_head)

    async def save_staged(self, receipt: StagedReceipt) -> StagedReceipt:
        raise AssertionError("never asked: queue_head says this store does not serve heads")

    async def skus_with_staged_receipts(self) -> list[str]:
        return []

    async def save_served(self, inventory: SkuInventory, served: ServedWhole,
                          record: ServeRecord | None = None) -> SkuInventory:
        raise AssertionError("never asked: queue_head says this store does not serve heads")

    async def record_serve(self, record: ServeRecord) -> int:
        raise AssertionError("never asked: queue_head says this store does not serve heads")

    async def fold_serves(self, sku: str, limit: int | None) -> int:
        return 0  # nothing is ever recorded as a range here (queue_head)

    async def skus_with_pending_serves(self) -> list[str]:
        return []

    async def inventory(self, sku: str) -> SkuInventory:
        if sku in self._inventories:
            return self._inventories[sku]
        product = copy.deepcopy(self._work.products.get(sku))
        if product is None:
            raise not_found("product", sku, field="sku")
        stock = [copy.deepcopy(level) for (s, _), level in self._work.stock.items() if s == sku]
        queue = [copy.deepcopy(b) for b in self._work.backorders.values() if b.sku == sku and b.is_active]
        for b in queue:  # not a column: the database reads the zone for those with a date only
            b.customer_timezone = self._timezone(b.customer_email) if b.cancel_if_not_by is not None else "UTC"
        inbound = []
        for po in self._work.purchase_orders.values():
            line = po.line(sku)
            if po.is_open and line is not None and line.outstanding:
                supplier = self._work.suppliers.get(po.supplier_id)
                inbound.append(InboundSupply(po.number, po.expected_date, line.outstanding,
                                             bool(supplier and supplier.has_been_late), supplier_id=po.supplier_id))
        supplier = copy.deepcopy(self._work.suppliers.get(product.supplier_id)) if product.supplier_id else None
        history = DelayHistory.from_records(self._work.deliveries) if self._eta_learning else DelayHistory()
        made = SkuInventory(product, stock, queue, inbound=inbound, supplier=supplier, delays=history,
                            eta_learning=self._eta_learning)
        self._inventories[sku] = made
        return made

    async def load_inventories(self, skus: Sequence[str], *, appending_at: datetime | None = None) -> None:
        return None  # in memory, `inventory` is as cheap for many SKUs as for one, with its queue whole

    async def summarised_inventories(self, skus: Sequence[str], at_least: int = 0) -> dict[str, SkuInventory]:
        return {}  # in memory a queue is loaded whole as cheaply: every SKU takes the whole settle

    async def load_slice(self, inventory: SkuInventory, ranges: Sequence[tuple[int, int | None]]) -> dict[str, int]:
        raise AssertionError("no SKU is summarised in memory")

    async def save_inventory(self, inventory: SkuInventory) -> None:
        if inventory.sku not in self._locked:
            raise UnlockedWrite(f"the backorders of {inventory.sku} written without its lock: lock_skus first")
        for level in inventory.stock.values():
            self._work.stock[(inventory.sku, level.location)] = copy.deepcopy(level)
        for backorder in (*inventory.created.values(), *inventory.touched.values()):
            backorder.new_history = []  # written, as the database writes them once
            self._work.backorders[backorder.id] = copy.deepcopy(backorder)
        inventory.stock_changed, inventory.touched = False, {}

    async def get_product(self, sku: str) -> Product | None:
        return copy.deepcopy(self._work.products.get(sku))

    async def save_product(self, product: Product) -> None:
        product.version += 1
        self._work.products[product.sku] = copy.deepcopy(product)
        self._inventories.pop(product.sku, None)

    async def get_supplier(self, supplier_id: str) -> Supplier | None:
        return copy.deepcopy(self._work.suppliers.get(supplier_id))

    async def save_supplier(self, supplier: Supplier) -> None:
        saved = copy.deepcopy(supplier)
        if (stored := self._work.suppliers.get(supplier.id)) is not None:  # the counts only through count_delivery
            saved.deliveries_on_time, saved.deliveries_late = stored.deliveries_on_time, stored.deliveries_late
        self._work.suppliers[supplier.id] = saved

    async def count_delivery(self, supplier_id: str, late: bool) -> None:
        if (stored := self._work.suppliers.get(supplier_id)) is not None:
            if late:
                stored.deliveries_late += 1
            else:
                stored.deliveries_on_time += 1

    async def skus_supplied_by(self, supplier_id: str) -> list[str]:
        skus = {p.sku for p in self._work.products.values() if p.supplier_id == supplier_id}
        skus |= {line.sku for po in self._work.purchase_orders.values() if po.is_open and po.supplier_id == supplier_id
                 for line in po.lines}
        return sorted(skus)

    async def skus_with_stale_etas(self, now: datetime) -> list[str]:
        return sorted({b.sku for b in self._work.backorders.values()
                       if b.is_active and b.waiting_quantity and (
                           (b.eta is not None and b.eta.date < now.date())
                           or (b.cancel_if_not_by is not None
                               and customer_today(now, self._timezone(b.customer_email)) > b.cancel_if_not_by))})

    def _timezone(self, email: str) -> str:
        """The customer's zone: here the defaults stand for the customer's whole preferences row."""
        return self._work.backorder_defaults.get(email, BackorderPreferences()).timezone

    async def waiting_with_substitute_consent(self) -> list[tuple[str, str]]:
        found = [b for b in self._work.backorders.values()
                 if b.is_active and b.waiting_quantity and b.substitute_consent.automatic]
        return [(b.id, b.sku) for b in sorted(found, key=lambda b: (b.ordered_at, b.id))]

    async def backorder_defaults(self, email: str) -> BackorderPreferences:
        return self._work.backorder_defaults.get(email, BackorderPreferences())

    async def get_purchase_order(self, purchase_order_id: str) -> PurchaseOrder | None:
        return copy.deepcopy(self._work.purchase_orders.get(purchase_order_id))

    async def purchase_order_number_taken(self, number: str) -> bool:
        return any(po.number == number for po in self._work.purchase_orders.values())

    async def save_purchase_order(self, purchase_order: PurchaseOrder) -> None:
        if any(po.number == purchase_order.number and po.id != purchase_order.id
               for po in self._work.purchase_orders.values()):  # the database's unique index
            raise Conflict(f"purchase order number {purchase_order.number} is taken", field="number",
                           code=ErrorCode.DUPLICATE)
        self._work.purchase_orders[purchase_order.id] = copy.deepcopy(purchase_order)
        for line in purchase_order.lines:  # as the store does: the inbound supply changed
            self._inventories.pop(line.sku, None)

    async def record_deliveries(self, purchase_order_id: str, records: Sequence[DeliveryRecord]) -> None:
        self._work.deliveries.extend(records)

    async def delay_counts(self, received_from: date | None, received_to: date | None) -> list[DelayCount]:
        return delay_counts(r for r in self._work.deliveries
                            if (received_from is None or r.received_on >= received_from)
                            and (received_to is None or r.received_on <= received_to))

    async def supplier_ids_by_name(self, names: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for supplier in self._work.suppliers.values():  # in the order they were made
            if supplier.name in names:
                found.setdefault(supplier.name, supplier.id)  # two suppliers of one name: the older one
        return found

    async def get_order(self, order_id: str) -> Order | None:
        return self._order(self._work.orders.get(order_id))

    def _order(self, order: Order | None) -> Order | None:
        """A copy, with the customer as stored now (the database joins the customer's row)."""
        if order is None:
            return None
        found = copy.deepcopy(order)
        found.customer = copy.deepcopy(self._work.customers.get(order.customer.email, found.customer))
        return found

    async def order_number_taken(self, number: str) -> bool:
        return any(o.number == number for o in self._work.orders.values())

    async def get_order_by_key(self, idempotency_key: str) -> Order | None:
        order_id = self._work.order_keys.get(idempotency_key)
        return self._order(self._work.orders.get(order_id)) if order_id else None

    async def save_order(self, order: Order, idempotency_key: str | None = None) -> None:
        if idempotency_key and self._work.order_keys.get(idempotency_key, order.id) != order.id:
            raise Conflict(f"an order with idempotency key {idempotency_key!r} was placed meanwhile",
                           field="idempotency_key", code=ErrorCode.CONFLICT)  # the database's unique index
        order.version += 1
        self._work.orders[order.id] = copy.deepcopy(order)
        if idempotency_key:
            self._work.order_keys[idempotency_key] = order.id

    async def get_backorder(self, backorder_id: str) -> Backorder | None:
        return copy.deepcopy(self._work.backorders.get(backorder_id))

    async def get_customer(self, email: str) -> Customer | None:
        return copy.deepcopy(self._work.customers.get(email))

    async def save_customer(self, customer: Customer) -> None:
        self._work.customers[customer.email] = copy.deepcopy(customer)

    async def get_location(self, code: str) -> Location | None:
        return copy.deepcopy(self._work.locations.get(code))

    async def save_location(self, location: Location) -> None:
        self._work.locations[location.code] = location

    async def lock_location(self, code: str) -> Location | None:
        return await self.get_location(code)

    async def location_use(self, code: str) -> LocationUse:
        levels = [level for (_, where), level in self._work.stock.items() if where == code]
        bound = [po for po in self._work.purchase_orders.values() if po.location == code]
        return LocationUse(on_hand=sum(level.on_hand for level in levels),
                           set_aside=sum(level.allocated for level in levels),
                           staged=sum(level.staged for level in levels),
                           open_purchase_orders=tuple(sorted(po.number for po in bound if po.is_open)),
                           referenced=bool(levels or bound))

    async def retire_location(self, code: str, keep: bool) -> None:
        del self._work.locations[code]  # kept or not, it is unknown from now on

    async def get_exchange_rate(self, from_currency: str, to_currency: str) -> ExchangeRate | None:
        return self._work.exchange_rates.get((from_currency, to_currency))

    async def save_exchange_rate(self, rate: ExchangeRate) -> None:
        self._work.exchange_rates[rate.pair] = rate

    def add_events(self, events: Sequence[Event]) -> None:
        self._events.extend(events)

    async def commit(self) -> None:
        self._work.events.extend(self._events)
        self._events = []
        self._store.state = self._work
        self._work = copy.deepcopy(self._work)
        self._inventories = {}
