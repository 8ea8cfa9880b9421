"""What the use cases need from the outside world, as protocols the store and the bus implement.

`domain.services` is written against these; `domain.store` implements them with tortoise-orm, and
tests may implement them in memory. Nothing here knows about SQL, GraphQL, email or SMS.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Collection, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Protocol

from domain.currency import ExchangeRate
from domain.customers import ChannelConsent, NotificationPreferences, PreferenceChange
from domain.delays import DelayCount, DeliveryRecord
from domain.events import BackorderEvent, Event, QueueChanged, QueueServed
from domain.goodwill import Goodwill
from domain.locations import Location, LocationUse
from domain.model import (
    Backorder,
    Behind,
    Customer,
    HeadRange,
    HistoryEntry,
    Order,
    Product,
    PurchaseOrder,
    ServedWhole,
    ServeRecord,
    SkuInventory,
    StagedReceipt,
    Supplier,
    Waiting,
)
from domain.model.served import Covered, CustomerSlices
from domain.preferences import BackorderPreferences


class UnlockedWrite(RuntimeError):
    """A use case wrote a SKU's backorders (their rows or history) without holding the SKU's lock (`lock_skus`):
    a programming error, raised before anything is written. Every writer of a backorder takes the lock, so none
    decides on a copy another writer is changing (a receipt, a cancel) and history is in the order it happened."""


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without `commit()` rolls everything back.

    The writers of a SKU's backorders (`save_inventory`, `save_served`, `record_goodwill`) raise UnlockedWrite
    unless this unit of work took the SKU's lock first."""

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def lock_skus(self, skus: Sequence[str], *, appending: Sequence[str] = (),
                        behind: Mapping[str, Behind] | None = None) -> None:
        """Serialise writers: after this, no other transaction changes these SKUs until we end.

        Locks are always taken in sorted order so two writers cannot deadlock. A receipt's range still pending
        (`fold_serves`) is folded first, except for `appending` (SKUs an order only joins at the tail of): there
        when the new backorder can join behind the range, else before their rows are read; and for `behind` (a
        writer that changes one backorder of the SKU): when that backorder waits after the range's end, before
        and after the change, the SKU's rows are then read without the range's.
        """

    async def inventory(self, sku: str) -> SkuInventory:
        """The SKU's aggregate: product, stock per location, active queue, open inbound supply.

        Call `lock_skus` first. Raises NotFound for an unknown SKU."""

    async def load_inventories(self, skus: Sequence[str], *, appending_at: datetime | None = None) -> None:
        """Load many SKUs' aggregates at once (after `lock_skus`), so that `inventory` finds them: for a
        1,000-line purchase order, a few statements instead of several per SKU. Unknown SKUs are skipped
        (`inventory` raises for them).

        With `appending_at` (an order placed then), a SKU whose queue the new backorder can join at its
        tail (`SkuInventory.can_append`) may come with its waiting queue summarised (`SkuInventory.ahead`)
        instead of loaded: the cost of a placement then does not grow with the queue."""

    async def queue_head(self, sku: str, at_least: int) -> SkuInventory | None:
        """When at least `at_least` backorders wait for the SKU and this store can serve the head of a queue from
        its rows (`waiting_head`, `save_served`): the SKU's aggregate without its queue (how many wait, and for
        how many units, in `ahead`). None otherwise: load it whole. Call `lock_skus` first."""

    async def waiting_head(self, sku: str, units: int, limit: int | None = None,
                           origin: int | None = None) -> tuple[list[Waiting], int]:
        """The backorders waiting for units that `units` reach in first-come-first-served order (each taking
        what it waits for), in that order, the first `limit` of them (None: all); and how many wait in all.
        `origin`: the SKU's demand origin, given when its stored projection is kept (`SkuInventory.stored_origin`
        with `stored_steps`): each waiting backorder's demand index then says where it sits, and the store may
        find the range by it instead of summing the queue."""

    async def head_range(self, sku: str, units: int, origin: int | None = None) -> HeadRange:
        """What `waiting_head` would read for `units`, without reading the backorders served whole into Python: how
        many of the first in line `units` serve whole (each taking what it waits for, in first-come-first-served
        order), what they wait for in all and at least, their ends' keys and those that had units already; the next
        in line read whole only when `units` reach it in part; and how many wait in all. `origin` as for
        `waiting_head`. `head.served_whole_by` says whether `serve` would serve them so."""

    @property
    def single_writer(self) -> bool:
        """Whether one transaction at a time writes (SQLite): every other writer, of any SKU, waits for it. Else
        (PostgreSQL) writers wait only for those that lock the same SKUs."""

    async def after_requests(self) -> None:
        """Before entering, for a background transaction (the next chunk of a staged receipt, a fold, a fan-out's
        slice): let the requests being served now have all their turns first (each waits behind one chunk at most,
        not one per statement it makes): on a single-writer store the turns of its one connection, elsewhere those
        of the process's event loop and interpreter lock. With none in flight, one turn of the event loop."""

    async def write_served(self, served: ServedWhole, *, from_head: bool = False) -> None:
        """Write what serving did to the backorders of `served.sku` (locked) it served whole (values and history
        rows): a chunk of a staged receipt (`StagedReceipt`). With `from_head` (they were the first of the waiting
        queue in order), the places of those behind them shown as many lower too (the SKU's place origin moved); else
        nothing else."""

    async def staged_receipt(self, sku: str) -> StagedReceipt | None:
        """The SKU's oldest receipt still being put away (after `lock_skus`), or None."""

    async def save_staged(self, receipt: StagedReceipt) -> StagedReceipt:
        """Record a staged receipt (a new one gets its `id`), or its progress; one with no units left is
        removed. The units at its location are the stock levels' (`StockLevel.staged`), saved with them."""

    async def skus_with_staged_receipts(self) -> list[str]:
        """The SKUs with receipts still being put away (what a crash between two chunks left)."""

    async def save_served(self, inventory: SkuInventory, served: ServedWhole,
                          record: ServeRecord | None = None) -> SkuInventory:
        """Persist the aggregate's stock levels (from `queue_head`) and what serving did to the backorders it
        served whole (values and history rows); return the SKU's aggregate with the backorders
        still waiting only (those served whole have no further part in settling it). With `record`, the range
        served whole is recorded instead of their rows (by `record_serve`, unless this unit of work did already), to
        be folded in by `fold_serves`."""

    async def rest_by_slice(self, inventory: SkuInventory, record: ServeRecord, served_units: int,
                            ranges: Sequence[tuple[int, int | None]]) -> tuple[SkuInventory, dict[str, int]] | None:
        """What `save_served` does with `record` (the range a receipt at the head served whole, `inventory` from
        `queue_head` having served it and `served_units` in all, the one reached in part's included), but with only
        a slice of the rest in memory: the waiting backorders behind the range whose cumulative demand, counted from
        after those units, falls in `ranges` ((after, up_to], None: no end), and every waiting one with a "cancel if
        not by" date (`load_slice`), each with that demand; `ahead` counts the others, whose places the store shows
        `record.count` nearer the head without writing them. None, nothing written, when the store cannot: the
        SKU's projection was not kept when the receipt began (the rows behind may not follow it), or too few wait
        behind the range for the places to move by their origin (the whole rest rewrites them): `save_served`."""

    async def record_serve(self, record: ServeRecord) -> int:
        """Keep `record` (the range a receipt at the head of the queue of `record.sku`, locked, served whole), to be
        passed to `save_served` and folded in by `fold_serves`; returns its id (`QueueServed.record_id`)."""

    async def fold_serves(self, sku: str, limit: int | None) -> int:
        """Lock the SKU and fold up to `limit` (None: all) backorders of its recorded receipts into their rows, as
        each receipt decided them; returns how many are left. `lock_skus` folds all of them first."""

    async def skus_with_pending_serves(self) -> list[str]:
        """The SKUs with receipts recorded as ranges and not yet folded."""

    async def untold_serves(self) -> list[int]:
        """The receipts recorded as ranges and not yet told, oldest first (their ids, a page of them); none when this
        unit of work cannot tell them (it has no hook that fans a range out)."""

    async def untold_served(self, record_id: int) -> QueueServed | None:
        """The receipt recorded as the range `record_id`, if not yet told and this unit of work can tell it (it has
        the hooks that fan a range out): its event. None otherwise."""

    def served_by_customer(self, served: QueueServed) -> AsyncGenerator[list[Covered], None]:
        """The backorders `served` covers, read back outside any transaction (callable without entering it) in
        customer order (code point of the email, each one's in queue order) a piece at a time: what `tell_served`
        tells a slice of whole customers at a time (`ArrivingByCustomer`), none of a long range held all at once.
        Close it (`contextlib.aclosing`) to give its connection back before its end."""

    async def tell_served(self, served: QueueServed, covered: CustomerSlices, most: int) -> bool | None:
        """Tell the next slice of `served` (read back as `covered`) to those told per backorder after its commit (the
        outbox, the webhooks: the customers after the last told, whole, up to `most` backorders, their part written
        in this transaction) and record in it how far it is told, the range marked told with its last slice:
        committed whole or not at all, and never told by two units of work. Returns whether the range is told now;
        None when it was told already, is being told elsewhere, or this unit of work cannot tell it."""

    async def summarised_inventories(self, skus: Sequence[str], at_least: int = 0) -> dict[str, SkuInventory]:
        """Aggregates of those of `skus` (after `lock_skus`) with at least `at_least` backorders waiting, their
        waiting queues not loaded, only counted (`SkuInventory.ahead`), for re-projecting a slice of a long
        queue; a SKU the store cannot summarise is left out (its caller loads it whole). Not kept for
        `inventory`."""

    async def load_slice(self, inventory: SkuInventory, ranges: Sequence[tuple[int, int | None]]) -> dict[str, int]:
        """Into a summarised `inventory.queue`, the waiting backorders whose cumulative demand in queue order
        falls in `ranges` ((after, up_to], None: no end), and every waiting one with a "cancel if not by" date.
        Returns each one's cumulative demand; `inventory.ahead` then counts the others."""

    async def save_inventory(self, inventory: SkuInventory) -> None:
        """Persist stock levels and every backorder the aggregate touched or created."""

    async def get_product(self, sku: str) -> Product | None: ...

    async def save_product(self, product: Product) -> None: ...

    async def get_supplier(self, supplier_id: str) -> Supplier | None: ...

    async def save_supplier(self, supplier: Supplier) -> None:
        """Its name and lead time (a new supplier with its counts). The delivery counts change only through
        `count_delivery`, so a stale copy saved by one use case cannot undo another's count."""

    async def count_delivery(self, supplier_id: str, late: bool) -> None:
        """One more on-time or late delivery, added in place: concurrent receipts of the supplier's purchase
        orders each count (a read-add-save lost one of two)."""

    async def skus_supplied_by(self, supplier_id: str) -> list[str]:
        """SKUs whose ETAs depend on this supplier: its products, and SKUs on its open purchase orders."""

    async def skus_with_stale_etas(self, now: datetime) -> list[str]:
        """SKUs with a waiting backorder whose ETA is already in the past (a purchase order that did not
        come on its date), or whose customer's "cancel if not by" date has passed in the customer's time zone
        (`customer_today`): time alone has made their projection wrong, or the backorder due for cancelling."""

    async def waiting_with_substitute_consent(self) -> list[tuple[str, str]]:
        """(backorder id, SKU) of every backorder waiting for units whose customer consented in advance to a
        substitute (SAME_PRICE_OR_LOWER, ANY_LISTED), oldest first."""

    async def backorder_defaults(self, email: str) -> BackorderPreferences:
        """The customer's defaults for new backorders (none set: no date, ASK)."""

    async def get_purchase_order(self, purchase_order_id: str) -> PurchaseOrder | None: ...

    async def save_purchase_order(self, purchase_order: PurchaseOrder) -> None: ...

    async def purchase_order_number_taken(self, number: str) -> bool: ...

    async def record_deliveries(self, purchase_order_id: str, records: Sequence[DeliveryRecord]) -> None:
        """Keep the suppliers' delivery record (append-only). Inventories loaded afterwards in this unit
        of work project with it."""

    async def delay_counts(self, received_from: date | None, received_to: date | None) -> list[DelayCount]:
        """Lines received between the dates (inclusive; None: unbounded), counted per supplier and delay."""

    async def supplier_ids_by_name(self, names: Sequence[str]) -> dict[str, str]:
        """Supplier ids by exact name (of two with one name, the older)."""

    async def get_order(self, order_id: str) -> Order | None: ...

    async def order_number_taken(self, number: str) -> bool: ...

    async def get_order_by_key(self, idempotency_key: str) -> Order | None:
        """The order placed earlier with this client-supplied idempotency key, if any."""

    async def save_order(self, order: Order, idempotency_key: str | None = None) -> None: ...

    async def get_backorder(self, backorder_id: str) -> Backorder | None: ...

    async def get_customer(self, email: str) -> Customer | None: ...

    async def save_customer(self, customer: Customer) -> None: ...

    async def get_location(self, code: str) -> Location | None:
        """The shop's location with this (upper-case) code, if it has set one up."""

    async def save_location(self, location: Location) -> None:
        """Set up or rename a location; a retired one set up again is in use again."""

    async def lock_location(self, code: str) -> Location | None:
        """The location (not retired), locked until commit against writers that use it (`get_location`)."""

    async def location_use(self, code: str) -> LocationUse:
        """What is at the location now (units on hand and set aside, purchase orders bound for it) and whether
        anything ever referred to it."""

    async def retire_location(self, code: str, keep: bool) -> None:
        """Retire the location: kept, marked retired, when `keep` (history refers to it); else removed."""

    async def notification_preferences(self, email: str) -> tuple[NotificationPreferences, ChannelConsent]:
        """The customer's notification preferences (the defaults when none are saved) and the consent on record,
        locked until commit against another change to them."""

    async def save_notification_preferences(self, prefs: NotificationPreferences, consent: ChannelConsent,
                                            changes: Sequence[PreferenceChange]) -> None:
        """Save the preferences and the consent on record, and keep the changes (append-only)."""

    async def get_exchange_rate(self, from_currency: str, to_currency: str) -> ExchangeRate | None:
        """The shop's rate in that direction, if it has set one."""

    async def save_exchange_rate(self, rate: ExchangeRate) -> None:
        """Set the rate for its pair of currencies (replacing the one before)."""

    async def record_goodwill(self, backorder: Backorder, goodwill: Goodwill, entry: HistoryEntry) -> None:
        """Keep an agent's goodwill and its line in the backorder's history (under its SKU's lock, as every writer
        of a backorder's history)."""

    def add_events(self, events: Sequence[Event]) -> None:
        """Queue events: written to the event log in this transaction, published after commit."""

    async def commit(self) -> None: ...


class ServedRanges(Protocol):
    """How a consumer of a receipt recorded as a range (`QueueServed`: the live hub, the digests' outbox, the
    webhooks, the metrics) reads the per-backorder events it stands for: from the covered backorders' rows while
    the range is not folded into them, from their rows and the history the fold wrote once it is (each part as it
    is while the fold is under way), the same events either side; one read for the whole range, never one per
    backorder."""

    async def backorder_events(self, served: QueueServed,
                               customers: Collection[str] | None = None) -> list[BackorderEvent]:
        """The per-backorder events `served` stands for (those of `customers`' backorders only, if given), in the
        order the receipt told them."""

    async def queue_change(self, served: QueueServed,
                           customers: Collection[str] | None = None) -> QueueChanged | None:
        """The same events as the one QueueChanged `events.compact` folds them into (None when there are none),
        made from the covered rows without an event object per backorder."""


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class EventPublisher(Protocol):
    """Fan-out of committed events to whoever listens (subscriptions, notifications)."""

    async def publish(self, events: Sequence[Event]) -> None: ...
