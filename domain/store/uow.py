"""The tortoise unit of work: one database transaction per use case, rows mapped to domain objects by
`domain.store.mapping`.

Over 400 lines on purpose: it is the one implementation of the UnitOfWork port (domain/ports.py), and its
bulk paths (plain SQL reading 100k-row queues, PostgreSQL unnest updates) stay beside the reads and writes
they speed up.

Writers to a SKU are serialised: on PostgreSQL with `SELECT ... FOR UPDATE` on the product rows (in
sorted order, so no deadlock); on SQLite the single-writer transaction lock does it. Events queued by
the use case are written to `event_log` inside the transaction, handed to `before_commit` hooks (the
notifications outbox), and published to the bus only after the commit succeeded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import replace
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from domain import model as m
from domain.currency import ExchangeRate
from domain.customers import ChannelConsent, NotificationPreferences, PreferenceChange
from domain.delays import DelayCount, DelayHistory, DeliveryRecord, EtaLearning
from domain.errors import Conflict, ErrorCode, not_found
from domain.eta import Eta, EtaSteps, InboundSupply
from domain.events import Event, QueueChanged, QueueServed, compact
from domain.goodwill import Goodwill
from domain.locations import Location, LocationUse
from domain.model.head import QueueKey, queue_key
from domain.model.served import Covered, CustomerSlices, recorded_event
from domain.ports import EventPublisher, UnlockedWrite
from domain.preferences import BackorderPreferences, SubstituteConsent, customer_today
from domain.store import bulk, collector, current, deliveries, mapping, portal, turns
from domain.store import models as t
from domain.store.aside import aside_connection
from domain.store.ordering import by_code_point, text_key
from domain.store.transactions import Transaction, to_the_end

# rows converted between two turns of the event loop: a 100k queue's receipt held it for seconds, and every
# other request of the process (another SKU's order) waited that long (bench/allocation.py)
YIELD_EVERY = 2_000
WRITE_SLICE = 5_000  # served backorders written a statement at a time
FOLD_SLICE = 500  # backorders of a recorded receipt folded a statement at a time (`TortoiseUnitOfWork._fold_slice`)
COMPACT_ASIDE = 6_000  # events from which `compact` runs in a worker thread
LONG_CHECK = 2_000  # backorders from which a queue's projection is checked in a worker thread
# rows a save must spare their write for it to move the SKU's place origin instead (`_moved_origin`, migration 0029:
# a receipt serving N whole from the head of a long queue moves it N, the rows behind keep their stored places).
# Moving it is one single-row UPDATE of `products`; the rows it spares would be one bulk UPDATE of their places and
# versions, ~30 us a row beyond the statement on PostgreSQL (bench/README.md, step 6 (a)): from 100 rows it pays
# with room. The tests run with 1 (tests/conftest.py), so their stored places differ from the shown ones.
# Readers always show places counted from the origin, whatever this says.
ORIGIN_FROM = 100
BeforeCommitHook = Callable[[TransactionalDBClient, Sequence[Event]], Awaitable[None]]
log = logging.getLogger("backorder.receipts")
UNTOLD_PAGE = 200  # untold ranges listed at a time by a fan-out (`untold_serves`)
TELL_LOCK = 15_0028  # the advisory lock space of the fan-outs (`tell_served`): one key per queue_serves row
ACTIVE = [s.value for s in m.ACTIVE_STATUSES]
WAITING = [m.BackorderStatus.WAITING.value, m.BackorderStatus.PARTIALLY_ALLOCATED.value]  # units still to allocate
# the predicate of the queue-order index (migration 0027: waiting backorders only), word for word: SQLite uses a
# partial index only for a statement that states its predicate, and PostgreSQL's generic plan of a statement that
# has the statuses as parameters could not use it
_WAITING_ROWS = "\"status\" IN ('WAITING', 'PARTIALLY_ALLOCATED')"
assert _WAITING_ROWS == f"\"status\" IN ('{WAITING[0]}', '{WAITING[1]}')"
OPEN_PO = [m.PurchaseOrderStatus.OPEN.value, m.PurchaseOrderStatus.PARTIALLY_RECEIVED.value]


DEFAULT_LEARNING = EtaLearning()
# the SKUs' locks in the order `sorted` gives them, whatever the database's collation: a lock statement's order and
# the domain's are one order
_P_SKU = by_code_point('p."sku"', "postgres")


@runtime_checkable
class FanOut(Protocol):
    """A before-commit hook that leaves a receipt recorded as a range (`QueueServed`) out of the receipt's own
    transaction and tells it afterwards, in a transaction of its own (`TortoiseUnitOfWork.tell_served`): reading the
    range back is what grows with it (issue 15), and the receipt must not wait for that."""

    async def fan_out(self, conn: TransactionalDBClient, served: QueueServed,
                      covered: Sequence[Covered] | None = None) -> None:
        """Tell `served` on `conn`: to the customers of `covered` (whole customers, a slice of the range, as read
        back: `TortoiseUnitOfWork.tell_served`), or, without it, to all its customers, read back here."""


def _serve_record(row: dict[str, Any]) -> m.ServeRecord:
    """A `queue_serves` row as the domain's record of the receipt."""
    first = None if row["first_id"] is None else (
        row["first_priority"], mapping.as_datetime(row["first_ordered_at"]), row["first_id"])
    partly = row["partly"]
    return m.ServeRecord(
        row["sku"], row["location"], mapping.as_datetime(row["served_at"]),
        mapping.history_cause(row["cause"], row["cause_data"]), row["waiting_count"], row["served_count"],
        row["served_units"], (row["last_priority"], mapping.as_datetime(row["last_ordered_at"]), row["last_id"]),
        row["folded_count"], first,
        tuple((str(i), int(n)) for i, n in (json.loads(partly) if isinstance(partly, str) else partly or ())))


class NullPublisher:
    async def publish(self, events: Sequence[Event]) -> None:
        return None


class TortoiseUnitOfWork:
    def __init__(
        self,
        publisher: EventPublisher | None = None,
        *,
        policy: m.PriorityPolicy | None = None,
        default_lead_time_days: int = 14,
        eta_learning: EtaLearning | None = DEFAULT_LEARNING,
        before_commit: Sequence[BeforeCommitHook] = (),
    ) -> None:
        self._publisher = publisher or NullPublisher()
        self._policy = policy
        self._default_lead_time = default_lead_time_days
        self._eta_learning = eta_learning
        self._before_commit = list(before_commit)
        self._events: list[Event] = []
        self._inventories: dict[str, m.SkuInventory] = {}
        # backorder id -> the changing columns' values as loaded (`_CHANGING` order): a tuple, not the row, as
        # a 100k queue keeps one each for the whole use case
        self._loaded: dict[str, tuple[Any, ...]] = {}
        self._stock_ids: dict[tuple[str, str], int] = {}
        self._queue_counts: dict[str, tuple[int | None, int | None]] = {}  # sku -> products.waiting_* as loaded
        self._queue_counts_changed: dict[str, tuple[int, int]] = {}
        # sku -> `products.eta_projection` as loaded; the SKUs whose whole active queue is in memory (`_whole`)
        self._projections: dict[str, str | None] = {}
        self._whole: set[str] = set()
        # sku -> what its stored places count from (`products.place_origin`, migration 0029) as loaded or since
        # written: the domain works in the places shown (stored less this); the SKUs whose whole waiting queue is in
        # memory (`_places_whole`), for which a save may move the origin instead of the rows (`_moved_origin`)
        self._origins: dict[str, int] = {}
        self._places_whole: set[str] = set()
        # the SKUs whose waiting queue is in memory after a receipt at its head whose projection was kept when the
        # receipt began: the rows not in memory then are the allocated ones, which followed it (`save_served`); with
        # the ETA that projection gave them, which the new one must give them too for it to be kept
        self._rest_follows: dict[str, Eta] = {}
        # the SKUs whose active rows are in memory but a pending range's (the rest its receipt left, with
        # `_rest_follows`; or a writer behind it, `lock_skus`' `behind`): the ETA the range's rows get once folded
        # (`ServedWhole.ready`), which the new projection must give allocated rows too for it to be kept; kept, it is
        # the projection of the queue as the fold leaves it, which the fold keeps (`_keep_folded_projection`)
        self._range_ready: dict[str, Eta] = {}
        # the SKUs whose rest after a receipt's recorded range is in memory as a slice (`rest_by_slice`): the ETA
        # the allocated rows had from the projection found, which the new one must give too for it to be kept; and
        # the projection a receipt found, for `save_served` should it load the whole rest after all
        self._sliced: dict[str, Eta] = {}
        self._found_projections: dict[str, str | None] = {}
        self._locked: set[str] = set()  # the SKUs whose lock this transaction holds (`lock_skus`)
        # sku -> the end of its pending ranges, whose fold `lock_skus` deferred for an order appending to its queue
        self._deferred: dict[str, QueueKey] = {}
        # of those, the SKUs whose writer changes only a backorder behind the range (`lock_skus`' `behind`): their
        # rows are loaded without the range's, which stays pending
        self._behind: dict[str, QueueKey] = {}
        # sku -> the range a receipt of this transaction recorded (`record_serve`), until folded
        self._recorded: dict[str, m.ServeRecord] = {}
        self._committed = False
        self._holds_collector = False  # a long queue in memory: the cyclic collector waits until this ends
        self._tx: Transaction | None = None
        self.conn: TransactionalDBClient | None = None

    # -- transaction --------------------------------------------------------------------------
    async def __aenter__(self) -> TortoiseUnitOfWork:
        # cancellable at any await (graphql-core cancels a failed query's sibling root fields) without leaving the
        # connection, its lock or the transaction held: domain.store.transactions
        self._tx = current.writer_transaction(Transaction)
        self.conn = await self._tx.__aenter__()
        self._as_writer = current.as_writer()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tx is not None
        current.reset_writer(self._as_writer)
        if exc_type is None and not self._committed:
            self._tx.rollback_on_exit()
        try:
            try:
                await self._tx.__aexit__(exc_type, exc, tb)
            finally:
                try:
                    if self._tx.committed and self._events:  # published even when the commit ended under a cancellation
                        await to_the_end(self._publisher.publish(self._events))
                finally:
                    if self._holds_collector:
                        self._holds_collector = False
                        # the long queue's bookkeeping and its events (a 100k receipt's: 400k tuples), published by
                        # now: freed before the collector's first scan, which would go through them all otherwise
                        self._loaded.clear()
                        self._inventories.clear()
                        self._events = []
                        collector.release()
        except IntegrityError as error:
            raise Conflict(f"conflicting change: {error}", code=ErrorCode.CONFLICT) from error
        if exc is not None and _is_deadlock(exc):  # PostgreSQL chose this transaction to undo: nothing was written
            raise Conflict("another change to the same items got in the way; please try again",
                           code=ErrorCode.CONFLICT) from exc

    async def commit(self) -> None:
        assert self.conn is not None
        if self._queue_counts_changed:
            await self._save_queue_counts()
        if self._events:
            # a long queue's allocations, status changes and ETA moves as one event (domain.events.QueueChanged):
            # one event-log row, one outbox row per customer, one message on the bus, instead of 3 per backorder
            long = len(self._events) >= COMPACT_ASIDE
            if not long:
                self._events = compact(self._events)
            else:  # folding 300k events is a second of Python: in a thread, so the process serves others meanwhile
                self._events = await asyncio.to_thread(compact, self._events)
            # the log's rows made (its parts cut, their JSON encoded: a 100k receipt's 26 MB) in a thread too
            await bulk.insert_streamed(
                self.conn, "event_log", ("kind", "occurred_at", "backorder_id", "order_id", "sku", "payload"),
                ("text", "timestamptz", "text", "text", "text", "jsonb"),
                ((e.kind, e.occurred_at, getattr(e, "backorder_id", None), getattr(e, "order_id", None),
                  getattr(e, "sku", None), _json(e.to_dict())) for e in _logged(self._events)), aside=long)
            for hook in self._before_commit:
                await hook(self.conn, self._events)
        self._committed = True

    def _hold_collector(self, rows: int) -> None:
        """About to hold `rows` of a queue in memory: from HOLD_FROM the cyclic collector waits until this unit of
        work ends (`domain.store.collector`)."""
        if rows >= collector.HOLD_FROM and not self._holds_collector:
            self._holds_collector = True
            collector.hold()

    def add_events(self, events: Sequence[Event]) -> None:
        self._events.extend(events)

    @property
    def is_postgres(self) -> bool:
        assert self.conn is not None
        return bool(self.conn.capabilities.dialect == "postgres")

    async def lock_skus(self, skus: Sequence[str], *, appending: Sequence[str] = (),
                        behind: Mapping[str, m.Behind] | None = None) -> None:
        """The SKUs locked, and any receipt of theirs still recorded as a range (`queue_serves`) folded into its
        rows first: what this writer reads and changes is then what the receipt left, and no serve's range moves
        (nobody reprioritises, cancels or joins in front of it while it is pending).

        Except for those of `appending` (an order's SKUs: a new backorder joins their queue at its tail), whose
        fold is deferred: a 100k range folded first made the next order for the SKU wait for all of it (seconds
        even set-based, bench/README.md). Their range stays pending, and the order does not wait for it, when the
        new backorder can join the queue behind the range without anything read or changed in front of it: the
        queue summarised past the range (`_load_for_append`: its counts already leave the range out, its ends read
        past it) and the new backorder sorting after the range's last (so the fold, which takes the first waiting
        in queue order up to that last, never reaches it). Otherwise, and before any read of that SKU's rows
        (`_load_inventories`), the range is folded whole first, as for every other writer.

        And except for those of `behind` (a writer that changes one backorder of the SKU: a cancel, a
        reprioritisation, its preferences): when that backorder, read under the lock, waits in its row after the
        range's end in queue order, before and after the change (`m.Behind`), the range is left pending and the
        SKU's rows are loaded without the range's (`_load_inventories`): they are ALLOCATED once folded, so no
        settle hands them units, places them, or re-projects them, and what the writer saves is what it would
        save after the fold. So a pending range never moves: nobody joins in front of it, and nothing in it is
        read or written but by the fold (`save_inventory` checks what a writer behind it saves)."""
        if not skus:
            return
        pending = await self._lock(skus)
        later, wanted = set(appending), behind or {}
        for sku, end in pending.items():
            if sku in later:
                self._deferred[sku] = end
            elif sku in wanted and await self._sorts_behind(sku, wanted[sku], end):
                self._deferred[sku] = self._behind[sku] = end
                self._range_ready[sku] = await self._pending_ready(sku)
            else:
                await self.fold_serves(sku, None, locked=True)
                self._deferred.pop(sku, None)
                self._behind.pop(sku, None)

    async def _sorts_behind(self, sku: str, behind: m.Behind, end: QueueKey) -> bool:
        """Whether `behind`'s backorder (read under the SKU's lock) waits in its row after `end` in queue order, and
        would still with its new agent priority. A writer of no backorder (`m.Behind(None)`, a stock adjustment) is."""
        if behind.backorder_id is None:
            return True
        rows = await t.Backorder.filter(id=behind.backorder_id, sku=sku, status__in=WAITING).using_db(
            self.conn).values_list("priority_override", "ordered_at")
        if not rows:
            return False
        priority, ordered_at = rows[0]
        last = _queue_order_key(end)
        keys = [priority] if behind.priority is None else [priority, behind.priority]
        return all(_queue_order_key((p, mapping.as_datetime(ordered_at), behind.backorder_id)) > last for p in keys)

    async def _fold_deferred(self, skus: Sequence[str]) -> None:
        """Fold, whole, the deferred ranges (`lock_skus`) of those of `skus` whose rows are about to be read (but for
        a writer behind the range: its rows are read without the range's)."""
        for sku in [sku for sku in skus if sku in self._deferred and sku not in self._behind]:
            await self.fold_serves(sku, None, locked=True)
            del self._deferred[sku]

    async def _lock(self, skus: Sequence[str]) -> dict[str, QueueKey]:
        """Lock `skus` (PostgreSQL: their product rows; SQLite: the transaction's write lock does it) and say which
        of them have receipts not yet folded, with the key of the last backorder their ranges cover (each a head of
        the queue). Read once the lock is held: on PostgreSQL a statement that waited for the lock still reads
        other tables as they were when it began, so a range a receipt recorded (or the background fold finished)
        meanwhile would be missed (or still seen) by a question asked in the locking statement itself."""
        assert self.conn is not None
        wanted = sorted(set(skus))
        self._locked.update(wanted)
        if self.is_postgres:
            # plain SQL: tortoise drops FOR UPDATE from values()/values_list() queries without a word
            await self.conn.execute_query(
                f'SELECT p."sku" FROM "products" AS p WHERE p."sku" = ANY($1::text[]) ORDER BY {_P_SKU} '
                'FOR UPDATE OF p', [wanted])
        ends: dict[str, QueueKey] = {}
        for start in range(0, len(wanted), 500):  # SQLite allows so many parameters in one statement
            chunk = wanted[start:start + 500]
            rows = await t.QueueServe.filter(sku__in=chunk, folded_count__lt=F("served_count")).using_db(
                self.conn).values_list("sku", "last_priority", "last_ordered_at", "last_id")
            for sku, priority, ordered_at, last_id in rows:
                key = (priority, mapping.as_datetime(ordered_at), last_id)
                if sku not in ends or _queue_order_key(key) > _queue_order_key(ends[sku]):
                    ends[sku] = key
        return ends

    # -- the SKU aggregate --------------------------------------------------------------------
    async def inventory(self, sku: str) -> m.SkuInventory:
        cached = self._inventories.get(sku)
        if cached is None:
            await self._load_inventories([sku])
            cached = self._inventories.get(sku)
            if cached is None:
                raise not_found("product", sku, field="sku")
        return cached

    async def load_inventories(self, skus: Sequence[str], *, appending_at: datetime | None = None) -> None:
        wanted = [sku for sku in dict.fromkeys(skus) if sku not in self._inventories]
        if appending_at is not None:
            wanted = await self._load_for_append(wanted, appending_at)
        for start in range(0, len(wanted), 500):  # SQLite allows so many parameters in one statement
            await self._load_inventories(wanted[start:start + 500])

    async def _load_for_append(self, skus: list[str], now: datetime) -> list[str]:
        """Load the SKUs whose queue a backorder placed `now` can join at its tail with the queue summarised
        (`SkuInventory.can_append`): a few rows each, however long the queue. Returns the SKUs that need
        their queue loaded whole."""
        whole: list[str] = []
        for start in range(0, len(skus), 500):
            await self._load_inventories(skus[start:start + 500], whole_queue=False)
        for sku in skus:
            inventory = self._inventories.get(sku)
            if inventory is None:
                whole.append(sku)  # unknown: the whole load says so
                continue
            count, units = self._queue_counts.get(sku, (None, None))
            after = self._deferred.get(sku)
            # a new backorder (no agent priority, placed now) sorts after a pending range's last, or the range is
            # folded first: it would join in front of the range's end
            behind = after is None or after[0] > 0 or (after[0] == 0 and now > after[1])
            if count is not None and units is not None and behind:
                head, tail = await self._queue_ends(sku, after)
                inventory.ahead = m.QueueAhead(count, units, head, tail)
                if inventory.can_append(now):
                    continue
            del self._inventories[sku]
            whole.append(sku)
        await self._fold_deferred(whole)
        return whole

    async def _queue_ends(self, sku: str, after: QueueKey | None = None) -> tuple[m.Backorder | None,
                                                                                    m.Backorder | None]:
        """The first and last waiting backorders of `sku` in priority order (agent priority first, then order
        time, then id): index probes on (sku, status, priority_override, ordered_at, id), one per status. With
        `after` (the last a pending range covers: its backorders still wait in their rows), those after it."""
        assert self.conn is not None
        await self._origin(sku)  # the rows' places are shown less it (`_shown`)
        found: list[m.Backorder] = []
        for status in WAITING:
            for first, order in (("DESC", "ASC"), ("ASC", "DESC")):
                marks = ["$1", "$2", "$3", "$4"] if self.is_postgres else ["?"] * 4
                # the priority as ORDER BY ... LIMIT 1, not MIN/MAX: PostgreSQL reads every index entry for those
                rows = await self.conn.execute_query_dict(
                    f'SELECT * FROM "backorders" WHERE "sku" = {marks[0]} AND "status" = {marks[1]} AND '
                    f'{_WAITING_ROWS} AND "priority_override" = (SELECT "priority_override" FROM "backorders" '
                    f'WHERE "sku" = {marks[2]} AND "status" = {marks[3]} AND {_WAITING_ROWS} '
                    f'ORDER BY "priority_override" {first} LIMIT 1) '
                    f'ORDER BY "ordered_at" {order}, {self._text_key("id")} {order} LIMIT 1',
                    [sku, status, sku, status])
                found.extend(self._shown(mapping.backorder(mapping.backorder_row(row), [])) for row in rows)
        if not found:
            return None, None
        ranked = sorted(found, key=_queue_order_key)
        if after is None:
            return ranked[0], ranked[-1]
        end = _queue_order_key(after)
        if _queue_order_key(ranked[-1]) <= end:
            return None, None  # the range covers every backorder waiting
        if _queue_order_key(ranked[0]) > end:
            return ranked[0], ranked[-1]
        return await self._first_after(sku, after), ranked[-1]

    async def _first_after(self, sku: str, after: QueueKey) -> m.Backorder | None:
        """The first waiting backorder of `sku` after `after` in queue order: by index probes, per status the
        first of the same agent priority after it, and the first of the next priority below."""
        assert self.conn is not None
        await self._origin(sku)  # the rows' places are shown less it (`_shown`)
        priority, ordered_at, last_id = after
        postgres = self.is_postgres
        by_id = self._text_key("id")
        last = ':last_id::text COLLATE "C"' if postgres else ":last_id"
        waiting = f'"sku" = :sku AND "status" = :status AND {_WAITING_ROWS}'
        # past `after` at its priority: on PostgreSQL a row comparison, which the queue-order index bounds (an OR of
        # the two cases only filters what it reads: every backorder of the priority ahead of `after`, a pending
        # range's 100k behind which an order is placed); on SQLite the OR, as before
        past = f'("ordered_at", {by_id}) > (:ordered_at, {last})' if postgres else \
            f'("ordered_at" > :ordered_at OR ("ordered_at" = :ordered_at AND {by_id} > {last}))'
        found: list[m.Backorder] = []
        for status in WAITING:
            params = {"sku": sku, "status": status, "priority": priority, "ordered_at": ordered_at,
                      "last_id": last_id}
            for statement in (
                    f'SELECT * FROM "backorders" WHERE {waiting} AND "priority_override" = :priority AND {past} '
                    f'ORDER BY "ordered_at", {by_id} LIMIT 1',
                    f'SELECT * FROM "backorders" WHERE {waiting} AND "priority_override" = (SELECT '
                    f'"priority_override" FROM "backorders" WHERE {waiting} AND "priority_override" < :priority '
                    f'ORDER BY "priority_override" DESC LIMIT 1) ORDER BY "ordered_at", {by_id} LIMIT 1'):
                used = {name: value for name, value in params.items() if f":{name}" in statement}
                sql, values = _named(statement, used, postgres=postgres)
                rows = await self.conn.execute_query_dict(sql, values)
                found.extend(self._shown(mapping.backorder(mapping.backorder_row(row), [])) for row in rows)
        return min(found, key=_queue_order_key) if found else None

    async def _load_inventories(self, skus: list[str], *, whole_queue: bool = True,
                                statuses: Sequence[str] = ACTIVE) -> None:
        """The aggregates of `skus` in six queries in all, whatever their number: a 1,000-line purchase
        order received, or a long queue re-projected, costs the same few statements as one SKU."""
        if not skus:
            return
        if whole_queue:  # its rows read: a range deferred by `lock_skus` is folded into them first
            await self._fold_deferred(skus)
        product_rows = await t.Product.filter(sku__in=skus).values()
        products = {row["sku"]: mapping.product(row) for row in product_rows}
        if not products:
            return
        if whole_queue:
            self._hold_collector(sum(row["waiting_count"] or 0 for row in product_rows))
        for product_row in product_rows:
            self._queue_counts[product_row["sku"]] = (product_row["waiting_count"], product_row["waiting_units"])
            self._projections[product_row["sku"]] = product_row["eta_projection"]
            self._origins[product_row["sku"]] = product_row["place_origin"] or 0
            if whole_queue:  # every waiting row (a writer behind a pending range: every one the range leaves)
                self._places_whole.add(product_row["sku"])
            else:
                self._places_whole.discard(product_row["sku"])
            if whole_queue and statuses is ACTIVE and product_row["sku"] not in self._behind:
                self._whole.add(product_row["sku"])
            else:
                self._whole.discard(product_row["sku"])
            self._rest_follows.pop(product_row["sku"], None)
            self._sliced.pop(product_row["sku"], None)
            self._found_projections.pop(product_row["sku"], None)
            if not (whole_queue and statuses is ACTIVE and product_row["sku"] in self._behind):
                self._range_ready.pop(product_row["sku"], None)  # a writer behind the range keeps it (`lock_skus`)
        found = list(products)
        stock: dict[str, list[m.StockLevel]] = defaultdict(list)
        for row in await t.StockLevel.filter(sku__in=found).values():
            self._stock_ids[(row["sku"], row["location"])] = row["id"]
            stock[row["sku"]].append(mapping.stock_level(row))
        # plain SQL: tortoise's per-field conversion of 100k rows costs more than the allocation itself
        assert self.conn is not None
        n = len(found)
        width = n + max(len(statuses), len(OPEN_PO))
        marks = [f"${i}" for i in range(1, width + 1)] if self.is_postgres else ["?"] * width
        # a SKU whose writer stays behind its pending range (`lock_skus`): its rows without the range's
        behind = [sku for sku in found if sku in self._behind] if whole_queue else []
        rest = [sku for sku in found if sku not in behind]
        r = len(rest)
        rows = await self.conn.execute_query_dict(
            f'SELECT * FROM "backorders" WHERE "sku" IN ({", ".join(marks[:r])}) '
            f'AND "status" IN ({", ".join(marks[r:r + len(statuses)])})'
            + (f' AND {_WAITING_ROWS}' if list(statuses) == WAITING else ''), [*rest, *statuses]) \
            if whole_queue and rest else []
        for sku in behind:
            rows.extend(await self._rows_behind(sku, self._behind[sku], statuses))
        queues: dict[str, list[m.Backorder]] = defaultdict(list)
        for count, raw in enumerate(rows, 1):
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a long queue: let the process's other requests run meanwhile
            row = mapping.backorder_row(raw)
            self._loaded[row["id"]] = tuple(row[k] for k in _CHANGING)
            queues[row["sku"]].append(self._shown(mapping.backorder(row, [])))
        # a "cancel if not by" date is a day where its customer is: their zones, for the few with a date
        dated = [b for queue in queues.values() for b in queue if b.cancel_if_not_by is not None]
        zones = await self._timezones({b.customer_email for b in dated}) if dated else {}
        for b in dated:
            b.customer_timezone = zones.get(b.customer_email, "UTC")
        # what is still to come on open purchase orders, in one join: received and cancelled lines of the
        # shop's whole history stay in the database, not in this read
        po_marks = marks[:n + len(OPEN_PO)]
        lines = await self.conn.execute_query_dict(
            'SELECT l."sku", l."quantity" - l."received_quantity" AS "outstanding", p."number", p."expected_date", '
            'p."supplier_id" FROM "purchase_order_lines" AS l JOIN "purchase_orders" AS p ON p."id" = '
            f'l."purchase_order_id" WHERE l."sku" IN ({", ".join(po_marks[:n])}) AND p."status" IN '
            f'({", ".join(po_marks[n:])}) AND l."quantity" > l."received_quantity"', [*found, *OPEN_PO])
        supplier_ids = {line["supplier_id"] for line in lines} | {
            p.supplier_id for p in products.values() if p.supplier_id}
        suppliers = {
            row["id"]: mapping.supplier(row) for row in await t.Supplier.filter(id__in=list(supplier_ids)).values()
        } if supplier_ids else {}
        inbound: dict[str, list[InboundSupply]] = defaultdict(list)
        for line in lines:
            supplier = suppliers.get(line["supplier_id"])
            expected = line["expected_date"]
            if isinstance(expected, str):  # SQLite hands dates back as text
                expected = date.fromisoformat(expected)
            inbound[line["sku"]].append(InboundSupply(line["number"], expected, line["outstanding"],
                                                      bool(supplier and supplier.has_been_late),
                                                      supplier_id=line["supplier_id"]))
        # what the suppliers' deliveries taught (one grouped query): the projection shifts their POs' dates
        history = await deliveries.delay_history(list(supplier_ids), found, self.conn) \
            if self._eta_learning is not None and supplier_ids else DelayHistory()
        for sku, product in products.items():
            self._inventories[sku] = m.SkuInventory(
                product, stock.get(sku, []), queues.get(sku, []), inbound=inbound.get(sku, []),
                supplier=suppliers.get(product.supplier_id) if product.supplier_id else None,
                policy=self._policy, default_lead_time_days=self._default_lead_time,
                delays=history, eta_learning=self._eta_learning,
            )
            stored = mapping.stored_projection(self._projections[sku])
            if stored is not None:
                self._inventories[sku].stored_steps, self._inventories[sku].stored_origin = stored

    async def _rows_behind(self, sku: str, end: QueueKey, statuses: Sequence[str]) -> list[dict[str, Any]]:
        """The SKU's rows of `statuses` but those of its pending range (`lock_skus`' `behind`): the waiting ones
        after `end` in queue order (the queue-order index, migration 0027, from the range's end on), and the others
        (allocated: folded ones of the range among them, as they are)."""
        assert self.conn is not None
        priority, ordered_at, last_id = end
        postgres = self.is_postgres
        by_id = self._text_key("id")
        last = ':last_id::text COLLATE "C"' if postgres else ":last_id"
        others = [s for s in statuses if s not in WAITING]
        found: list[dict[str, Any]] = []
        if others:
            listed = ", ".join(f"'{m.BackorderStatus(s).value}'" for s in others)  # the domain's own names
            sql, values = _named(f'SELECT * FROM "backorders" WHERE "sku" = :sku AND "status" IN ({listed})',
                                 {"sku": sku}, postgres=postgres)
            found.extend(await self.conn.execute_query_dict(sql, values))
        if any(s in WAITING for s in statuses):
            sql, values = _named(
                f'SELECT * FROM "backorders" WHERE "sku" = :sku AND {_WAITING_ROWS} AND ("priority_override" < '
                ':priority OR ("priority_override" = :priority AND ("ordered_at" > :ordered_at OR '
                f'("ordered_at" = :ordered_at AND {by_id} > {last}))))',
                {"sku": sku, "priority": priority, "ordered_at": ordered_at, "last_id": last_id}, postgres=postgres)
            found.extend(row for row in await self.conn.execute_query_dict(sql, values) if row["status"] in statuses)
        return found

    async def summarised_inventories(self, skus: Sequence[str], at_least: int = 0) -> dict[str, m.SkuInventory]:
        """The aggregates of those of `skus` with at least `at_least` backorders waiting, their queues not loaded
        (`queue` empty, `ahead` counting it), in the same few statements as `load_inventories` (and one that
        counts, so a 1,000-line purchase order of short queues costs one statement more, not six); for a slice of
        a queue (`load_slice`; their `stored_steps`). Not kept: `inventory` still loads a SKU whole."""
        found: dict[str, m.SkuInventory] = {}
        for start in range(0, len(skus), 500):
            chunk = [sku for sku in dict.fromkeys(skus[start:start + 500]) if sku not in self._inventories]
            if at_least > 0 and chunk:
                chunk = list(await t.Product.filter(sku__in=chunk, waiting_count__gte=at_least)
                             .values_list("sku", flat=True))
            await self._load_inventories(chunk, whole_queue=False)
            for sku in chunk:
                inventory = self._inventories.pop(sku, None)
                count, units = self._queue_counts.get(sku, (None, None))
                if inventory is not None and count is not None and units is not None:
                    inventory.ahead = m.QueueAhead(count, units)
                    found[sku] = inventory
        return found

    async def load_slice(self, inventory: m.SkuInventory, ranges: Sequence[tuple[int, int | None]]) -> dict[str, int]:
        """Load into `inventory.queue` the waiting backorders whose cumulative demand falls in one of `ranges`
        ((after, up_to], up_to None: no end), and every waiting one with a "cancel if not by" date; returns each
        one's cumulative demand. `inventory.ahead` then counts the rest of the waiting queue. Index ranges, one
        statement: the SKU's demand index (`demand_to`, counted from `inventory.stored_origin`), which its stored
        projection vouches for, and its dated ones."""
        assert self.conn is not None
        await self._fold_before_rows(inventory.sku)
        return await self._slice(inventory, ranges)

    async def _slice(self, inventory: m.SkuInventory, ranges: Sequence[tuple[int, int | None]]) -> dict[str, int]:
        """`load_slice` without folding first: the waiting rows counted from `inventory.stored_origin` on (a range
        of this transaction's receipt still pending in its rows lies before it, `rest_by_slice`, and is left out,
        the dated ones of it too)."""
        assert self.conn is not None
        origin = inventory.stored_origin
        assert origin is not None, "a slice is read by the demand index its stored projection vouches for"
        params: list[Any] = []

        def mark(value: Any) -> str:
            params.append(value)
            return self._mark(len(params))

        def waiting() -> str:
            if self.is_postgres:  # its statuses kept below: named here, they let PostgreSQL take the queue-order index
                # (its predicate) and filter the SKU's whole queue by the range, when the statistics take the SKU for
                # one row (a launch product's): 10k rows read per range of 10 (`test_statement_work`)
                return f'SELECT * FROM "backorders" WHERE "sku" = {mark(inventory.sku)}'
            return f'SELECT * FROM "backorders" WHERE "sku" = {mark(inventory.sku)} AND "status" IN ' \
                   f'({mark(WAITING[0])}, {mark(WAITING[1])})'
        # the dated ones by their partial index (migration 0022), whatever their status, kept below if waiting: with
        # the status in the statement PostgreSQL took the queue-order index and filtered the whole queue
        parts = [f'SELECT * FROM "backorders" WHERE "sku" = {mark(inventory.sku)} AND "cancel_if_not_by" IS NOT NULL']
        for after, up_to in ranges:
            within = f'{waiting()} AND "demand_to" > {mark(origin + after)}'
            parts.append(within if up_to is None else f'{within} AND "demand_to" <= {mark(origin + up_to)}')
        found = await self.conn.execute_query_dict(" UNION ALL ".join(parts), params)
        # a dated one within a range comes twice; one before the origin is a pending range's (`rest_by_slice`)
        rows = list({row["id"]: row for row in found if row["status"] in WAITING
                     and (row["demand_to"] is None or row["demand_to"] > origin)}.values())
        demand: dict[str, int] = {}
        units = 0
        for raw in rows:
            assert raw["demand_to"] is not None, f"{inventory.sku}: a waiting backorder outside the demand index"
            demand[raw["id"]] = raw["demand_to"] - origin
            row = mapping.backorder_row(raw)
            self._loaded[row["id"]] = tuple(row[k] for k in _CHANGING)
            backorder = self._shown(mapping.backorder(row, []))
            inventory.queue[backorder.id] = backorder
            units += backorder.waiting_quantity
        # a "cancel if not by" date is a day where its customer is: their zones, as `_load_inventories` reads them
        dated = [b for b in inventory.queue.values() if b.cancel_if_not_by is not None]
        zones = await self._timezones({b.customer_email for b in dated}) if dated else {}
        for b in dated:
            b.customer_timezone = zones.get(b.customer_email, "UTC")
        whole = inventory.ahead or m.QueueAhead(0, 0)
        inventory.ahead = m.QueueAhead(whole.waiting_count - len(rows), whole.waiting_units - units)
        return demand

    def _mark(self, n: int) -> str:
        return f"${n}" if self.is_postgres else "?"

    # -- the head of a long first-come-first-served queue, served from its rows (domain.model.head) ---------
    async def _fold_before_rows(self, sku: str) -> None:
        """Before the SKU's rows are read other than by `_load_inventories` (the head of its queue, a slice by
        demand): any range of its still pending in this transaction (deferred by `lock_skus`, or recorded by a
        receipt of this transaction) folded whole first, so that no read takes the range's rows for waiting ones
        (a second receipt would serve them again)."""
        if sku in self._deferred or sku in self._recorded:
            await self.fold_serves(sku, None, locked=True)
            self._deferred.pop(sku, None)
            self._behind.pop(sku, None)
            self._recorded.pop(sku, None)

    async def queue_head(self, sku: str, at_least: int) -> m.SkuInventory | None:
        await self._fold_before_rows(sku)
        rows = await t.Product.filter(sku=sku).values_list("waiting_count", flat=True)
        if not rows or rows[0] is None or rows[0] < at_least:
            return None
        self._inventories.pop(sku, None)
        await self._load_inventories([sku], whole_queue=False)
        inventory = self._inventories.pop(sku, None)  # not kept: `inventory(sku)` would hand out a queue without rows
        if inventory is not None:
            count, units = self._queue_counts.get(sku, (None, None))
            inventory.ahead = m.QueueAhead(count or 0, units or 0)
        return inventory

    async def waiting_head(self, sku: str, units: int, limit: int | None = None,
                           origin: int | None = None) -> tuple[list[m.Waiting], int]:
        """One statement: a running sum of what each waits for, in queue order (agent priority, order time, id),
        and only the rows it has not passed `units` before; beside them how many wait in all. With `limit`, the first
        `limit` of those rows, read by index (`_next_in_line`) instead. With `origin` (the SKU's projection kept),
        the same rows as an index range of the demand index (`_reached_by_demand`): no sum over the queue."""
        assert self.conn is not None
        await self._fold_before_rows(sku)
        if limit is not None:
            return await self._next_in_line(sku, units, limit)
        self._hold_collector(min(units, self._queue_counts.get(sku, (None, None))[0] or 0))
        if origin is not None:
            return await self._reached_by_demand(sku, units, origin)
        marks = ["$1", "$2", "$3", "$4"] if self.is_postgres else ["?"] * 4
        order = self._queue_order()
        raw = await self._fetch(
            f'SELECT * FROM (SELECT {_WAITING_COLUMNS}, '
            f'SUM("quantity" - "allocated_quantity") OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING) AS "upto", '
            'COUNT(*) OVER () AS "waiting_count" '
            f'FROM "backorders" WHERE "sku" = {marks[0]} AND "status" IN ({marks[1]}, {marks[2]}) AND {_WAITING_ROWS} '
            'AND "quantity" > "allocated_quantity") AS q '
            f'WHERE "upto" - ("quantity" - "allocated_quantity") < {marks[3]} '
            f'ORDER BY {order}', [sku, *WAITING, units])
        head = await self._waiting_rows(raw, self._origins.get(sku, 0))
        count = int(raw[0]["waiting_count"]) if raw else 0
        return head, count

    async def _reached_by_demand(self, sku: str, units: int, origin: int) -> tuple[list[m.Waiting], int]:
        """`waiting_head`'s rows by the demand index (`(sku, demand_to)`, migration 0021), exact while the SKU's
        projection is kept: each waiting backorder's `demand_to` is then `origin` plus the units waiting up to and
        including it in queue order, so queue order is `demand_to` order and the units reach exactly those whose
        demand starts below `origin + units`. The end is one probe: the first waiting backorder past
        `origin + units` (the one served in part, or the first not reached); the rows are the index range from
        `origin` up to it. How many wait in all is the product's count (`products.waiting_count`, loaded by
        `queue_head`), as `_next_in_line` takes it. The running sum over the queue cost 0.46 s at 100k on
        PostgreSQL and 1.0 s on SQLite (bench/README.md, "The receipt whose event is the range it served")."""
        reach = origin + units
        waiting = '"sku" = :sku AND "status" IN (:waiting, :partly)'
        sql, values = _named(
            f'SELECT {_WAITING_COLUMNS} FROM "backorders" WHERE {waiting} AND "demand_to" > :origin '
            f'AND "demand_to" <= COALESCE((SELECT "demand_to" FROM "backorders" WHERE {waiting} '
            f'AND "demand_to" > :reach ORDER BY "demand_to" LIMIT 1), :reach) '
            'AND "demand_to" - ("quantity" - "allocated_quantity") < :reach ORDER BY "demand_to"',
            {"sku": sku, "waiting": WAITING[0], "partly": WAITING[1], "origin": origin, "reach": reach},
            postgres=self.is_postgres)
        raw = await self._fetch(sql, values)
        count = self._queue_counts.get(sku, (None, None))[0]
        return await self._waiting_rows(raw, self._origins.get(sku, 0)), count or 0

    async def head_range(self, sku: str, units: int, origin: int | None = None) -> m.HeadRange:
        """`waiting_head`'s rows as a range (`head.HeadRange`), the covered ones never read into Python: with
        `origin` (the SKU's projection kept) by the demand index (`_range_by_demand`), else by the running sum
        over the queue (`_range_by_sum`), the same rows either way as `waiting_head` reads."""
        assert self.conn is not None
        await self._fold_before_rows(sku)
        if origin is not None:
            return await self._range_by_demand(sku, units, origin)
        return await self._range_by_sum(sku, units)

    async def _range_by_demand(self, sku: str, units: int, origin: int) -> m.HeadRange:
        """`head_range` by the demand index, exact while the SKU's projection is kept (`_reached_by_demand`): the
        backorders `units` serve whole are those whose demand ends within `origin + units`, an index range, and
        nothing of it is scanned (issue 15: on SQLite, whose one connection every writer waits for, the aggregate
        over 100k index entries and the filter for those with units were 0.11 s of a 0.2 s receipt). Its ends are
        two probes, and from them: what they wait for, the last's demand less the origin (the index's cumulative
        value); how many, the places the ends show (the head's is the first place, the SKU's queue places are
        consecutive in queue order); each waits for at least one unit (a waiting status says so,
        `Backorder._derive_status`). Those with units already are the partly allocated ones of the SKU within
        the range, by the queue-order index's status (`_partly_within`); the one reached in part the first past
        the range whose demand starts below the reach. How many wait in all is the product's count, as
        `_reached_by_demand` takes it. Ends whose places do not say so (a queue without places) are counted by the
        aggregate over the range, as before."""
        reach = origin + units
        waiting = '"sku" = :sku AND "status" IN (:waiting, :partly)'
        covered = f'{waiting} AND "demand_to" > :origin AND "demand_to" <= :reach'
        params = {"sku": sku, "waiting": WAITING[0], "partly": WAITING[1], "origin": origin, "reach": reach}

        async def fetch(sql: str) -> Any:
            return await self._fetch(*_named(sql, params, postgres=self.is_postgres))
        ends: list[Any] = []
        for direction in ("", " DESC"):
            ends.extend(await fetch(f'SELECT "priority_override", "ordered_at", "id", "demand_to", "queue_position" '
                                    f'FROM "backorders" WHERE {covered} ORDER BY "demand_to"{direction} LIMIT 1'))
        count, covered_units, least = await self._range_totals(sku, ends, origin)
        if count is None:
            totals = (await fetch(
                'SELECT COUNT(*) AS "count", COALESCE(SUM("quantity" - "allocated_quantity"), 0) AS "units", '
                f'MIN("quantity" - "allocated_quantity") AS "least" FROM "backorders" WHERE {covered}'))[0]
            count, covered_units, least = int(totals["count"]), int(totals["units"]), int(totals["least"] or 0)
        partly = await self._partly_within(sku, origin, reach) if ends else []
        after = await fetch(f'SELECT {_WAITING_COLUMNS}, "demand_to" FROM "backorders" WHERE {waiting} '
                            'AND "demand_to" > :reach ORDER BY "demand_to" LIMIT 1')
        in_part = [r for r in after if r["demand_to"] - (r["quantity"] - r["allocated_quantity"]) < reach]
        waiting_count = self._queue_counts.get(sku, (None, None))[0]
        return m.HeadRange(
            waiting_count=waiting_count or 0, count=count, units=covered_units, least=least,
            first=_queue_key(ends[0]) if ends else None, last=_queue_key(ends[-1]) if ends else None,
            partly=tuple((r["id"], int(r["allocated_quantity"])) for r in partly),
            reached_in_part=_waiting(in_part, self._origins.get(sku, 0))[0] if in_part else None)

    async def _range_totals(self, sku: str, ends: list[Any], origin: int) -> tuple[int | None, int, int]:
        """How many the demand range from its first to its last (`ends`, as `_range_by_demand` probes them) covers,
        what they wait for and the least one waits for, from the ends alone; (None, 0, 0) when their places cannot
        say how many (a place missing, or the first not at the head of the queue)."""
        if not ends:
            return 0, 0, 0
        first, last = ends[0], ends[-1]
        place = await self._origin(sku)
        if first["queue_position"] is None or last["queue_position"] is None or first["queue_position"] != place + 1:
            return None, 0, 0
        count = int(last["queue_position"]) - int(first["queue_position"]) + 1
        covered_units = int(last["demand_to"]) - origin
        if not 0 < count <= covered_units:
            return None, 0, 0
        return count, covered_units, 1

    async def _partly_within(self, sku: str, origin: int, reach: int) -> list[Any]:
        """The partly allocated backorders of `sku` whose demand ends in (`origin`, `reach`], in queue order: by the
        queue-order index's status (its partial predicate named word for word, as SQLite needs; on SQLite the
        index named: by cost it took the demand index and filtered the range, 46 ms at 100k), so what is read is
        the SKU's partly allocated ones, a few, not the range."""
        indexed = "" if self.is_postgres else ' INDEXED BY "backorders_waiting_queue"'
        sql, values = _named(
            f'SELECT "id", "allocated_quantity", "demand_to" FROM "backorders"{indexed} WHERE "sku" = :sku AND '
            f'"status" = :partly AND {_WAITING_ROWS} AND "demand_to" > :origin AND "demand_to" <= :reach',
            {"sku": sku, "partly": WAITING[1], "origin": origin, "reach": reach}, postgres=self.is_postgres)
        return sorted(await self._fetch(sql, values), key=lambda row: int(row["demand_to"]))

    async def _range_by_sum(self, sku: str, units: int) -> m.HeadRange:
        """`head_range` by the running sum `waiting_head` takes over the queue, in one statement: of the rows it
        numbers in queue order, only the range's first and last, those of it with units already and the one
        reached in part come back, with the range's totals beside them."""
        order = self._queue_order()
        sql, values = _named(
            f'WITH q AS (SELECT {_WAITING_COLUMNS}, "quantity" - "allocated_quantity" AS "wants", '
            f'SUM("quantity" - "allocated_quantity") OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING) AS "upto", '
            f'ROW_NUMBER() OVER (ORDER BY {order}) AS "place", COUNT(*) OVER () AS "waiting_count" '
            f'FROM "backorders" WHERE "sku" = :sku AND "status" IN (:waiting, :partly) AND {_WAITING_ROWS} '
            'AND "quantity" > "allocated_quantity"), '
            # the totals MATERIALIZED: inlined, the join re-ran their aggregate over the whole queue for each row
            # when PostgreSQL's statistics took the queue for one row (a 100k queue bulk-loaded, not yet analysed:
            # minutes; tests/integration/test_statement_work.py)
            't AS MATERIALIZED (SELECT COUNT(*) AS "count", COALESCE(SUM("wants"), 0) AS "covered_units", '
            'MIN("wants") AS "least" FROM q WHERE "upto" <= :units) '
            'SELECT q.*, t."count", t."covered_units", t."least" FROM q, t '
            'WHERE q."place" = 1 OR q."place" = t."count" OR (q."upto" <= :units AND q."allocated_quantity" > 0) '
            'OR (q."upto" > :units AND q."upto" - q."wants" < :units) ORDER BY q."place"',
            {"sku": sku, "waiting": WAITING[0], "partly": WAITING[1], "units": units}, postgres=self.is_postgres)
        raw = await self._fetch(sql, values)
        count = int(raw[0]["count"]) if raw else 0
        covered = [r for r in raw if r["place"] <= count]
        in_part = [r for r in raw if r["upto"] > units and r["upto"] - r["wants"] < units]
        return m.HeadRange(
            waiting_count=int(raw[0]["waiting_count"]) if raw else 0, count=count,
            units=int(raw[0]["covered_units"]) if raw else 0, least=int(raw[0]["least"] or 0) if raw else 0,
            first=_queue_key(covered[0]) if covered else None, last=_queue_key(covered[-1]) if covered else None,
            partly=tuple((r["id"], int(r["allocated_quantity"])) for r in covered if r["allocated_quantity"] > 0),
            reached_in_part=_waiting(in_part, self._origins.get(sku, 0))[0] if in_part else None)

    async def _next_in_line(self, sku: str, units: int, limit: int) -> tuple[list[m.Waiting], int]:
        """The first `limit` backorders waiting for `sku` in queue order (agent priority, order time, id) that `units`
        reach, read by index probes on (sku, status, priority_override, ordered_at, id), not a window over the
        queue (the running sum over a 100k queue cost each chunk of a staged receipt most of a second on SQLite):
        for each waiting status, its agent priorities highest first (a probe each), the rows of each by order time
        and id, until `limit` are found; merged in queue order. How many wait in all is the product's count
        (`products.waiting_count`, as loaded by `queue_head`; every save of the queue keeps it)."""
        assert self.conn is not None
        mark = self._mark
        rows: list[m.Waiting] = []
        for status in WAITING:
            found, below = 0, None
            while found < limit:
                lower = f' AND "priority_override" < {mark(3)}' if below is not None else ''
                top = await self.conn.execute_query_dict(
                    f'SELECT "priority_override" FROM "backorders" WHERE "sku" = {mark(1)} AND "status" = {mark(2)}'
                    f' AND {_WAITING_ROWS}{lower} ORDER BY "priority_override" DESC LIMIT 1',
                    [sku, status] if below is None else [sku, status, below])
                if not top:
                    break
                below = top[0]["priority_override"]
                raw = await self._fetch(
                    f'SELECT {_WAITING_COLUMNS} FROM "backorders" WHERE "sku" = {mark(1)} AND "status" = {mark(2)} '
                    f'AND {_WAITING_ROWS} AND "priority_override" = {mark(3)} AND "quantity" > "allocated_quantity" '
                    f'ORDER BY "ordered_at", {self._text_key("id")} LIMIT {int(limit - found)}', [sku, status, below])
                rows.extend(await self._waiting_rows(raw, self._origins.get(sku, 0)))
                found += len(raw)
        rows.sort(key=queue_key)
        reached: list[m.Waiting] = []
        upto = 0
        for row in rows[:limit]:
            if upto >= units:
                break
            reached.append(row)
            upto += row.quantity - row.allocated_quantity
        count = self._queue_counts.get(sku, (None, None))[0]
        return reached, count or 0

    def _text_key(self, column: str) -> str:
        """A text column as an ORDER BY term in code point order (domain.store.ordering)."""
        return by_code_point(f'"{column}"', "postgres" if self.is_postgres else "sqlite")

    def _queue_order(self) -> str:
        return f'"priority_override" DESC, "ordered_at", {self._text_key("id")}'

    async def _fetch(self, sql: str, values: list[Any]) -> Any:
        assert self.conn is not None
        if not self.is_postgres:
            return await self.conn.execute_query_dict(sql, values)
        # asyncpg's records as they are: 100k made into dicts held the event loop for seconds
        async with self.conn.acquire_connection() as connection:
            return await connection.fetch(sql, *values)

    @staticmethod
    async def _waiting_rows(raw: Sequence[Any], origin: int) -> list[m.Waiting]:
        if len(raw) < YIELD_EVERY:
            return _waiting(raw, origin)
        # 100k rows made into objects: in a worker thread (2,000 at a time on the event loop still held it 80 ms)
        return await asyncio.to_thread(_waiting, raw, origin)

    def _shown(self, backorder: m.Backorder) -> m.Backorder:
        """A backorder read from its row, its place as shown: the stored one less its SKU's origin (loaded first)."""
        if backorder.queue_position is not None:  # KeyError: the origin was not loaded (`_origin`) first
            backorder.queue_position -= self._origins[backorder.sku]
        return backorder

    async def save_served(self, inventory: m.SkuInventory, served: m.ServedWhole,
                          record: m.ServeRecord | None = None) -> m.SkuInventory:
        self._require_lock(inventory.sku)
        await self._save_stock(inventory)
        sku = inventory.sku
        assert served.sku == sku
        self._inventories.pop(sku, None)
        if record is None:
            # the projection as `queue_head` read it under the SKU's lock, before the served rows were written (which
            # makes the database forget it): kept then, every active row followed it, the allocated ones too (no
            # place, an ETA from units set aside), and the rows written here are so too (`ServedWhole`); so once the
            # domain has settled and checked what still waits, the whole active queue is known to follow its steps
            followed = mapping.stored_projection(self._projections.get(sku))
            await self._write_served(served)
            await self._load_inventories([sku], statuses=WAITING)  # what still waits: settled by the domain
            if followed is not None:
                self._rest_follows[sku] = followed[0].allocated
        else:  # the range served whole, recorded (`record_serve`); its rows are folded in afterwards (`fold_serves`)
            assert record.sku == sku and record.folded == 0
            # as `queue_head` read it, as above (`rest_by_slice`, which gave up on a slice, read the table since)
            followed = mapping.stored_projection(self._found_projections.pop(sku, self._projections.get(sku)))
            if self._recorded.get(sku) != record:  # recorded by the use case already (for its event's id), or now
                await self.record_serve(record)
            # the projection the receipt found names the range's rows waiting; what the SKU keeps while the range is
            # pending is the projection of the queue as the fold leaves it (`_range_ready`), or none: the fold keeps
            # whatever is kept then, so the one found must not outlive the receipt even when no row is written
            await t.Product.filter(sku=sku, eta_projection__isnull=False).using_db(self.conn).update(
                eta_projection=None)
            await self._load_behind(sku, record.last)
            if followed is not None:  # the allocated rows not in memory followed it; the range's follow `ready`
                self._rest_follows[sku] = followed[0].allocated
                self._range_ready[sku] = _range_ready(record)
        rest = self._inventories.get(sku)
        assert rest is not None
        return rest

    async def rest_by_slice(self, inventory: m.SkuInventory, record: m.ServeRecord, served_units: int,
                            ranges: Sequence[tuple[int, int | None]]) -> tuple[m.SkuInventory, dict[str, int]] | None:
        sku = inventory.sku
        self._require_lock(sku)
        assert record.sku == sku and record.folded == 0 and inventory.ahead is not None
        found = self._projections.get(sku)  # as `queue_head` read it under the SKU's lock
        kept = mapping.stored_projection(found)
        origin = await self._origin(sku)
        behind = inventory.ahead.waiting_count - record.count  # the one reached in part among them
        # the places behind the range move with the origin only when a save of the whole rest would move it
        # (`_moved_origin`): else that save rewrites their places, which a slice cannot
        if kept is None or inventory.stored_origin is None or behind <= 0 or behind < max(ORIGIN_FROM, 1):
            return None
        await self._save_stock(inventory)
        self._inventories.pop(sku, None)
        if self._recorded.get(sku) != record:
            await self.record_serve(record)
        # as `save_served`: the projection found names the range's rows waiting, so it must not outlive the receipt;
        # the one the rest leaves is written by its save (`_kept_projection`)
        await t.Product.filter(sku=sku, eta_projection__isnull=False).using_db(self.conn).update(eta_projection=None)
        # every waiting row's stored place was its place in queue order counted from the origin (the projection was
        # kept): those behind the range are `record.count` nearer the head, so the origin moves that far, none written
        await t.Product.filter(sku=sku).using_db(self.conn).update(place_origin=origin + record.count)
        await self._load_inventories([sku], whole_queue=False)
        self._found_projections[sku] = found  # for `save_served`, should the caller need the whole rest after all
        rest = self._inventories[sku]
        count, units = self._queue_counts.get(sku, (None, None))
        assert count == inventory.ahead.waiting_count and units == inventory.ahead.waiting_units, "the SKU is locked"
        # what waits behind the range as the rows say (`_slice` takes those it loads off; the one reached in part
        # waits for less once the caller adopts what serving decided for it)
        rest.ahead = m.QueueAhead(behind, inventory.ahead.waiting_units - record.units)
        rest.stored_origin = inventory.stored_origin + served_units  # the demand served is gone from the index too
        demand = await self._slice(rest, ranges)
        self._sliced[sku] = kept[0].allocated
        self._range_ready[sku] = _range_ready(record)
        return rest, demand

    async def record_serve(self, record: m.ServeRecord) -> int:
        self._require_lock(record.sku)
        assert record.folded == 0
        if record.sku in self._recorded:
            # two ranges of one SKU pending at once: the second would begin where the first does (its rows still
            # waiting), serving them twice. `queue_head` folds the first before a second receipt reads the head
            raise Conflict(f"{record.sku}: a receipt's range is still pending in this transaction; fold it first",
                           code=ErrorCode.CONFLICT)
        priority, ordered_at, last_id = record.last
        row = await t.QueueServe.create(
            sku=record.sku, location=record.location, served_at=record.served_at, cause=record.cause.kind.value,
            cause_data=_json(record.cause.to_dict()), waiting_count=record.waiting_count,
            served_count=record.count, served_units=record.units, last_priority=priority,
            last_ordered_at=ordered_at, last_id=last_id, folded_count=0,
            first_priority=record.first[0] if record.first else None,
            first_ordered_at=record.first[1] if record.first else None,
            first_id=record.first[2] if record.first else None,
            partly=_json([list(p) for p in record.partly]), told=False, place_origin=await self._origin(record.sku),
            using_db=self.conn)
        self._recorded[record.sku] = record
        return int(row.id)

    async def _pending_ready(self, sku: str) -> Eta:
        """The ETA the rows of the SKU's pending range get once folded (the latest's, if several: each is
        "allocated", all alike to `EtaSteps.keeps_allocated_alike`)."""
        rows = await t.QueueServe.filter(sku=sku, folded_count__lt=F("served_count")).using_db(self.conn).values()
        return _range_ready(_serve_record(max(rows, key=lambda row: int(row["id"]))))

    async def _origin(self, sku: str) -> int:
        if sku not in self._origins:
            rows = await t.Product.filter(sku=sku).using_db(self.conn).values_list("place_origin", flat=True)
            self._origins[sku] = rows[0] if rows else 0
        return self._origins[sku]

    async def _load_behind(self, sku: str, after: QueueKey) -> None:
        """The SKU's aggregate with the backorders waiting after `after` in queue order (the last of the range a
        recorded receipt served whole, whose backorders still wait in their rows until folded; nothing waits in front
        of the range): the whole waiting queue as the receipt leaves it, so its places may move the origin
        (`_moved_origin`) as a receipt that wrote the rows does. Found from the queue-order index past the range's
        end, not by numbering the whole queue to skip the range (0.52 s of a 100k receipt on SQLite, nothing
        behind)."""
        assert self.conn is not None
        await self._load_inventories([sku], whole_queue=False)
        self._places_whole.add(sku)
        inventory = self._inventories[sku]
        priority, ordered_at, last_id = after
        postgres = self.is_postgres
        by_id = self._text_key("id")
        last = ':last_id::text COLLATE "C"' if postgres else ":last_id"
        if postgres:
            behind = f'SELECT * FROM "backorders" WHERE "sku" = :sku AND {_WAITING_ROWS} AND ("priority_override" < ' \
                     ':priority OR ("priority_override" = :priority AND ("ordered_at" > :ordered_at OR ' \
                     f'("ordered_at" = :ordered_at AND {by_id} > {last}))))'
        else:
            # SQLite bounds an index range by no OR: the keyset as three index ranges (the rest of the same order
            # time, of the same priority, the priorities below), each of the queue-order index's, as `_first_after`
            # probes it. As one OR it read every entry of the range in front too (48 ms of a 100k receipt)
            waiting = f'SELECT * FROM "backorders" WHERE "sku" = :sku AND {_WAITING_ROWS} AND '
            behind = f'SELECT * FROM ({waiting}"priority_override" = :priority AND "ordered_at" = :ordered_at AND ' \
                     f'"id" > :last_id UNION ALL {waiting}"priority_override" = :priority AND "ordered_at" > ' \
                     f':ordered_at UNION ALL {waiting}"priority_override" < :priority)'
        sql, values = _named(f'{behind} ORDER BY {self._queue_order()}',
                             {"sku": sku, "priority": priority, "ordered_at": ordered_at, "last_id": last_id},
                             postgres=postgres)
        rows = await self.conn.execute_query_dict(sql, values)
        for raw in rows:
            row = mapping.backorder_row(raw)
            self._loaded[row["id"]] = tuple(row[k] for k in _CHANGING)
            backorder = self._shown(mapping.backorder(row, []))
            inventory.queue[backorder.id] = backorder
        dated = [b for b in inventory.queue.values() if b.cancel_if_not_by is not None]
        zones = await self._timezones({b.customer_email for b in dated}) if dated else {}
        for b in dated:
            b.customer_timezone = zones.get(b.customer_email, "UTC")

    async def skus_with_pending_serves(self) -> list[str]:
        return sorted(set(await t.QueueServe.filter(folded_count__lt=F("served_count")).using_db(self.conn)
                          .values_list("sku", flat=True)))

    def _fans_out(self) -> list[FanOut]:
        return [hook for hook in self._before_commit if isinstance(hook, FanOut)]

    async def untold_serves(self) -> list[int]:
        """The receipts recorded as ranges and not yet told, oldest first (their `queue_serves` ids); none for a unit
        of work without the hooks that tell them (`FanOut`): what it cannot tell it must not claim."""
        assert self.conn is not None
        if not self._fans_out():
            return []
        untold = t.QueueServe.filter(told=False).order_by("id").using_db(self.conn)
        return [int(i) for i in await untold.limit(UNTOLD_PAGE).values_list("id", flat=True)]

    async def untold_served(self, record_id: int) -> QueueServed | None:
        """The receipt recorded as the range `record_id`, if not yet told and this unit of work has the hooks that tell
        it (`FanOut`: the outbox's customer parts and digests, the webhook deliveries): its event, to read its
        covered backorders back (`served_by_customer`) and tell them a slice at a time (`tell_served`). None when it is
        told already or there is no hook to tell it with (then it is left untold: marking it told would tell nobody).
        A range recorded without its first key was written by a process from before migration 0028, whose receipt
        told it in its own transaction: marked told here, not told again."""
        assert self.conn is not None
        if not self._fans_out():
            return None
        row = await t.QueueServe.filter(id=record_id, told=False).using_db(self.conn).values()
        if not row:
            return None
        record = _serve_record(row[0])
        if record.first is None:
            log.warning("receipt range %s of %s was recorded by a process without the fan-out, which told it itself:"
                        " marked told", record_id, record.sku)
            await t.QueueServe.filter(id=record_id).using_db(self.conn).update(told=True)
            return None
        return recorded_event(record, int(record_id))

    async def served_by_customer(self, served: QueueServed) -> AsyncGenerator[list[Covered], None]:
        """The backorders `served` covers in customer order, a piece at a time (`served_ranges.covered_by_customer`),
        outside any transaction on a connection of the read's own (`aside_connection`), held until the last piece
        is read or the iteration is closed."""
        from domain.store.served_ranges import covered_by_customer  # it reads this module's SQL

        if self.conn is not None:
            raise RuntimeError("a range is read back for its fan-out outside the unit of work's transaction")
        async with aside_connection() as conn, aclosing(covered_by_customer(served, conn)) as pieces:
            async for piece in pieces:
                yield piece

    async def tell_served(self, served: QueueServed, covered: CustomerSlices, most: int) -> bool | None:
        """Tell the next slice of the range `served` (read back as `covered`): the customers after the last one told
        (`told_through`), whole, up to `most` backorders, handed to each hook that fans ranges out on this
        transaction, and `told_through` moved past them in it (the range marked told with its last slice): a failure
        or a crash leaves those and the rest untold, whole, for the next round, which skips the customers told.
        Returns whether the range is told now; None when it was told already or is being told by another fan-out.
        Two fan-outs never tell one slice: the row is claimed per slice (PostgreSQL: an advisory lock per row, taken
        or skipped, then the row read again; SQLite: its single writer). Not a row lock: the fold writes the same row
        (`folded_count`) under the SKU's lock, and the SKU's writers, which fold first, would wait for the slice. The
        fold may run meanwhile: `covered` reads the same either side of it."""
        assert self.conn is not None
        fan_outs = self._fans_out()
        if not fan_outs:
            return None
        record_id = served.record_id
        if self.is_postgres:
            [got] = await self.conn.execute_query_dict(
                "SELECT pg_try_advisory_xact_lock($1, $2) AS got", [TELL_LOCK, int(record_id) % 2**31])
            if not got["got"]:
                return None  # another fan-out is telling it
        # read again once claimed: one that told a slice (or all) and committed since is seen now
        row = await t.QueueServe.filter(id=record_id, told=False).using_db(self.conn).values_list(
            "told_through", flat=True)
        if not row:
            return None
        part, last = covered.slice_after(row[0], most)
        if part:
            for hook in fan_outs:
                await hook.fan_out(self.conn, served, part)
        done = covered.is_last(last)
        await t.QueueServe.filter(id=record_id).using_db(self.conn).update(
            told=done, told_through=last if last is not None else row[0])
        return done

    async def fold_serves(self, sku: str, limit: int | None, *, locked: bool = False) -> int:
        """Fold the SKU's pending receipts (`queue_serves`, oldest first) into the rows they served: up to `limit`
        backorders (None: all), FOLD_SLICE a statement, set-based (`_fold_slice`): the database takes the next
        backorders of the range from the queue-order index and writes each row and its history at the receipt's
        time by the rules `head.fold` follows (the same SQL as a receipt's rows served whole, `_write_served`), no
        row read into Python. Returns how many are left to fold."""
        assert self.conn is not None
        if not locked:
            await self._lock([sku])
        records = await t.QueueServe.filter(sku=sku, folded_count__lt=F("served_count")).order_by("id").using_db(
            self.conn).values()
        if not records:
            return 0
        projection = await t.Product.filter(sku=sku).using_db(self.conn).values_list("eta_projection", flat=True)
        budget, readies, left = limit, [], 0
        for row in records:
            record = _serve_record(row)
            if budget is None or budget > 0:
                readies.append(_range_ready(record))
            while record.pending and (budget is None or budget > 0):
                take = min(record.pending, FOLD_SLICE, budget if budget is not None else FOLD_SLICE)
                folded = await self._fold_slice(record, int(row["id"]), take)
                record = replace(record, folded=record.folded + folded)
                await t.QueueServe.filter(id=row["id"]).using_db(self.conn).update(folded_count=record.folded)
                if budget is not None:
                    budget -= folded
            left += record.pending  # the SKU's records are read under its lock: nobody else folds them meanwhile
        await self._keep_folded_projection(sku, projection[0] if projection else None, readies)
        return left

    async def _keep_folded_projection(self, sku: str, projection: str | None, readies: Sequence[Eta]) -> None:
        """The SKU's projection as it was before a fold wrote the range's rows (which made the database forget it),
        written back: while a range is pending the projection kept is the one of the queue as its fold leaves it
        (`save_served` and `_kept_projection`, `_range_ready`), and the folded rows follow it (allocated, no place,
        `readies`' ETAs: what `_fold_slice` writes) when it keeps those ETAs alike."""
        stored = mapping.stored_projection(projection)
        if projection is None or stored is None or not all(stored[0].keeps_allocated_alike(r) for r in readies):
            projection = None
        else:
            await t.Product.filter(sku=sku).using_db(self.conn).update(eta_projection=projection)
        if sku in self._projections:
            self._projections[sku] = projection

    async def _fold_slice(self, record: m.ServeRecord, record_id: int, take: int) -> int:
        """The next `take` backorders (or fewer: those of one agent priority) of the range `record` (`queue_serves`
        row `record_id`) left pending, folded into their rows and history set-based; returns how many. The history
        names the range in its cause data (`mapping.folded_cause_data`): a range is read back by it, since two
        ranges of a SKU can share their time and cause. They are the first waiting in queue order
        (the range is the head of the queue, and no writer moves it while it is pending), so they are read from
        the queue-order index (migration 0027) one agent priority at a time, the highest waiting first: an index
        range each status, in order (`_FOLD_IDS`), never the whole queue sorted (a sort of 100k waiting rows cost
        60-90 ms a statement). Raises, and so rolls back, what `head.fold` refuses: a backorder of the range that
        waits for nothing, or fewer backorders than the range has left (the range moved)."""
        assert self.conn is not None
        postgres = self.is_postgres
        sku = record.sku
        last_priority, last_ordered_at, last_id = record.last
        mark = self._mark
        probe = " ".join(
            f'(SELECT "priority_override" FROM "backorders" WHERE "sku" = {mark(1)} AND "status" = \'{status}\' '
            f'AND {_WAITING_ROWS} ORDER BY "priority_override" DESC LIMIT 1) AS "{status.lower()}",'
            for status in WAITING).rstrip(",")
        [tops] = await self.conn.execute_query_dict(f"SELECT {probe}", [sku] if postgres else [sku, sku])
        found = [v for v in tops.values() if v is not None]
        priority = max(found) if found else None
        if priority is None or priority < last_priority:
            raise RuntimeError(f"{sku}: {record.pending} backorders of a receipt to fold, none found")
        ready = m.ServedWhole(sku, record.location, record.served_at, record.cause, record.waiting_count,
                              record.folded + 1, ()).ready
        params = {
            "sku": sku, "priority": priority, "take": take, "last_ordered_at": last_ordered_at, "last_id": last_id,
            "location": record.location, "first": record.folded + 1, "of": record.waiting_count,
            "allocated": m.BackorderStatus.ALLOCATED.value, "today": ready.date, "confidence": ready.confidence.value,
            "source": ready.source.value, "kept": ready.source.value, "at": record.served_at,
            "today_text": ready.date.isoformat(), "cause": record.cause.kind.value,
            "cause_data": _json(mapping.folded_cause_data(record.cause, record_id))}
        # a priority above the range's last: all its waiting backorders are in the range; the last's: up to the last
        statements = _FOLD_PG if postgres else _FOLD_SQLITE
        statements = statements[priority > last_priority]
        if postgres:
            sql, values = _named(statements[0], params, postgres=True)
            [counts] = await self.conn.execute_query_dict(sql, values)
        else:
            sql, values = _named(statements[0], params, postgres=False)
            [counts] = await self.conn.execute_query_dict(sql, values)
            if not counts["idle"]:
                for statement in statements[1:]:
                    sql, values = _named(statement, params, postgres=False)
                    await self.conn.execute_query(sql, values)
        folded, idle = int(counts["n"]), int(counts["idle"] or 0)
        if idle:
            raise RuntimeError(f"{sku}: a backorder the receipt served waits for nothing")
        if not folded or (folded < take and priority == last_priority):
            raise RuntimeError(f"{sku}: {record.pending} backorders of a receipt to fold, {folded} found")
        return folded

    @property
    def single_writer(self) -> bool:
        return not self.is_postgres

    async def after_requests(self) -> None:
        # on either dialect: on SQLite for the one connection, on PostgreSQL for the process's interpreter lock (a
        # background transaction's Python between a request's round trips made each of them wait its turn)
        await turns.after_requests()

    async def write_served(self, served: m.ServedWhole, *, from_head: bool = False) -> None:
        self._require_lock(served.sku)
        await self._write_served(served)
        if not from_head:
            return
        # the head of the waiting queue served whole (a chunk): every row behind it shows a place as many lower, its
        # stored one kept (the origin moves, as after a whole receipt at the head, `_moved_origin`)
        origin = await self._origin(served.sku) + len(served.ids)
        await t.Product.filter(sku=served.sku).using_db(self.conn).update(place_origin=origin)
        self._origins[served.sku] = origin

    # -- receipts put away a chunk at a time (`head.StagedReceipt`, migration 0023) ---------------------------
    async def staged_receipt(self, sku: str) -> m.StagedReceipt | None:
        rows = await t.StagedReceipt.filter(sku=sku).order_by("id").limit(1).using_db(self.conn).values()
        if not rows:
            return None
        row = rows[0]
        return m.StagedReceipt(sku, row["location"], row["units"], mapping.as_datetime(row["received_at"]),
                               mapping.history_cause(row["cause"], row["cause_data"]), row["waiting_count"],
                               row["served_count"], row["id"])

    async def save_staged(self, receipt: m.StagedReceipt) -> m.StagedReceipt:
        if receipt.id is None:
            if not receipt.units:
                return receipt
            row = await t.StagedReceipt.create(
                sku=receipt.sku, location=receipt.location, units=receipt.units, received_at=receipt.received_at,
                cause=receipt.cause.kind.value, cause_data=_json(receipt.cause.to_dict()),
                waiting_count=receipt.waiting_count, served_count=receipt.served, using_db=self.conn)
            return replace(receipt, id=row.id)
        if not receipt.units:
            await t.StagedReceipt.filter(id=receipt.id).using_db(self.conn).delete()
        else:
            await t.StagedReceipt.filter(id=receipt.id).using_db(self.conn).update(
                units=receipt.units, served_count=receipt.served)
        return receipt

    async def skus_with_staged_receipts(self) -> list[str]:
        return sorted(set(await t.StagedReceipt.all().using_db(self.conn).values_list("sku", flat=True)))

    async def _write_served(self, served: m.ServedWhole) -> None:
        """The backorders a receipt served whole and their history rows, set-based: one statement on PostgreSQL
        (the rows' old values read, updated, and the history inserted from what the update returned), two on
        SQLite (the history from the rows as they are, then the update); each row's values computed by the
        database by the rules `head.serve` follows for a backorder served whole (`ServedWhole`). Sending each
        row's values from Python (arrays of 5,000 through unnest) was the slowest part of a 100k receipt."""
        assert self.conn is not None
        if not served.ids:
            return
        ready = served.ready
        kept = ready.source.value  # an ETA from this source is kept as it is
        params = {
            "location": served.location, "first": served.first_position, "of": served.waiting_count,
            "allocated": m.BackorderStatus.ALLOCATED.value, "today": ready.date, "confidence": ready.confidence.value,
            "source": ready.source.value, "kept": kept, "at": served.at, "today_text": ready.date.isoformat(),
            "cause": served.cause.kind.value, "cause_data": _json(served.cause.to_dict())}
        if self.is_postgres:
            # the ids as one text, split by the database: asyncpg encoding a text[] of 100k on the event loop held
            # it 40-45 ms (an isinstance check an element); the join is a quarter of that. An id with the separator
            # in it (none is made so, `new_id`) would be cut: the array then
            joined = _ID_SEPARATOR.join(served.ids)
            if joined and joined.count(_ID_SEPARATOR) == len(served.ids) - 1:
                statement, ids = _SERVED_WHOLE_PG.replace(_PG_IDS, _PG_JOINED_IDS), joined
            else:
                statement, ids = _SERVED_WHOLE_PG, list(served.ids)
            sql, values = _named(statement, {**params, "ids": ids}, postgres=True)
            await self.conn.execute_query(sql, values)
            return
        ids = _json(list(served.ids))
        for statement in (_SERVED_HISTORY_SQLITE, _SERVED_WHOLE_SQLITE):
            sql, values = _named(statement, {**params, "ids": ids}, postgres=False)
            await self.conn.execute_query(sql, values)

    async def _save_stock(self, inventory: m.SkuInventory) -> None:
        sku = inventory.sku
        if inventory.stock_changed:
            for level in inventory.stock.values():
                key = (sku, level.location)
                values = {"on_hand": level.on_hand, "allocated": level.allocated, "safety_stock": level.safety_stock,
                          "staged": level.staged}
                if key in self._stock_ids:
                    await t.StockLevel.filter(id=self._stock_ids[key]).update(**values)
                else:
                    row = await t.StockLevel.create(sku=sku, location=level.location, **values)
                    self._stock_ids[key] = row.id
            inventory.stock_changed = False

    def _require_lock(self, sku: str) -> None:
        if sku not in self._locked:
            raise UnlockedWrite(f"the backorders of {sku} written without its lock: lock_skus first")

    async def save_inventory(self, inventory: m.SkuInventory) -> None:
        sku = inventory.sku
        self._require_lock(sku)
        end = self._behind.get(sku)
        if end is not None and (inventory.created or any(
                b.waiting_quantity > 0 and _queue_order_key(b) <= _queue_order_key(end)
                for b in inventory.queue.values())):
            # the fold takes the first waiting in queue order up to the range's end: a row saved waiting in front
            # of it would be taken into the range (`lock_skus`' `behind` let a writer through that moves one there)
            raise AssertionError(f"{sku}: a backorder saved waiting in front of a pending range's end")
        kept = await self._kept_projection(inventory)
        await self._save_stock(inventory)
        origin = await self._moved_origin(inventory)
        counts = (sum(1 for b in inventory.queue.values() if b.waiting_quantity > 0),
                  sum(b.waiting_quantity for b in inventory.queue.values()))
        if inventory.ahead is not None:
            counts = (counts[0] + inventory.ahead.waiting_count, counts[1] + inventory.ahead.waiting_units)
        if self._queue_counts.get(sku) != counts:
            self._queue_counts[sku] = self._queue_counts_changed[sku] = counts
        new_rows: list[t.Backorder] = []
        history: list[tuple[Any, ...]] = []
        updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}  # changed columns -> rows of values
        causes: dict[int, tuple[Any, str, str]] = {}  # id -> (cause, kind, JSON)
        for count, backorder in enumerate(inventory.touched.values(), 1):
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a long queue: let the process's other requests run meanwhile
            loaded = self._loaded.get(backorder.id)
            if loaded is None:
                values = mapping.backorder_values(backorder)
                if backorder.queue_position is not None:
                    values["queue_position"] = backorder.queue_position + origin
                new_rows.append(t.Backorder(id=backorder.id, **values))
            else:
                now_values = _changing_values(backorder, origin)
                changed = {k: v for k, v, was in zip(_CHANGING, now_values, loaded, strict=True) if was != v}
                if changed:
                    if changed.keys() != {"demand_to"}:  # the demand index alone is the store's, not a change of it
                        changed["version"] = backorder.version = backorder.version + 1
                    # `reserved` and `shipped_from` copied: the domain changes its maps in place, and a later save
                    # must see that
                    self._loaded[backorder.id] = (*now_values[:5], dict(backorder.reserved),
                                                  dict(backorder.shipped_from), *now_values[7:])
                    updates.setdefault(tuple(changed), []).append((*changed.values(), backorder.id))
            for h in backorder.new_history:
                cause = causes.get(id(h.cause))
                if cause is None or cause[0] is not h.cause:  # one encoding per cause: a receipt shares one
                    cause = causes[id(h.cause)] = (h.cause, h.cause.kind.value, _json(h.cause.to_dict()))
                history.append((backorder.id, h.at, h.kind, h.old_value, h.new_value, cause[1], cause[2]))
            backorder.new_history = []
        # in bulk: allocating to a long queue touches every row in it, and a statement per row is what
        # made the first version slower than a naive ORM loop (bench/allocation.py)
        for columns, rows in updates.items():
            await self._bulk_update_backorders(columns, rows)
        if new_rows:
            await t.Backorder.bulk_create(new_rows, batch_size=500)
            for row in new_rows:
                self._loaded[row.id] = tuple(getattr(row, k) for k in _CHANGING)
        if history:
            await self._bulk_insert(
                "backorder_history", ("backorder_id", "at", "kind", "old_value", "new_value", "cause", "cause_data"),
                ("text", "timestamptz", "text", "text", "text", "text", "text"), history)
        inventory.touched = {}
        if kept is not None and (updates or new_rows or self._projections.get(sku) != kept):
            # after the rows: writing them made the database forget the projection (migration 0018)
            await t.Product.filter(sku=sku).update(eta_projection=kept)
            self._projections[sku] = kept
        elif updates or new_rows:
            self._projections[sku] = None

    async def _moved_origin(self, inventory: m.SkuInventory) -> int:
        """The origin the SKU's places are stored from once `inventory` is saved (written here when it moves). With
        the whole waiting queue in memory, the one most of its loaded rows already count from, as the demand index's
        (`SkuInventory._index_demand`): after a receipt served N whole from the head, every row behind shows a place
        N lower, the origin moves N and none of their rows is written (the rows that do not count from it are added to
        `touched`). With part of the queue in memory the rows not in it keep their stored places: so does the origin."""
        sku = inventory.sku
        origin = self._origins.get(sku, 0)
        if sku not in self._places_whole or inventory.ahead is not None or len(inventory.queue) < ORIGIN_FROM:
            return origin
        place = _CHANGING.index("queue_position")
        offsets: Counter[int] = Counter()
        for b in inventory.queue.values():
            loaded = self._loaded.get(b.id)
            if loaded is not None and loaded[place] is not None and b.queue_position is not None:
                offsets[loaded[place] - b.queue_position] += 1
        if not offsets:
            return origin
        # moved only when that spares at least ORIGIN_FROM rows their write; of equals the lowest: every path that
        # leaves the same queue (the whole settled, its head served from rows, a range recorded) chooses alike
        most = max(offsets.values())
        moved = min(o for o, n in offsets.items() if n == most)
        if most - offsets[origin] < max(ORIGIN_FROM, 1):
            return origin
        for b in inventory.queue.values():
            loaded = self._loaded.get(b.id)
            if loaded is not None and loaded[place] is not None and b.queue_position is not None \
                    and loaded[place] - b.queue_position != moved:
                inventory.touched[b.id] = b
        await t.Product.filter(sku=sku).update(place_origin=moved)
        self._origins[sku] = moved
        return moved

    async def _kept_projection(self, inventory: m.SkuInventory) -> str | None:
        """`products.eta_projection` for `inventory` once saved: the steps the domain found its queue to follow
        (`SkuInventory.kept_projection`), when memory held the whole active queue, or a summarised queue whose
        stored projection is still the one loaded (nothing else in this transaction wrote its rows since)."""
        sku = inventory.sku
        if inventory.ahead is None and sku not in self._whole and sku not in self._rest_follows \
                and sku not in self._range_ready:
            return None  # loaded in part (what still waits after a receipt's head): the rest is not known here
        # the rest behind a receipt's range as a slice (`rest_by_slice`): the rows not in memory followed the
        # projection the receipt found, and follow the new one where `reproject_slice` found the two agree
        sliced = self._sliced.get(sku)
        if inventory.ahead is not None and sliced is None:
            if inventory.stored_steps is None or inventory.stored_origin is None:
                return None
            current = await t.Product.filter(sku=sku).values_list("eta_projection", flat=True)
            if not current or current[0] != mapping.eta_projection(inventory.stored_steps, inventory.stored_origin):
                return None  # another write to the queue since it was loaded: its premise is gone
        kept: tuple[EtaSteps, int] | None
        if len(inventory.queue) < LONG_CHECK:
            kept = inventory.kept_projection()
        else:  # 100k backorders checked: off the event loop, as their settle was
            kept = await asyncio.to_thread(inventory.kept_projection)
        allocated = self._rest_follows.get(sku, sliced)
        if kept is not None and allocated is not None and not kept[0].keeps_allocated_alike(allocated):
            # the allocated rows not in memory carry the ETA the old steps gave them (a pre-order's units set aside
            # before its release: the release date), which the new steps no longer give (on or after the release:
            # allocated today): they do not follow it, and only a whole settle rewrites them
            return None
        ready = self._range_ready.get(sku)
        if kept is not None and ready is not None and not kept[0].keeps_allocated_alike(ready):
            return None  # the pending range's rows, once folded, would not follow it
        return mapping.eta_projection(*kept) if kept is not None else None

    async def _save_queue_counts(self) -> None:
        """Every SKU's new queue counts in one statement (a 1,000-line purchase order changes 1,000)."""
        assert self.conn is not None
        rows = [(count, units, sku) for sku, (count, units) in self._queue_counts_changed.items()]
        self._queue_counts_changed = {}
        if self.is_postgres:
            await self.conn.execute_query(
                'UPDATE "products" AS p SET "waiting_count" = v."c", "waiting_units" = v."u" FROM '
                f'{_pg_unnest(("c", "u", "sku"), ("int", "int", "text"))} WHERE p."sku" = v."sku"',
                _pg_arrays(rows, 3))
        else:
            await self.conn.execute_many(
                'UPDATE "products" SET "waiting_count" = ?, "waiting_units" = ? WHERE "sku" = ?', rows)

    # -- bulk writes: one statement for any number of rows on PostgreSQL (arrays through unnest), one
    # executemany on SQLite (a C loop in-process); a statement per row is what made the first version
    # slower than a naive ORM loop (bench/allocation.py)
    async def _bulk_insert(self, table: str, columns: Sequence[str], pg_types: Sequence[str],
                           rows: list[tuple[Any, ...]]) -> None:
        assert self.conn is not None
        await bulk.insert_rows(self.conn, table, columns, pg_types, rows)

    async def _bulk_update_backorders(self, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """`rows` hold the new values of `columns`, then the id."""
        assert self.conn is not None
        types = [_BACKORDER_PG_TYPES.get(c, "text") for c in columns]
        json_at = [i for i, t_ in enumerate(types) if t_ == "jsonb"]  # JSON as text; the rest as they are
        if self.is_postgres:
            sets = ", ".join(f'"{c}" = v."{c}"' + ("::jsonb" if t_ == "jsonb" else "")
                             for c, t_ in zip(columns, types, strict=True))
            arrays = _pg_arrays(rows, len(columns) + 1)
            for i in json_at:
                arrays[i] = [_db(v) for v in arrays[i]]
            await self.conn.execute_query(
                f'UPDATE "backorders" AS b SET {sets} FROM {_pg_unnest((*columns, "id"), (*types, "text"))} '
                'WHERE b."id" = v."id"', arrays)
        else:
            if json_at:
                rows = [_json_at(row, json_at) for row in rows]
            await self.conn.execute_many(
                'UPDATE "backorders" SET ' + ", ".join(f'"{c}" = ?' for c in columns) + ' WHERE "id" = ?', rows)

    # -- single objects -----------------------------------------------------------------------
    async def get_product(self, sku: str) -> m.Product | None:
        rows = await t.Product.filter(sku=sku).values()
        return mapping.product(rows[0]) if rows else None

    async def save_product(self, product: m.Product) -> None:
        values = {
            "name": product.name,
            "price": product.price.amount,
            "currency": product.price.currency,
            "backorder_policy": product.backorder_policy.value,
            "backorder_limit": product.backorder_limit,
            "release_date": product.release_date,
            "substitutes": list(product.substitutes),
            "supplier_id": product.supplier_id,
            "lead_time_days": product.lead_time_days,
            "allocation_policy": product.allocation_policy.value,
            "fair_share_minimum": product.fair_share_minimum,
            "customer_cap_per_receipt": product.customer_cap_per_receipt,
        }
        updated = await t.Product.filter(sku=product.sku).update(**values, version=product.version + 1)
        if not updated:
            await t.Product.create(sku=product.sku, **values, version=1)
        product.version += 1
        self._inventories.pop(product.sku, None)

    async def get_supplier(self, supplier_id: str) -> m.Supplier | None:
        rows = await t.Supplier.filter(id=supplier_id).values()
        return mapping.supplier(rows[0]) if rows else None

    async def save_supplier(self, supplier: m.Supplier) -> None:
        if not await t.Supplier.filter(id=supplier.id).update(name=supplier.name,
                                                              lead_time_days=supplier.lead_time_days):
            await t.Supplier.create(id=supplier.id, name=supplier.name, lead_time_days=supplier.lead_time_days,
                                    deliveries_on_time=supplier.deliveries_on_time,
                                    deliveries_late=supplier.deliveries_late)

    async def count_delivery(self, supplier_id: str, late: bool) -> None:
        column = "deliveries_late" if late else "deliveries_on_time"
        await t.Supplier.filter(id=supplier_id).update(**{column: F(column) + 1})

    async def skus_supplied_by(self, supplier_id: str) -> list[str]:
        skus = set(await t.Product.filter(supplier_id=supplier_id).values_list("sku", flat=True))
        open_pos = await t.PurchaseOrder.filter(supplier_id=supplier_id, status__in=["OPEN", "PARTIALLY_RECEIVED"]
                                                ).values_list("id", flat=True)
        if open_pos:
            skus |= set(await t.PurchaseOrderLine.filter(purchase_order_id__in=list(open_pos))
                        .values_list("sku", flat=True))
        return sorted(skus)

    async def skus_with_stale_etas(self, now: datetime) -> list[str]:
        today = now.date()
        # only units still waiting: an allocated backorder's ETA is the day its units were set aside
        rows = await t.Backorder.filter(status__in=ACTIVE, eta_date__lt=today,
                                        quantity__gt=F("allocated_quantity")).distinct().values_list("sku", flat=True)
        # and those whose customer's "cancel if not by" date has passed, in their zone, while they wait: no zone
        # is more than a day ahead of UTC, so the candidates are those dated up to today (UTC), and the zones
        # of their customers (one read) say which are due
        dated = await t.Backorder.filter(status__in=ACTIVE, cancel_if_not_by__lte=today,
                                         quantity__gt=F("allocated_quantity")
                                         ).values_list("sku", "cancel_if_not_by", "customer_email")
        zones = await self._timezones({str(email) for _, _, email in dated})
        past = {sku for sku, latest, email in dated
                if customer_today(now, zones.get(str(email), "UTC")) > mapping.as_date(latest)}
        return sorted(set(rows) | past)

    async def _timezones(self, emails: set[str]) -> dict[str, str]:
        """The customers' time zones (their notification preferences'; none set: UTC), by email."""
        found: dict[str, str] = {}
        wanted = sorted(emails)
        for start in range(0, len(wanted), 500):  # SQLite allows so many parameters in one statement
            found.update({str(email): str(zone) for email, zone in await portal.CustomerPreferences.filter(
                email__in=wanted[start:start + 500]).values_list("email", "timezone") if zone})
        return found

    async def waiting_with_substitute_consent(self) -> list[tuple[str, str]]:
        query, by_id = text_key(t.Backorder.filter(
            status__in=ACTIVE, quantity__gt=F("allocated_quantity"),
            substitute_consent__in=[c.value for c in SubstituteConsent if c.automatic],
        ), "id")
        rows = await query.order_by("ordered_at", by_id).values_list("id", "sku")
        return [(str(backorder_id), str(sku)) for backorder_id, sku in rows]

    async def backorder_defaults(self, email: str) -> BackorderPreferences:
        rows = await portal.CustomerPreferences.filter(email=email).values("cancel_if_not_by", "substitute_consent",
                                                                           "timezone")
        if not rows:
            return BackorderPreferences()
        return BackorderPreferences(mapping.as_date(rows[0]["cancel_if_not_by"]),
                                    SubstituteConsent(rows[0]["substitute_consent"] or "ASK"),
                                    rows[0]["timezone"] or "UTC")

    async def get_purchase_order(self, purchase_order_id: str) -> m.PurchaseOrder | None:
        rows = await t.PurchaseOrder.filter(id=purchase_order_id).values()
        if not rows:
            return None
        lines = await t.PurchaseOrderLine.filter(purchase_order_id=purchase_order_id).order_by("id").values()
        return mapping.purchase_order(rows[0], [mapping.purchase_order_line(line) for line in lines])

    async def record_deliveries(self, purchase_order_id: str, records: Sequence[DeliveryRecord]) -> None:
        await deliveries.record_deliveries(purchase_order_id, records, self.conn)

    async def delay_counts(self, received_from: date | None, received_to: date | None) -> list[DelayCount]:
        return await deliveries.delay_counts(received_from, received_to, self.conn)

    async def supplier_ids_by_name(self, names: Sequence[str]) -> dict[str, str]:
        query, by_id = text_key(t.Supplier.filter(name__in=list(names)), "id")
        rows = await query.order_by("created_at", by_id).values("id", "name")
        found: dict[str, str] = {}
        for row in rows:
            found.setdefault(row["name"], row["id"])  # two suppliers of one name: the older one
        return found

    async def purchase_order_number_taken(self, number: str) -> bool:
        return await t.PurchaseOrder.filter(number=number).exists()

    async def save_purchase_order(self, po: m.PurchaseOrder) -> None:
        if await t.PurchaseOrder.filter(number=po.number).exclude(id=po.id).exists():
            raise Conflict(f"purchase order number {po.number} is taken", field="number",
                           code=ErrorCode.DUPLICATE)
        await t.PurchaseOrder.update_or_create(
            id=po.id,
            defaults={"number": po.number, "supplier_id": po.supplier_id, "expected_date": po.expected_date,
                      "first_expected_date": po.first_expected_date,
                      "status": po.status.value, "location": po.location, "created_at": po.created_at},
        )
        # in bulk: a container's purchase order has a thousand lines, and a statement per line cost seconds
        existing = {row["sku"]: (row["quantity"], row["received_quantity"]) for row in
                    await t.PurchaseOrderLine.filter(purchase_order_id=po.id).values(
                        "sku", "quantity", "received_quantity")}
        changed = [(line.quantity, line.received_quantity, po.id, line.sku) for line in po.lines
                   if line.sku in existing and existing[line.sku] != (line.quantity, line.received_quantity)]
        if changed:
            assert self.conn is not None
            if self.is_postgres:
                await self.conn.execute_query(
                    'UPDATE "purchase_order_lines" AS l SET "quantity" = v.q, "received_quantity" = v.r '
                    'FROM unnest($1::int[], $2::int[], $3::text[], $4::text[]) AS v(q, r, po, sku) '
                    'WHERE l."purchase_order_id" = v.po AND l."sku" = v.sku', _pg_arrays(changed, 4))
            else:
                await self.conn.execute_many(
                    'UPDATE "purchase_order_lines" SET "quantity" = ?, "received_quantity" = ? '
                    'WHERE "purchase_order_id" = ? AND "sku" = ?', changed)
        added = [t.PurchaseOrderLine(purchase_order_id=po.id, sku=line.sku, quantity=line.quantity,
                                     received_quantity=line.received_quantity)
                 for line in po.lines if line.sku not in existing]
        if added:
            await t.PurchaseOrderLine.bulk_create(added, batch_size=500)
        for sku in {line.sku for line in po.lines}:
            self._inventories.pop(sku, None)

    async def get_customer(self, email: str) -> m.Customer | None:
        rows = await t.Customer.filter(email=email).values()
        return mapping.customer(rows[0]) if rows else None

    async def save_customer(self, customer: m.Customer) -> None:
        await t.Customer.update_or_create(
            email=customer.email,
            defaults={"name": customer.name, "phone": customer.phone, "tier": customer.tier.value},
        )

    async def get_order(self, order_id: str) -> m.Order | None:
        rows = await t.Order.filter(id=order_id).values()
        return await self._order(rows[0]) if rows else None

    async def order_number_taken(self, number: str) -> bool:
        return await t.Order.filter(number=number).exists()

    async def get_order_by_key(self, idempotency_key: str) -> m.Order | None:
        rows = await t.Order.filter(idempotency_key=idempotency_key).values()
        return await self._order(rows[0]) if rows else None

    async def _order(self, row: dict[str, Any]) -> m.Order:
        lines = await t.OrderLine.filter(order_id=row["id"]).order_by("position").values()
        return mapping.order(row, [mapping.order_line(line) for line in lines],
                             await self.get_customer(row["customer_email"]))

    async def save_order(self, order: m.Order, idempotency_key: str | None = None) -> None:
        defaults: dict[str, Any] = {
            "number": order.number, "channel": order.channel.value, "customer_email": order.customer.email,
            "placed_at": order.placed_at, "ship_complete": order.ship_complete, "version": order.version + 1,
        }
        if idempotency_key:
            defaults["idempotency_key"] = idempotency_key
        try:
            await t.Order.update_or_create(id=order.id, defaults=defaults)
        except IntegrityError as error:
            if idempotency_key:  # the idempotency key's unique index: a twin committed first
                raise Conflict(f"an order with idempotency key {idempotency_key!r} was placed meanwhile",
                               field="idempotency_key", code=ErrorCode.CONFLICT) from error
            raise Conflict("another order was placed with the same number at the same moment; please retry",
                           field=None, code=ErrorCode.CONFLICT) from error
        order.version += 1
        existing = set(await t.OrderLine.filter(order_id=order.id).values_list("id", flat=True))
        for position, line in enumerate(order.lines):
            values = {"order_id": order.id, "position": position, **mapping.order_line_values(line)}
            if line.id in existing:
                await t.OrderLine.filter(id=line.id).update(**values)
            else:
                await t.OrderLine.create(id=line.id, **values)

    # -- the shop's reference data: locations and exchange rates --------------------------------
    async def get_location(self, code: str) -> Location | None:
        # on PostgreSQL the row is share-locked until commit: every writer that checked a location is known
        # (known_location) keeps it from being retired under it; retire_location's FOR UPDATE waits for them
        return await self._location(code, "FOR SHARE")

    async def lock_location(self, code: str) -> Location | None:
        return await self._location(code, "FOR UPDATE")

    async def _location(self, code: str, lock: str) -> Location | None:
        assert self.conn is not None
        mark, lock = ("$1", lock) if self.is_postgres else ("?", "")  # SQLite: one writer at a time anyway
        rows = await self.conn.execute_query_dict(
            f'SELECT "code", "name" FROM "locations" WHERE "code" = {mark} AND "retired_at" IS NULL {lock}', [code])
        return mapping.location(rows[0]) if rows else None

    async def location_use(self, code: str) -> LocationUse:
        assert self.conn is not None
        mark = "$1" if self.is_postgres else "?"
        [stock] = await self.conn.execute_query_dict(
            'SELECT COUNT(*) AS "rows", COALESCE(SUM("on_hand"), 0) AS "on_hand", '
            'COALESCE(SUM("allocated"), 0) AS "allocated", COALESCE(SUM("staged"), 0) AS "staged" '
            f'FROM "stock_levels" WHERE "location" = {mark}', [code])
        orders = await self.conn.execute_query_dict(
            f'SELECT "number", "status" FROM "purchase_orders" WHERE "location" = {mark} '
            f'ORDER BY {self._text_key("number")}', [code])
        bound = tuple(str(o["number"]) for o in orders if o["status"] in OPEN_PO)
        return LocationUse(on_hand=int(stock["on_hand"]), set_aside=int(stock["allocated"]),
                           staged=int(stock["staged"]), open_purchase_orders=bound,
                           referenced=bool(stock["rows"] or orders))

    async def retire_location(self, code: str, keep: bool) -> None:
        now = datetime.now(UTC)
        if keep:
            await t.Location.filter(code=code).update(retired_at=now, updated_at=now)
        else:
            await t.Location.filter(code=code).delete()

    async def save_location(self, location: Location) -> None:
        now = datetime.now(UTC)
        try:  # a retired location set up again is that place back (its code is never another place's)
            if not await t.Location.filter(code=location.code).update(name=location.name, updated_at=now,
                                                                       retired_at=None):
                await t.Location.create(code=location.code, name=location.name, created_at=now, updated_at=now)
        except IntegrityError as error:  # set up by someone else at the same moment
            raise Conflict(f"location {location.code} was set up meanwhile; please retry", field="code") from error

    # -- a customer's notification preferences ------------------------------------------------------
    async def notification_preferences(self, email: str) -> tuple[NotificationPreferences, ChannelConsent]:
        if self.is_postgres:  # two agents (or an agent and the customer) saving at once: one after the other
            assert self.conn is not None
            # a row to lock even on a first save (the defaults, as read when there is none; a refused change
            # rolls it back): locking a row that is not there yet locks nothing, and concurrent first saves
            # each read the defaults and wrote a false record of what changed
            await portal.ensure_preferences_row(email, self.conn)
            await self.conn.execute_query('SELECT "email" FROM "customer_preferences" WHERE "email" = $1 FOR UPDATE',
                                          [email])
        return await portal.get_preferences(email), await portal.consent_of(email)

    async def save_notification_preferences(self, prefs: NotificationPreferences, consent: ChannelConsent,
                                            changes: Sequence[PreferenceChange]) -> None:
        try:
            await portal.save_preferences(prefs)
        except IntegrityError as error:  # a first save of someone else's at the same moment
            raise Conflict(f"the preferences of {prefs.email} were changed meanwhile; please retry") from error
        await portal.save_consent(prefs.email, consent)
        await portal.record_changes(changes)

    async def get_exchange_rate(self, from_currency: str, to_currency: str) -> ExchangeRate | None:
        rows = await t.ExchangeRate.filter(from_currency=from_currency, to_currency=to_currency).values()
        return mapping.exchange_rate(rows[0]) if rows else None

    async def save_exchange_rate(self, rate: ExchangeRate) -> None:
        values = {"rate": rate.rate, "as_of": rate.as_of, "updated_at": datetime.now(UTC)}
        try:
            if not await t.ExchangeRate.filter(from_currency=rate.from_currency,
                                               to_currency=rate.to_currency).update(**values):
                await t.ExchangeRate.create(from_currency=rate.from_currency, to_currency=rate.to_currency, **values)
        except IntegrityError as error:  # the same pair set at the same moment
            raise Conflict(f"the {rate.from_currency}→{rate.to_currency} rate was set meanwhile; please retry",
                           field="to_currency") from error

    async def record_goodwill(self, backorder: m.Backorder, goodwill: Goodwill, entry: m.HistoryEntry) -> None:
        self._require_lock(backorder.sku)
        assert goodwill.backorder_id == backorder.id
        credit = goodwill.credit
        await t.Goodwill.create(
            id=goodwill.id, backorder_id=goodwill.backorder_id, at=goodwill.at, agent=goodwill.agent,
            credit_amount=credit.amount if credit else None, credit_currency=credit.currency if credit else None,
            discount_code=goodwill.discount_code, note=goodwill.note, using_db=self.conn)
        await t.BackorderHistory.create(
            backorder_id=goodwill.backorder_id, at=entry.at, kind=entry.kind, old_value=entry.old_value,
            new_value=entry.new_value, cause=entry.cause.kind.value, cause_data=_json(entry.cause.to_dict()),
            using_db=self.conn)

    async def get_backorder(self, backorder_id: str) -> m.Backorder | None:
        """The backorder as readers see it (`domain.store.current`: a pending served range applied); under its SKU's
        lock (its ranges folded) that is its row."""
        assert self.conn is not None
        mark = self._mark(1)
        row = await self.conn.execute_query_dict(f'SELECT * FROM {current.backorders()} WHERE "id" = {mark}',
                                                 [backorder_id])
        if not row:
            return None
        history = await self.conn.execute_query_dict(
            'SELECT "at", "kind", "old_value", "new_value", "cause", "cause_data" '
            f'FROM {current.history()} WHERE "backorder_id" = {mark} ORDER BY "id"', [backorder_id])
        return mapping.backorder(mapping.backorder_row(row[0]), [mapping.history_entry(h) for h in history])


def _is_deadlock(error: BaseException) -> bool:
    """PostgreSQL's deadlock (SQLSTATE 40P01) or serialisation failure (40001), however tortoise wrapped it."""
    seen: BaseException | None = error
    while seen is not None:
        if getattr(seen, "sqlstate", None) in ("40P01", "40001") or "deadlock detected" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_WAITING_COLUMNS = ('"id", "order_id", "customer_email", "quantity", "allocated_quantity", "reserved", "status", '
                    '"eta_date", "eta_confidence", "eta_source", "eta_reference", "priority_override", "ordered_at", '
                    '"queue_position", "updated_at", "version"')

_CHANGING = ("quantity", "allocated_quantity", "shipped_quantity", "cancelled_quantity", "substituted_quantity",
             "reserved", "shipped_from", "status", "eta_date", "eta_confidence", "eta_source", "eta_reference",
             "promised_date", "priority_override", "priority_reason", "allocation_reason", "queue_position",
             "updated_at", "cancel_if_not_by", "substitute_consent", "declined_substitutes", "demand_to")


def _changing_values(b: m.Backorder, origin: int) -> tuple[Any, ...]:
    """The values of the columns that change after a backorder is created (who, what and when it was ordered
    do not), in `_CHANGING` order; its place as stored, counted from `origin` (its SKU's)."""
    eta = b.eta
    return (b.quantity, b.allocated_quantity, b.shipped_quantity, b.cancelled_quantity, b.substituted_quantity,
            b.reserved, b.shipped_from, b.status.value, eta.date if eta else None,
            eta.confidence.value if eta else None, eta.source.value if eta else None, eta.reference if eta else None,
            b.promised_date, b.priority_override, b.priority_reason, b.allocation_reason,
            b.queue_position + origin if b.queue_position is not None else None, b.updated_at, b.cancel_if_not_by,
            b.substitute_consent.value, list(b.declined_substitutes), b.demand_to)


_BACKORDER_PG_TYPES = {
    "demand_to": "bigint",
    **dict.fromkeys(("quantity", "original_quantity", "allocated_quantity", "shipped_quantity", "cancelled_quantity",
                     "substituted_quantity", "priority_override", "order_quantity", "queue_position", "version"),
                    "int"),
    **dict.fromkeys(("ordered_at", "created_at", "updated_at"), "timestamptz"),
    **dict.fromkeys(("eta_date", "promised_date", "cancel_if_not_by"), "date"),
    "reserved": "jsonb",
    "shipped_from": "jsonb",
    "declined_substitutes": "jsonb",
}


_pg_unnest, _pg_arrays, _json = bulk.pg_unnest, bulk.pg_arrays, bulk.to_json


def _json_at(row: tuple[Any, ...], positions: Sequence[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in positions:
        values[i] = _db(values[i])
    return tuple(values)


def _db(value: Any) -> Any:
    """A value as the database driver takes it in a raw statement (JSON columns as text)."""
    return _json(value) if isinstance(value, (dict, list)) else value


# entries of a QueueChanged per event-log row: PostgreSQL took 3.2 s to store a 100k receipt's as one jsonb
# document (26 MB) and 0.65 s as 150 of 2,000 entries (measured in psql's server, load 8)
LOG_PART = 2_000


def _logged(events: Sequence[Event]) -> Iterator[Event]:
    """The events as the log keeps them: a long QueueChanged in parts of LOG_PART entries (each a QueueChanged
    of its own: expanding the parts in order gives what expanding the whole gives)."""
    for e in events:
        if isinstance(e, QueueChanged) and len(e.entries) > LOG_PART:
            for start in range(0, len(e.entries), LOG_PART):
                yield e.part(range(start, min(start + LOG_PART, len(e.entries))))
        else:
            yield e


def _waiting(raw: Sequence[Any], origin: int) -> list[m.Waiting]:
    """Rows of `_WAITING_COLUMNS` (dicts, or asyncpg's records) as `Waiting` backorders, their places shown: the
    stored ones less `origin`, their SKU's (`products.place_origin`; 0 for rows that show their places already)."""
    return [m.Waiting(
        id=r["id"], order_id=r["order_id"], customer_email=r["customer_email"], quantity=r["quantity"],
        allocated_quantity=r["allocated_quantity"], reserved=mapping.reserved(r["reserved"]) or {},
        status=m.BackorderStatus(r["status"]), eta=mapping.eta(_dated(r)),
        priority_override=r["priority_override"], ordered_at=mapping.as_datetime(r["ordered_at"]),
        queue_position=r["queue_position"] - origin if r["queue_position"] is not None else None,
        updated_at=mapping.as_datetime(r["updated_at"]) if r["updated_at"] is not None else None,
        version=r["version"]) for r in raw]


def _queue_key(row: Any) -> QueueKey:
    """A raw row's (agent priority, order time, id): its key in queue order as a `ServeRecord` names it."""
    return (int(row["priority_override"]), mapping.as_datetime(row["ordered_at"]), row["id"])


def _dated(row: dict[str, Any]) -> dict[str, Any]:
    """A raw row's ETA date as a date (SQLite hands dates back as text)."""
    if isinstance(row.get("eta_date"), str):
        return {**row, "eta_date": date.fromisoformat(row["eta_date"])}
    return row


def _named(sql: str, params: dict[str, Any], *, postgres: bool) -> tuple[str, list[Any]]:
    """`:name` placeholders as the dialect's: `$n` on PostgreSQL (each name once, reused), `?` on SQLite (a value
    each time a name appears)."""
    values: list[Any] = []
    numbers: dict[str, int] = {}

    def mark(match: re.Match[str]) -> str:
        name = match.group(1)
        if not postgres:
            values.append(params[name])
            return "?"
        if name not in numbers:
            values.append(params[name])
            numbers[name] = len(values)
        return f"${numbers[name]}"

    return re.sub(r"(?<!:):([a-z_]+)", mark, sql), values


# What `head.serve` decides for a backorder of a first-come-first-served queue it serves whole (`ServedWhole`), as
# SQL over its row: all it ordered allocated, what it waited for reserved at the location, ALLOCATED, the reason
# `allocation.explain` gives a FIFO claim (its place, its agent priority, its order time in UTC to the second), an
# ETA of today from units set aside unless its ETA already came from them, no place in the waiting queue; history:
# its status, then its ETA's date when that moved. Changing one of these rules means changing `serve` too:
# tests/integration/test_receipt_at_head.py compares the two.
_REASON = (
    "'queue position ' || {place} || ' of ' || {of} || CASE WHEN b.\"priority_override\" = 0 "
    "THEN '; first come, first served' WHEN b.\"priority_override\" > 0 "
    "THEN '; agent priority +' || b.\"priority_override\" ELSE '; agent priority ' || b.\"priority_override\" END "
    "|| '; ordered ' || {ordered} || ' UTC'")
_KEPT_ETA = "b.\"eta_date\" IS NOT NULL AND b.\"eta_source\" = :kept"
_ETA_MOVED = "(b.\"eta_date\" IS NULL OR b.\"eta_date\" <> :today)"
_ID_SEPARATOR = ","
_PG_IDS = "unnest(:ids::text[])"
_PG_JOINED_IDS = "unnest(string_to_array(:ids::text, ','))"
_SERVED_WHOLE_PG = (
    'WITH o AS (SELECT b."id", v."place", b."status" AS "old_status", b."eta_date" AS "old_date", '
    f'({_KEPT_ETA}) AS "kept", {_ETA_MOVED} AS "moved" '
    f'FROM {_PG_IDS} WITH ORDINALITY AS v("id", "place") JOIN "backorders" AS b ON b."id" = v."id"), '
    'u AS (UPDATE "backorders" AS b SET "allocated_quantity" = b."quantity", '
    '"reserved" = COALESCE(b."reserved", \'{}\'::jsonb) || jsonb_build_object(:location::text, '
    'COALESCE((b."reserved" ->> :location::text)::int, 0) + b."quantity" - b."allocated_quantity"), '
    '"status" = :allocated, '
    '"allocation_reason" = ' + _REASON.format(
        place="(:first::bigint + o.\"place\" - 1)", of=":of::bigint",
        ordered="to_char(b.\"ordered_at\" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')") + ', '
    '"eta_date" = CASE WHEN o."kept" THEN b."eta_date" ELSE :today::date END, '
    '"eta_confidence" = CASE WHEN o."kept" THEN b."eta_confidence" ELSE :confidence END, '
    '"eta_source" = CASE WHEN o."kept" THEN b."eta_source" ELSE :source END, '
    '"eta_reference" = CASE WHEN o."kept" THEN b."eta_reference" END, '
    '"queue_position" = NULL, "updated_at" = :at::timestamptz, "version" = b."version" + 1 '
    'FROM o WHERE b."id" = o."id" RETURNING o."id", o."place", o."old_status", o."old_date", o."kept", o."moved") '
    'INSERT INTO "backorder_history" ("backorder_id", "at", "kind", "old_value", "new_value", "cause", "cause_data") '
    'SELECT u."id", :at::timestamptz, h."kind", CASE h."n" WHEN 1 THEN u."old_status" ELSE u."old_date"::text END, '
    'CASE h."n" WHEN 1 THEN :allocated ELSE :today_text END, :cause, :cause_data '
    'FROM u CROSS JOIN (VALUES (1, \'STATUS\'), (2, \'ETA\')) AS h("n", "kind") '
    'WHERE h."n" = 1 OR (NOT u."kept" AND u."moved") ORDER BY u."place", h."n"')
_SERVED_HISTORY_SQLITE = (
    'INSERT INTO "backorder_history" ("backorder_id", "at", "kind", "old_value", "new_value", "cause", "cause_data") '
    'SELECT b."id", :at, h."kind", CASE h."n" WHEN 1 THEN b."status" ELSE b."eta_date" END, '
    'CASE h."n" WHEN 1 THEN :allocated ELSE :today_text END, :cause, :cause_data '
    'FROM json_each(:ids) AS v JOIN "backorders" AS b ON b."id" = v."value" '
    'CROSS JOIN (SELECT 1 AS "n", \'STATUS\' AS "kind" UNION ALL SELECT 2, \'ETA\') AS h '
    f'WHERE h."n" = 1 OR (NOT ({_KEPT_ETA}) AND {_ETA_MOVED}) ORDER BY v."key", h."n"')
_SERVED_WHOLE_SQLITE = (
    'UPDATE "backorders" AS b SET "allocated_quantity" = b."quantity", '
    '"reserved" = json_patch(COALESCE(b."reserved", \'{}\'), json_object(:location, COALESCE((SELECT r."value" '
    'FROM json_each(b."reserved") AS r WHERE r."key" = :location), 0) + b."quantity" - b."allocated_quantity")), '
    '"status" = :allocated, '
    '"allocation_reason" = ' + _REASON.format(
        place='(:first + v."key")', of=":of", ordered='strftime(\'%Y-%m-%d %H:%M:%S\', b."ordered_at")') + ', '
    f'"eta_date" = CASE WHEN {_KEPT_ETA} THEN b."eta_date" ELSE :today END, '
    f'"eta_confidence" = CASE WHEN {_KEPT_ETA} THEN b."eta_confidence" ELSE :confidence END, '
    f'"eta_source" = CASE WHEN {_KEPT_ETA} THEN b."eta_source" ELSE :source END, '
    f'"eta_reference" = CASE WHEN {_KEPT_ETA} THEN b."eta_reference" END, '
    '"queue_position" = NULL, "updated_at" = :at, "version" = b."version" + 1 '
    'FROM json_each(:ids) AS v WHERE b."id" = v."value"')


def _fold_ids(postgres: bool, whole_priority: bool, sqlite_names: bool = False) -> str:
    """The next backorders of a pending range, as a subquery of their ids and places (1, 2, ... in queue order):
    the first `:take` waiting with agent priority `:priority`, read from the queue-order index one status at a
    time (an index range each, already in order; the two merged), and with `whole_priority` False only those up to
    the range's last (order time, then id). SQLite's `json_each` names: "value" for the id, "key" for place - 1."""
    by_id = by_code_point('"id"', "postgres" if postgres else "sqlite")
    last_id = ':last_id::text COLLATE "C"' if postgres else ":last_id"
    last_at = ":last_ordered_at::timestamptz" if postgres else ":last_ordered_at"
    upto = "" if whole_priority else (f' AND ("ordered_at" < {last_at} OR ("ordered_at" = {last_at} AND '
                                      f'{by_id} <= {last_id}))')
    # PostgreSQL: by order time alone, with its ties, then by id in code point order: the index's id column had the
    # database's collation until migration 0031, so sorting by the id in "C" order made each slice read and sort every
    # waiting backorder of the priority (a chunk's cost grew with the queue left: 100k folded in 200 slices read 10M
    # index entries). Kept: correct with either index, and the ties of one order time are few
    first = ("ORDER BY \"ordered_at\" FETCH FIRST (:take::bigint) ROWS WITH TIES" if postgres
             else f'ORDER BY "ordered_at", {by_id} LIMIT :take')
    groups = " UNION ALL ".join(
        f'SELECT * FROM (SELECT "id", "ordered_at", {by_id} AS "by_id" FROM "backorders" WHERE "sku" = :sku AND '
        f'"status" = \'{status}\' AND {_WAITING_ROWS} AND "priority_override" = :priority{upto} '
        f'{first}) AS "{status.lower()}"' for status in WAITING)
    columns = ('"id" AS "value", ROW_NUMBER() OVER (ORDER BY "ordered_at", "by_id") - 1 AS "key"' if sqlite_names
               else '"id", ROW_NUMBER() OVER (ORDER BY "ordered_at", "by_id") AS "place"')
    return f'(SELECT {columns} FROM ({groups}) AS g ORDER BY "ordered_at", "by_id" LIMIT :take)'


def _fold_pg(whole_priority: bool) -> tuple[str]:
    """`_SERVED_WHOLE_PG` with its ids and places from the range (`_fold_ids`), and back how many it folded and
    how many of them waited for nothing (read in the statement's snapshot, before its update)."""
    ids = f'{_PG_IDS} WITH ORDINALITY AS v("id", "place")'
    returning = 'o."kept", o."moved") INSERT INTO "backorder_history"'
    assert _SERVED_WHOLE_PG.count(ids) == 1 and _SERVED_WHOLE_PG.count(returning) == 1
    statement = _SERVED_WHOLE_PG.replace(ids, f'{_fold_ids(True, whole_priority)} AS v').replace(
        returning, 'o."kept", o."moved"), h AS (INSERT INTO "backorder_history"')
    return (statement + ' RETURNING 1) SELECT (SELECT COUNT(*) FROM u) AS "n", (SELECT COUNT(*) FROM o JOIN '
            '"backorders" AS b ON b."id" = o."id" WHERE b."quantity" <= b."allocated_quantity") AS "idle"',)


def _fold_sqlite(whole_priority: bool) -> tuple[str, str, str]:
    """How many backorders the next slice holds and how many of them wait for nothing; then
    `_SERVED_HISTORY_SQLITE` and `_SERVED_WHOLE_SQLITE` with their ids and places from the range (`_fold_ids`)."""
    ids = "json_each(:ids) AS v"
    assert _SERVED_HISTORY_SQLITE.count(ids) == 1 and _SERVED_WHOLE_SQLITE.count(ids) == 1
    chunk = f'{_fold_ids(False, whole_priority, sqlite_names=True)} AS v'
    counts = (f'SELECT COUNT(*) AS "n", SUM(b."quantity" <= b."allocated_quantity") AS "idle" FROM {chunk} '
              'JOIN "backorders" AS b ON b."id" = v."value"')
    return counts, _SERVED_HISTORY_SQLITE.replace(ids, chunk), _SERVED_WHOLE_SQLITE.replace(ids, chunk)


# [up to the range's last, a whole agent priority]: the set-based fold (`TortoiseUnitOfWork._fold_slice`)
_FOLD_PG = (_fold_pg(False), _fold_pg(True))
_FOLD_SQLITE = (_fold_sqlite(False), _fold_sqlite(True))


def _range_ready(record: m.ServeRecord) -> Eta:
    """The ETA the fold gives the rows of `record`'s range (`_fold_slice`'s `ready`)."""
    return m.ServedWhole(record.sku, record.location, record.served_at, record.cause, record.waiting_count,
                         record.folded + 1, ()).ready


def _queue_order_key(row: Any) -> tuple[int, datetime, bytes]:
    """Queue order (agent priority highest first, order time, id by code point) of a backorder or a `QueueKey`."""
    if isinstance(row, tuple):
        priority, ordered_at, backorder_id = row
    else:
        priority, ordered_at, backorder_id = row.priority_override, row.ordered_at, row.id
    return (-priority, ordered_at, backorder_id.encode())
