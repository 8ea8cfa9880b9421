"""`SkuInventory`, the aggregate that owns one SKU's stock across locations, its waiting queue and its
inbound supply, so every rule about who gets a unit is applied in one place.

Over ~400 lines on purpose: it is one aggregate, and its operations (reserve, receive, place, cancel,
substitute, ship, reprioritise, then settle: allocate and re-project) keep the invariants that
`check_invariants` states together; splitting the class would spread the ledger's rules over files
that can only be understood together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from operator import attrgetter

from domain import events as ev
from domain.allocation import AllocationPolicy, PriorityPolicy, allocate, rank, share_out
from domain.causes import Actor, Cause, CauseKind, RequestedBy
from domain.delays import DelayEstimate, DelayHistory, EtaLearning, estimate_lead_time, learned_inbound
from domain.errors import (
    BackorderLimitExceeded,
    BackorderNotAllowed,
    ErrorCode,
    InsufficientStock,
    InvalidInput,
    InvalidQuantity,
    InvalidState,
    SubstituteError,
)
from domain.eta import (
    Eta,
    EtaSource,
    EtaSteps,
    InboundSupply,
    Need,
    Split,
    SupplyOutlook,
    eta_steps,
    project,
    project_shared,
)
from domain.limits import MAX_TEXT_LENGTH, check_location, check_text, check_units
from domain.model.backorder import Backorder, BackorderStatus
from domain.model.checks import MAX_QUANTITY, check_quantity
from domain.model.head import Served, ServeRecord, Waiting, adopt, serve
from domain.model.ids import new_id
from domain.model.order import Order, OrderLine
from domain.model.product import BackorderPolicy, Product
from domain.model.stock import StockLevel
from domain.model.supplier import Supplier
from domain.preferences import SubstituteConsent, past_deadline


def _add(into: dict[str, int], more: dict[str, int]) -> None:
    for location, qty in more.items():
        into[location] = into.get(location, 0) + qty


def _take_from(reserved: dict[str, int], qty: int) -> dict[str, int]:
    """Remove `qty` units from a per-location reservation, largest holdings first."""
    taken: dict[str, int] = {}
    for location in sorted(reserved, key=lambda loc: (-reserved[loc], loc)):
        if qty == 0:
            break
        part = min(qty, reserved[location])
        reserved[location] -= part
        taken[location] = part
        qty -= part
    for location in [loc for loc, q in reserved.items() if q == 0]:
        del reserved[location]
    if qty:
        raise AssertionError("reservation smaller than the units it should hold")
    return taken


_BY_ID, _BY_ORDERED_AT, _BY_PRIORITY = attrgetter("id"), attrgetter("ordered_at"), attrgetter("priority_override")
_AHEAD = "\x00queue-ahead"  # the stand-in Need for the waiting queue ahead, when it is summarised


@dataclass(frozen=True)
class QueueAhead:
    """A SKU's waiting queue as a new backorder joining its tail needs it: how many wait, for how many
    units, and the first and last of them in priority order. With it, placing an order reads a few rows
    whatever the queue's length, where loading the queue whole read every row of it."""

    waiting_count: int
    waiting_units: int
    head: Backorder | None = None
    tail: Backorder | None = None


class SkuInventory:
    """One SKU's stock across locations, its waiting queue and its inbound supply.

    Loaded and locked as a unit, so allocation never sees a half-updated queue. Operations record
    events in `events` and the backorders they touched in `touched`; the unit of work saves both.
    """

    def __init__(
        self,
        product: Product,
        stock: Sequence[StockLevel],
        queue: Iterable[Backorder],
        *,
        inbound: Sequence[InboundSupply] = (),
        supplier: Supplier | None = None,
        policy: PriorityPolicy | None = None,
        default_lead_time_days: int = 14,
        ahead: QueueAhead | None = None,
        delays: DelayHistory | None = None,
        eta_learning: EtaLearning | None = None,
    ) -> None:
        self.product = product
        # set when the waiting queue was not loaded, only summarised: `queue` then holds only the backorders
        # this use case creates, all of them behind `ahead` (see `can_append`)
        self.ahead = ahead
        self.stock: dict[str, StockLevel] = {s.location: s for s in stock}
        self.queue: dict[str, Backorder] = {b.id: b for b in queue if b.is_active}
        self.inbound = list(inbound)
        self.supplier = supplier
        self.policy = policy or PriorityPolicy()
        self.default_lead_time_days = default_lead_time_days
        # what suppliers' deliveries taught, and the rule that turns it into ETAs (None: the POs' own dates)
        self.delays = delays or DelayHistory()
        self.eta_learning = eta_learning
        self.events: list[ev.Event] = []
        self.touched: dict[str, Backorder] = {}
        self.created: dict[str, Backorder] = {}
        self.stock_changed = False
        # the projection every stored ETA and queue position of this SKU follows, as the store recorded it at the
        # last save that kept it (`kept_projection`); None when not known. The database forgets it whenever
        # a row of the queue changes by any other way (migration 0018), so it is never trusted stale
        self.stored_steps: EtaSteps | None = None
        # with it, the SKU's demand origin: a waiting backorder's cumulative demand is its `demand_to` less this
        self.stored_origin: int | None = None
        self._origin: int | None = None  # the origin `settle` indexed the queue in memory from
        self._settled_on: date | None = None  # the day `settle` last projected the queue in memory
        self._sliced_to: EtaSteps | None = None  # the steps `reproject_slice` left the queue following

    @property
    def sku(self) -> str:
        return self.product.sku

    # -- stock -------------------------------------------------------------------------------
    @property
    def available_to_promise(self) -> int:
        return sum(level.available_to_promise for level in self.stock.values())

    @property
    def on_hand(self) -> int:
        return sum(level.on_hand for level in self.stock.values())

    @property
    def allocated(self) -> int:
        return sum(level.allocated for level in self.stock.values())

    @property
    def staged(self) -> int:
        """Units received and not yet put away (a receipt for a long queue, served a chunk at a time)."""
        return sum(level.staged for level in self.stock.values())

    def stage(self, location: str, units: int) -> None:
        """Take `units` just received at `location` off hand until a later chunk of their receipt puts them away
        (`put_away`): no one else takes them meanwhile, and the projection still counts them as arriving now."""
        level = self.level(location)
        if not 0 <= units <= min(level.available_to_promise, level.on_hand - level.allocated):
            raise AssertionError(f"{self.sku}@{location}: {units} units to stage, not free to stage")
        level.on_hand -= units
        level.staged += units
        self.stock_changed = True

    def put_away(self, location: str, units: int) -> None:
        """Staged units back on hand, for the next chunk of their receipt to hand out (no new event: their
        StockReceived was told at the receipt)."""
        level = self.level(location)
        if not 0 <= units <= level.staged:
            raise AssertionError(f"{self.sku}@{location}: {units} units to put away, {level.staged} staged")
        level.staged -= units
        level.on_hand += units
        self.stock_changed = True

    def level(self, location: str) -> StockLevel:
        location = check_location(location)
        if location not in self.stock:
            self.stock[location] = StockLevel(self.sku, location)
        return self.stock[location]

    def _reserve(self, qty: int, prefer: str | None = None) -> dict[str, int]:
        """Set aside `qty` available units, from the preferred location first."""
        if qty > self.available_to_promise:
            raise InsufficientStock(f"{self.sku}: {qty} wanted, {self.available_to_promise} available")
        taken: dict[str, int] = {}
        order = sorted(self.stock.values(), key=lambda s: (s.location != prefer, -s.available_to_promise, s.location))
        for level in order:
            if qty == 0:
                break
            part = min(qty, level.available_to_promise)
            if part:
                level.allocated += part
                taken[level.location] = part
                qty -= part
        self.stock_changed = True
        return taken

    def _release(self, reserved: dict[str, int]) -> None:
        for location, qty in reserved.items():
            level = self.level(location)
            level.allocated -= qty
            if level.allocated < 0:
                raise AssertionError(f"{self.sku}@{location}: released more than was allocated")
        self.stock_changed = True

    def _consume(self, reserved: dict[str, int]) -> None:
        for location, qty in reserved.items():
            level = self.level(location)
            level.allocated -= qty
            level.on_hand -= qty
            if level.allocated < 0 or level.on_hand < 0:
                raise AssertionError(f"{self.sku}@{location}: shipped more than was held")
        self.stock_changed = True

    def receive(self, location: str, quantity: int, now: datetime, cause: Cause) -> None:
        check_quantity(quantity)
        level = self.level(location)
        check_units(level.on_hand + quantity, "quantity", f"stock of {self.sku} at {level.location}")
        level.on_hand += quantity
        self.stock_changed = True
        self.events.append(
            ev.StockReceived(occurred_at=now, sku=self.sku, location=level.location, quantity=quantity,
                             on_hand=level.on_hand, cause=cause)
        )

    def adjust(self, location: str, delta: int, now: datetime, reason: str) -> None:
        """A stock count correction (damage, shrinkage, found units). Never below what is promised."""
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0 or abs(delta) > MAX_QUANTITY:
            raise InvalidQuantity("an adjustment is a non-zero whole number of units", field="delta")
        if not reason.strip():
            raise InvalidInput("an adjustment needs a reason", field="reason")
        check_text(reason, "reason", max_length=MAX_TEXT_LENGTH, multiline=True, what="a reason")
        level = self.level(location)
        check_units(level.on_hand + delta, "delta", f"stock of {self.sku} at {level.location}")
        if level.on_hand + delta < level.allocated:
            raise InsufficientStock(
                f"{self.sku}@{level.location}: {level.allocated} units are allocated to orders; on hand "
                f"cannot drop to {level.on_hand + delta}",
                field="delta",
            )
        level.on_hand += delta
        self.stock_changed = True
        self.events.append(
            ev.StockAdjusted(occurred_at=now, sku=self.sku, location=level.location, delta=delta,
                             on_hand=level.on_hand, reason=reason)
        )

    def set_safety_stock(self, location: str, safety_stock: int) -> None:
        check_quantity(safety_stock, "safety_stock", allow_zero=True)
        self.level(location).safety_stock = safety_stock
        self.stock_changed = True

    # -- orders and backorders ----------------------------------------------------------------
    def waiting_units(self) -> int:
        behind = sum(b.waiting_quantity for b in self.queue.values())
        return behind + (self.ahead.waiting_units if self.ahead else 0)

    def can_append(self, now: datetime) -> bool:
        """Whether a backorder placed `now` may join the summarised queue (`ahead`) at its tail, with the same
        outcome as loading the queue whole and settling it: everyone ahead keeps their place and ETA, so the
        new backorder's place is the count ahead plus one and its ETA follows from the units waiting ahead.

        That holds when the queue is first come, first served, nobody ahead sorts after `now`, no stock is
        free to hand out (else the settle would serve the queue), and the stored projection is today's: the
        head's ETA is not in the past and the tail's is what projecting the units ahead of it gives today
        (ETAs never decrease down the queue, so these two bound every other). Otherwise: load it whole."""
        ahead = self.ahead
        if ahead is None or not self.policy.is_fifo or self.product.allocation_policy is not AllocationPolicy.PRIORITY:
            return False  # a shared receipt (FAIR_SHARE) reaches past the tail: its ETAs need the whole queue
        head, tail = ahead.head, ahead.tail
        if head is None or tail is None:
            return ahead.waiting_count == 0 and ahead.waiting_units == 0 and head is None and tail is None
        if self.available_to_promise > 0 or tail.queue_position != ahead.waiting_count:
            return False
        if tail.priority_override < 0 or (tail.priority_override == 0 and tail.ordered_at >= now):
            return False
        today = now.date()
        if head.eta is None or head.eta.date < today or tail.eta is None:
            return False
        tail_waiting = tail.waiting_quantity
        expected = self._project_needs([Need(_AHEAD, ahead.waiting_units - tail_waiting), Need(tail.id, tail_waiting)],
                                       today)
        return expected.get(tail.id) == tail.eta

    def place_line(self, order: Order, line: OrderLine, now: datetime, location: str | None = None) -> Backorder | None:
        """Allocate what is available now; backorder the rest when the product's policy allows."""
        check_quantity(line.quantity, "lines.quantity")
        if location is not None:  # read as every location code is; an unknown one simply has nothing
            location = check_location(location) if location.strip() else None
        product = self.product
        preorder = product.is_preorder(now.date())
        allocate_now = 0 if preorder else min(line.quantity, self.available_to_promise)
        shortfall = line.quantity - allocate_now
        if shortfall and product.backorder_policy is BackorderPolicy.DENY:
            raise BackorderNotAllowed(
                f"{product.sku} ({product.name}): {line.quantity} ordered, {allocate_now} available, and this "
                "product cannot be backordered",
                field="lines.quantity",
            )
        if shortfall and product.backorder_limit is not None:
            if self.waiting_units() + shortfall > product.backorder_limit:
                raise BackorderLimitExceeded(
                    f"{product.sku}: at most {product.backorder_limit} units may wait on backorder; "
                    f"{self.waiting_units()} already do",
                    field="lines.quantity",
                )
        if allocate_now:
            line.reserved = self._reserve(allocate_now, location)
            line.allocated_quantity = allocate_now
        if not shortfall:
            return None
        backorder = Backorder(
            id=new_id(),
            order_id=order.id,
            order_line_id=line.id,
            sku=product.sku,
            customer_email=order.customer.email,
            customer_tier=order.customer.tier,
            channel=order.channel,
            ordered_at=order.placed_at,
            quantity=shortfall,
            original_quantity=shortfall,
            order_quantity=line.quantity,
            created_at=now,
            updated_at=now,
        )
        backorder._record(now, "STATUS", None, BackorderStatus.WAITING.value,
                          Cause.order_placed(order.number, shortfall, line.quantity))
        line.backorder_id = backorder.id
        self.queue[backorder.id] = backorder
        self.created[backorder.id] = backorder
        self.touched[backorder.id] = backorder
        return backorder

    def ranked_queue(self, today: date) -> list[Backorder]:
        if self.policy.is_fifo:  # allocation.rank's order, without a Claim per backorder (long queues)
            # three stable sorts on attributes, least significant first: no key tuple per backorder (at 100k, one
            # sort with (-priority, ordered_at, id) keys took ~1.5x as long, the tuples feeding the collector)
            waiting = [b for b in self.queue.values() if b.waiting_quantity > 0]
            waiting.sort(key=_BY_ID)
            waiting.sort(key=_BY_ORDERED_AT)
            waiting.sort(key=_BY_PRIORITY, reverse=True)  # still stable: equal priorities keep their order
            return waiting
        claims = rank((b.claim() for b in self.queue.values() if b.waiting_quantity > 0), self.policy, today)
        return [self.queue[c.backorder_id] for c in claims]

    def queue_positions(self, today: date) -> dict[str, int]:
        first = 1 + (self.ahead.waiting_count if self.ahead else 0)
        return {b.id: i for i, b in enumerate(self.ranked_queue(today), start=first)}

    def allocate_waiting(self, now: datetime, cause: Cause) -> int:
        """Hand what is available to the queue in priority order. Returns units allocated."""
        supply = self.available_to_promise
        if supply == 0 or not self.queue:
            return 0
        if self.ahead is not None and self.ahead.waiting_count:
            raise AssertionError(f"{self.sku}: stock to hand out to a queue that is not loaded")
        given = 0
        for allocation in allocate(supply, [b.claim() for b in self.queue.values()], self.policy, now.date(),
                                   self.product.share_rule):
            backorder = self.queue[allocation.backorder_id]
            taken = self._reserve(allocation.quantity)
            _add(backorder.reserved, taken)
            backorder.allocated_quantity += allocation.quantity
            backorder.allocation_reason = allocation.reason
            given += allocation.quantity
            self.touched[backorder.id] = backorder
            self.events.append(
                ev.BackorderAllocated(
                    occurred_at=now, **backorder._ids(), quantity=allocation.quantity,
                    allocated_quantity=backorder.allocated_quantity,
                    backordered_quantity=backorder.quantity, reason=allocation.reason, cause=cause,
                )
            )
            changed = backorder._refresh_status(now, cause)
            if changed:
                self.events.append(changed)
        return given

    def can_serve_head(self, today: date) -> bool:
        """Whether what `allocate_waiting` and `settle` would do for the backorders the available units reach can
        be decided from their rows alone (`serve_head`), the queue behind them left in the store: first come,
        first served, handed in queue order (not FAIR_SHARE), units from one location only (so where each
        backorder's units come from does not depend on who came before), no release date still ahead (the
        ETA of a backorder served whole is then today), and, once a pre-order is released, none of its allocated
        rows still dated by the release: units set aside before it carry the release date, which only a whole
        settle re-dates (the head path does not load the allocated), so the head waits until a settle has kept a
        projection that dates the allocated as allocated (`stored_steps`)."""
        product = self.product
        if not self.policy.is_fifo or product.allocation_policy is not AllocationPolicy.PRIORITY:
            return False
        if product.backorder_policy is BackorderPolicy.PREORDER and product.release_date is not None and (
                product.release_date > today or self.stored_steps is None
                or self.stored_steps.allocated.source is EtaSource.RELEASE_DATE):
            return False
        return sum(1 for level in self.stock.values() if level.available_to_promise > 0) == 1

    def head_location(self) -> str:
        """Where the units that serve the head come from (`can_serve_head`: one location has units to hand out)."""
        return next(level.location for level in self.stock.values() if level.available_to_promise > 0)

    def serve_head(self, rows: Iterable[Waiting], waiting_count: int, now: datetime, cause: Cause,
                   first_position: int = 1) -> list[Served]:
        """Hand what is available to `rows`, the head of the waiting queue in order (see `can_serve_head`; the first
        of them at `first_position` of the `waiting_count` waiting when the units came); the events go to `events`
        as `settle` would record them. Returns what changed, for the store to write."""
        return serve(self.sku, rows, waiting_count, self.available_to_promise, self._reserve, self.policy, now,
                     cause, self.events, first_position)

    def serve_recorded(self, record: ServeRecord, told: ev.QueueServed,
                       reached_in_part: Waiting | None) -> list[Served]:
        """What `serve_head` does for the head of the queue when the store found it as a range (`head.HeadRange`,
        `head.served_whole_by`) and recorded it (`record`, its event `told`): the units the covered backorders wait
        for set aside at the record's location, the range's event where their per-backorder events would have
        been, then the one the units reach in part (if any) served from what is left, at the record's place
        after the range. Returns what changed for that one (for `adopt_served`)."""
        taken = self._reserve(record.units)
        assert taken == {record.location: record.units}, "a range takes its units from the record's location"
        self.events.append(told)
        if reached_in_part is None:
            return []
        return serve(self.sku, [reached_in_part], record.waiting_count, self.available_to_promise, self._reserve,
                     self.policy, record.served_at, record.cause, self.events, record.count + 1)

    def adopt_served(self, served: Iterable[Served], cause: Cause) -> None:
        """What `serve_head` decided for backorders of this queue (loaded after it, with those still waiting)."""
        for s in served:
            backorder = self.queue[s.id]
            adopt(backorder, s, cause)
            self.touched[backorder.id] = backorder

    def cancel(self, backorder: Backorder, quantity: int | None, now: datetime, *, by: str, reason: str,
               requested_by: RequestedBy | None = None) -> int:
        """Cancel all (quantity None) or part of a backorder; held units go back to stock at once.

        Waiting units are cancelled first, then held ones. Returns the units released to stock.
        """
        backorder.require_active()
        cancellable = backorder.quantity - backorder.shipped_quantity
        qty = cancellable if quantity is None else check_quantity(quantity)
        if qty > cancellable:
            raise InvalidQuantity(f"only {cancellable} units of this backorder can be cancelled", field="quantity")
        return self._cancel_units(backorder, qty, now, Cause.cancelled(qty, by, reason, requested_by), by=by,
                                  reason=reason)

    def _cancel_units(self, backorder: Backorder, qty: int, now: datetime, cause: Cause, *, by: str, reason: str,
                      not_by_date: date | None = None) -> int:
        from_waiting = min(qty, backorder.waiting_quantity)
        from_held = qty - from_waiting
        released = _take_from(backorder.reserved, from_held) if from_held else {}
        self._release(released)
        backorder.quantity -= qty
        backorder.allocated_quantity -= from_held
        backorder.cancelled_quantity += qty
        backorder._record(now, "QUANTITY", str(backorder.quantity + qty), str(backorder.quantity), cause)
        self.touched[backorder.id] = backorder
        self.events.append(
            ev.BackorderCancelled(
                occurred_at=now, **backorder._ids(), quantity=qty, released_quantity=from_held,
                remaining_quantity=backorder.quantity, cancelled_by=by, reason=reason,
                requested_by=cause.requested_by.value if cause.requested_by else None, not_by_date=not_by_date,
            )
        )
        changed = backorder._refresh_status(now, cause)
        if changed:
            self.events.append(changed)
        if not backorder.is_active:
            self.queue.pop(backorder.id, None)
        return from_held

    def substitute_out(self, backorder: Backorder, now: datetime, substitute_sku: str, new_line_id: str,
                       actor: Actor = Actor.CUSTOMER) -> int:
        """The customer took a substitute for the waiting units: they leave this queue."""
        backorder.require_active()
        qty = backorder.waiting_quantity
        if qty == 0:
            raise InvalidState("nothing is waiting on this backorder: it is fully allocated", field="backorder_id")
        backorder.quantity -= qty
        backorder.substituted_quantity += qty
        cause = Cause(kind=CauseKind.SUBSTITUTED, actor=actor, quantity=qty, reference=substitute_sku)
        backorder._record(now, "QUANTITY", str(backorder.quantity + qty), str(backorder.quantity), cause)
        self.touched[backorder.id] = backorder
        self.events.append(
            ev.BackorderSubstituted(occurred_at=now, **backorder._ids(), substitute_sku=substitute_sku,
                                    quantity=qty, new_order_line_id=new_line_id, automatic=actor is Actor.SYSTEM)
        )
        changed = backorder._refresh_status(now, cause)
        if changed:
            self.events.append(changed)
        if not backorder.is_active:
            self.queue.pop(backorder.id, None)
        return qty

    def reserve_for_substitute(self, line: OrderLine, today: date) -> None:
        if self.product.is_preorder(today):  # a substitute is taken to ship now, not on a release day
            raise SubstituteError(
                f"{self.sku} is not released until {self.product.release_date}", field="substitute_sku",
                code=ErrorCode.SUBSTITUTE_UNAVAILABLE,
            )
        if self.available_to_promise < line.quantity:
            raise SubstituteError(
                f"{self.sku}: only {self.available_to_promise} available, {line.quantity} needed",
                field="substitute_sku", code=ErrorCode.SUBSTITUTE_UNAVAILABLE,
            )
        line.reserved = self._reserve(line.quantity)
        line.allocated_quantity = line.quantity

    def ship_line(self, line: OrderLine, shipped_from: dict[str, int] | None = None) -> int:
        """Ship the units set aside for the line; where they came from is added to `line.shipped_from` (and to
        `shipped_from`, the shipment's tally, when given)."""
        units = line.held
        if units:
            self._consume(line.reserved)
            _add(line.shipped_from, line.reserved)
            if shipped_from is not None:
                _add(shipped_from, line.reserved)
            line.reserved = {}
            line.shipped_quantity += units
        return units

    def ship_backorder(self, backorder: Backorder, now: datetime, shipment_id: str,
                       shipped_from: dict[str, int] | None = None) -> int:
        units = backorder.held_quantity
        if not units:
            return 0
        self._consume(backorder.reserved)
        _add(backorder.shipped_from, backorder.reserved)
        if shipped_from is not None:
            _add(shipped_from, backorder.reserved)
        backorder.reserved = {}
        backorder.shipped_quantity += units
        self.touched[backorder.id] = backorder
        cause = Cause(kind=CauseKind.SHIPPED, actor=Actor.AGENT, quantity=units, reference=shipment_id)
        self.events.append(
            ev.BackorderShipped(occurred_at=now, **backorder._ids(), quantity=units,
                                shipped_quantity=backorder.shipped_quantity, shipment_id=shipment_id)
        )
        changed = backorder._refresh_status(now, cause)
        if changed:
            self.events.append(changed)
        if not backorder.is_active:
            self.queue.pop(backorder.id, None)
        return units

    def reprioritize(self, backorder: Backorder, priority: int, reason: str, agent: str, now: datetime) -> None:
        backorder.require_active()
        if isinstance(priority, bool) or not isinstance(priority, int) or not -1000 <= priority <= 1000:
            raise InvalidInput("priority is a whole number between -1000 and 1000", field="priority")
        if not reason.strip():
            raise InvalidInput("say why this backorder is reprioritised", field="reason")
        check_text(reason, "reason", max_length=MAX_TEXT_LENGTH, multiline=True, what="a reason")
        old = backorder.priority_override
        backorder.priority_override = priority
        backorder.priority_reason = reason.strip()
        backorder._record(now, "PRIORITY", str(old), str(priority),
                          Cause(kind=CauseKind.REPRIORITIZED, actor=Actor.AGENT, agent=agent, reason=reason.strip()))
        self.touched[backorder.id] = backorder
        self.events.append(
            ev.BackorderReprioritized(occurred_at=now, **backorder._ids(), priority=priority,
                                      reason=reason.strip(), agent=agent)
        )

    # -- projection ---------------------------------------------------------------------------
    @property
    def lead_time_days(self) -> int:
        if self.product.lead_time_days is not None:
            return self.product.lead_time_days
        if self.supplier is not None:
            return self.supplier.lead_time_days
        return self.default_lead_time_days

    def project(self, today: date) -> dict[str, Eta]:
        """ETAs for every active backorder: allocated ones first, then the waiting queue in order. Under FAIR_SHARE
        each receipt to come is shared as `allocate` will share it (`eta.project_shared`), not served in order."""
        ready = [b for b in self.queue.values() if b.waiting_quantity == 0]
        if self.product.allocation_policy is AllocationPolicy.PRIORITY or self.ahead:
            # served in order: each waiting backorder's ETA is the step its cumulative demand reaches, walked
            # without a `Need` per backorder (100k short-lived objects cost more than the walk itself)
            steps = eta_steps(self._outlook(today))
            etas = dict.fromkeys((b.id for b in ready), steps.allocated)
            etas.update(steps.walk(((b.id, b.waiting_quantity) for b in self.ranked_queue(today)),
                                   self.ahead.waiting_units if self.ahead else 0))
            return etas
        needs = [Need(b.id, b.waiting_quantity) for b in ready + self.ranked_queue(today)]
        return self._project_needs(needs, today)

    def _project_needs(self, needs: list[Need], today: date) -> dict[str, Eta]:
        if self.product.allocation_policy is not AllocationPolicy.PRIORITY and not self.ahead:
            return project_shared(needs, self._outlook(today), split=self._splitter())
        return project(needs, self._outlook(today))

    def _outlook(self, today: date, inbound: Sequence[InboundSupply] | None = None) -> SupplyOutlook:
        """What a projection of this SKU's queue depends on besides the queue (`inbound`: the inbound supply
        as it stood before a change, for the projection that was stored)."""
        release = self.product.release_date if self.product.backorder_policy is BackorderPolicy.PREORDER else None
        inbound = self.inbound if inbound is None else list(inbound)
        lead_time, lead_confidence = self.lead_time_days, None
        if self.eta_learning is not None and self.delays:
            inbound = learned_inbound(inbound, self.delays, self.sku, self.eta_learning, today)
            learned = self.learned_lead_time()
            if learned is not None:
                lead_time, lead_confidence = learned.shift_days, learned.confidence
        # staged units (a receipt still being put away) are here: the queue they reach is served within moments
        return SupplyOutlook(self.available_to_promise + self.staged, inbound, today, lead_time,
                             supplier_late=bool(self.supplier and self.supplier.has_been_late), release_date=release,
                             lead_time_confidence=lead_confidence)

    def eta_steps(self, today: date, inbound: Sequence[InboundSupply] | None = None) -> EtaSteps | None:
        """Today's projection as steps of cumulative demand (`eta.EtaSteps`), with `inbound` in place of the
        SKU's own when given. None when a backorder's ETA is not a function of the demand ahead of it: a shared
        receipt (FAIR_SHARE) or a weighted policy (its order depends on the day), or stock free to hand out (the
        settle would allocate it first). Those are re-projected whole."""
        if self.product.allocation_policy is not AllocationPolicy.PRIORITY or not self.policy.is_fifo:
            return None
        if self.available_to_promise > 0 and self.waiting_units() > 0:
            return None
        return eta_steps(self._outlook(today, inbound))

    def reproject_slice(self, now: datetime, cause: Cause, steps: EtaSteps, demand: Mapping[str, int]) -> bool:
        """Re-project a slice of the queue: `queue` holds only the waiting backorders whose ETA can change (and
        those with a "cancel if not by" date), `demand` each one's cumulative demand in queue order, `steps` the
        new projection. Everyone else keeps the ETA the store showed to be `steps`' already
        (`EtaSteps.explains`). Writes the same ETAs, history and EtaChanged events as `settle` would.

        Returns False, changing nothing, when the whole settle must run instead: a dated backorder that the new
        ETAs (or today) put past its customer's date is cancelled, which moves everyone behind it."""
        if set(demand) != set(self.queue) or any(b.waiting_quantity <= 0 for b in self.queue.values()):
            raise AssertionError(f"{self.sku}: a slice holds waiting backorders, each with its demand")
        for backorder in self.queue.values():
            if past_deadline(backorder.cancel_if_not_by, steps.at(demand[backorder.id]).date, now,
                             backorder.customer_timezone):
                return False
        ordered = sorted(self.queue, key=demand.__getitem__)  # queue order: events come as `settle` makes them
        self.reproject(now, cause, {key: steps.at(demand[key]) for key in ordered})
        self._sliced_to = steps  # those outside the slice already had `steps`' ETAs (`stored_steps` was the old)
        return True

    def kept_projection(self) -> tuple[EtaSteps, int] | None:
        """The steps every stored ETA and queue position of this SKU follows once this aggregate is saved, and the
        origin its demand index (`Backorder.demand_to`) counts from, for the store to record as the SKU's
        fingerprint (`stored_steps`, `stored_origin` when next loaded), so that the next change of its inbound
        supply knows without reading the queue that each waiting backorder's ETA is `at` its cumulative demand
        (the premise of `reproject_slice`), and finds the backorders in a range of demand by the index. None when
        that is not known: the queue was not settled (or sliced) in this use case, or what it holds does not
        follow today's steps exactly.

        After `settle` it is checked, not assumed, over what memory holds: the whole active queue (`ahead`
        None), or the backorders joining the tail of a summarised one (what `can_append` let through) whose
        stored steps give its rows the same ETAs as today's (`EtaSteps.agrees_up_to`). Each waiting backorder's
        queue position is its place in queue order, its ETA the steps' at its demand, its `demand_to` the origin
        plus that demand; each fully allocated one has no position and the ETA `reproject` keeps. O(n) without a
        sort: the positions order the queue, and each neighbour pair is checked."""
        if self._sliced_to is not None:
            return (self._sliced_to, self.stored_origin) if self.stored_origin is not None else None
        if self._settled_on is None or self._origin is None:
            return None
        steps = self.eta_steps(self._settled_on)
        if steps is None:
            return None
        ahead = self.ahead
        if ahead is not None and (self.stored_steps is None
                                  or not self.stored_steps.agrees_up_to(steps, ahead.waiting_units)):
            return None  # the rows ahead, not in memory, are known to follow the stored steps only
        count, units = (ahead.waiting_count, ahead.waiting_units) if ahead is not None else (0, 0)
        followed = _follows(self.queue.values(), steps, count, units, self._origin)
        return (steps, self._origin) if followed else None

    def _index_demand(self, ranked: Sequence[Backorder]) -> None:
        """Each waiting backorder's `demand_to` (`ranked`: the waiting queue in order, behind `ahead`): the origin
        plus its cumulative demand. The whole queue keeps the origin most of its rows already count from, so a
        receipt at the head, an order at the tail or a cancellation rewrites as few as it can; joining the tail
        of a summarised queue takes the stored one (none stored: not indexed, and not kept)."""
        if self.ahead is not None:
            origin, demand = self.stored_origin, self.ahead.waiting_units
        else:
            demand, offsets = 0, Counter[int]()
            for b in ranked:
                demand += b.waiting_quantity
                if b.demand_to is not None:
                    offsets[b.demand_to - demand] += 1
            origin, demand = (offsets.most_common(1)[0][0] if offsets else 0), 0
        self._origin = origin
        if origin is None:
            return
        for b in ranked:
            demand += b.waiting_quantity
            if b.demand_to != origin + demand:
                b.demand_to = origin + demand
                self.touched[b.id] = b

    def _splitter(self) -> Split:
        """How a receipt of `units` on `day` would be shared among the backorders still waiting: what `allocate`
        does at a receipt (rank the queue, then `share_out`), on the queue as it would stand then. First come,
        first served ranks by order time and agent priority alone, the order `ordered` is already in; weighted
        scores are ranked again for that day (urgency depends on it)."""
        customers = {b.id: b.customer_email for b in self.queue.values()}
        share, policy = self.product.share_rule, self.policy

        def split(units: int, ordered: Sequence[str], waiting: Mapping[str, int], day: date) -> dict[str, int]:
            if not policy.is_fifo:
                claims = [replace(self.queue[key].claim(), waiting_quantity=waiting[key]) for key in ordered]
                ordered = [c.backorder_id for c in rank(claims, policy, day)]
            return share_out(units, ordered, waiting, customers, share)
        return split

    def learned_lead_time(self) -> DelayEstimate | None:
        """The supplier's actual lead time for this SKU (its `eta_learning` quantile), when enough is known
        and the product does not set a lead time of its own (the shop's word for one SKU wins)."""
        if self.eta_learning is None or self.supplier is None or self.product.lead_time_days is not None:
            return None
        return estimate_lead_time(self.delays, self.supplier.id, self.sku, self.eta_learning)

    def reproject(self, now: datetime, cause: Cause, projected: dict[str, Eta] | None = None) -> None:
        """Re-project every ETA (or take `projected`, today's projection of the queue as it is); emit EtaChanged
        only where the date moved."""
        for backorder_id, eta in (projected if projected is not None else self.project(now.date())).items():
            backorder = self.queue[backorder_id]
            old = backorder.eta
            if old == eta or (old is not None and old.source is eta.source is EtaSource.ALLOCATED):
                continue  # set-aside units are ready from the day they were set aside: time does not move that
            backorder.eta = eta
            self.touched[backorder.id] = backorder
            if backorder.id in self.created:
                backorder.promised_date = backorder.promised_date or eta.date
                continue
            if old is None or old.date != eta.date:
                backorder._record(now, "ETA", old.date.isoformat() if old else None, eta.date.isoformat(), cause)
                self.events.append(
                    ev.EtaChanged(
                        occurred_at=now, **backorder._ids(), old_date=old.date if old else None,
                        new_date=eta.date, confidence=eta.confidence.value, source=eta.source.value, cause=cause,
                    )
                )

    def settle(self, now: datetime, cause: Cause) -> None:
        """After any change: give available stock to the queue, cancel what can no longer come by its customer's
        "cancel if not by" date (their units go to the next in line), re-project, announce new backorders."""
        self.allocate_waiting(now, cause)
        while True:  # each round that cancels cancels at least one: it ends
            cancelled, projected = self._cancel_past_deadlines(now)
            if not cancelled:
                break
            self.allocate_waiting(now, Cause(kind=CauseKind.QUEUE_CANCELLATION, reference=self.sku))
        self.reproject(now, cause, projected)  # the projection the dates were checked against, when there was one
        ranked = self.ranked_queue(now.date())
        first = 1 + (self.ahead.waiting_count if self.ahead else 0)
        positions = {b.id: i for i, b in enumerate(ranked, start=first)}
        self._index_demand(ranked)
        for backorder in self.queue.values():
            position = positions.get(backorder.id)
            if backorder.queue_position != position:
                backorder.queue_position = position
                self.touched[backorder.id] = backorder
        for backorder in self.touched.values():
            if not backorder.is_active:
                backorder.queue_position = None
        if self.created:
            for backorder in self.created.values():
                eta = backorder.eta
                self.events.insert(
                    0,
                    ev.BackorderCreated(
                        occurred_at=now, **backorder._ids(), quantity=backorder.original_quantity,
                        queue_position=positions.get(backorder.id),
                        eta_date=eta.date if eta else None,
                        eta_confidence=eta.confidence.value if eta else None,
                    ),
                )
            self.created = {}
        self._settled_on, self._sliced_to = now.date(), None

    # -- the customer's own choices (domain.preferences) ----------------------------------------
    def _cancel_past_deadlines(self, now: datetime) -> tuple[bool, dict[str, Eta] | None]:
        """Cancel, whole, every backorder still waiting for units that its projected ETA (or the customer's
        today, in their time zone) puts after its customer's "cancel if not by" date. Returns whether any was
        cancelled (the queue then moved up, and those behind can only be expected sooner), and, when none was,
        the projection it checked against."""
        dated = [b for b in self.queue.values() if b.cancel_if_not_by is not None and b.waiting_quantity > 0]
        if not dated:
            return False, None
        today = now.date()
        etas = self.project(today)
        late = False
        for b in dated:
            eta = etas.get(b.id)
            latest = b.cancel_if_not_by
            assert latest is not None
            if past_deadline(latest, eta.date if eta else None, now, b.customer_timezone):
                expected = eta.date if eta and eta.date > latest else None
                units = b.quantity - b.shipped_quantity
                self._cancel_units(b, units, now, Cause.not_by_date(units, latest, expected), by="system",
                                   reason="", not_by_date=latest)
                late = True
        return late, None if late else etas

    def set_preferences(self, backorder: Backorder, cancel_if_not_by: date | None, consent: SubstituteConsent,
                        now: datetime, *, by: str) -> None:
        """The customer's (or an agent's for them) choices for this backorder, in its history."""
        backorder.require_active()
        if backorder.cancel_if_not_by == cancel_if_not_by and backorder.substitute_consent is consent:
            return
        old = _choices(backorder)
        backorder.cancel_if_not_by, backorder.substitute_consent = cancel_if_not_by, consent
        actor, agent = Cause.by(by)
        backorder._record(now, "PREFERENCE", old, _choices(backorder), Cause(
            kind=CauseKind.PREFERENCES_CHANGED, actor=actor, agent=agent, reference=consent.value,
            new=cancel_if_not_by.isoformat() if cancel_if_not_by else None))
        self.touched[backorder.id] = backorder
        self.events.append(ev.BackorderPreferencesChanged(
            occurred_at=now, **backorder._ids(), cancel_if_not_by_date=cancel_if_not_by, substitutes=consent.value,
            changed_by=by))

    def decline_substitute(self, backorder: Backorder, substitute_sku: str, now: datetime, *, by: str) -> None:
        """Never offer this substitute again for this backorder; the decline is in its history."""
        backorder.require_active()
        if substitute_sku in backorder.declined_substitutes:
            raise SubstituteError(f"{substitute_sku} is already declined for this backorder", field="substitute_sku",
                                  code=ErrorCode.SUBSTITUTE_DECLINED)
        backorder.declined_substitutes.append(substitute_sku)
        actor, agent = Cause.by(by)
        backorder._record(now, "SUBSTITUTE", None, substitute_sku, Cause(
            kind=CauseKind.SUBSTITUTE_DECLINED, actor=actor, agent=agent, reference=substitute_sku))
        self.touched[backorder.id] = backorder
        self.events.append(ev.SubstituteDeclined(occurred_at=now, **backorder._ids(), substitute_sku=substitute_sku,
                                                 declined_by=by))

    def check_invariants(self) -> None:
        """Never oversold: what the ledger says must add up. Raises AssertionError if not."""
        for level in self.stock.values():
            assert level.on_hand >= 0, f"{self.sku}@{level.location}: negative stock"
            assert 0 <= level.allocated <= level.on_hand, f"{self.sku}@{level.location}: over-allocated"
            assert level.staged >= 0, f"{self.sku}@{level.location}: negative staged units"
        for b in self.queue.values():
            assert 0 <= b.shipped_quantity <= b.allocated_quantity <= b.quantity, f"backorder {b.id} out of bounds"
            assert sum(b.reserved.values()) == b.held_quantity, f"backorder {b.id} reservation mismatch"


def _follows(queue: Iterable[Backorder], steps: EtaSteps, count_ahead: int, units_ahead: int, origin: int) -> bool:
    """Whether `queue` (behind `count_ahead` waiting backorders holding `units_ahead` units, not in it) is exactly
    as projecting it by `steps`, placing it and indexing its demand from `origin` leave it (see
    `SkuInventory.kept_projection`)."""
    waiting: list[Backorder] = []
    for b in queue:
        if b.waiting_quantity > 0:
            waiting.append(b)
        elif b.queue_position is not None or b.eta is None or not (
                b.eta == steps.allocated or b.eta.source is EtaSource.ALLOCATED is steps.allocated.source):
            return False
    placed: list[Backorder | None] = [None] * len(waiting)
    for b in waiting:
        place = (b.queue_position or 0) - count_ahead - 1
        if not 0 <= place < len(placed) or placed[place] is not None:
            return False
        placed[place] = b
    in_order = [b for b in placed if b is not None]  # all of them: each place taken once
    for before, after in zip(in_order, in_order[1:], strict=False):  # first come, first served (`ranked_queue`'s order)
        if (before.priority_override, after.ordered_at, after.id) <= (after.priority_override, before.ordered_at,
                                                                     before.id):
            return False
    demand = origin + units_ahead
    for b, (_, eta) in zip(in_order, steps.walk(((b.id, b.waiting_quantity) for b in in_order), units_ahead),
                           strict=True):
        demand += b.waiting_quantity
        if b.eta != eta or b.demand_to != demand:
            return False
    return True


def _choices(backorder: Backorder) -> str:
    """A backorder's choices as one history value: "2027-01-31 ASK", "- NEVER"."""
    latest = backorder.cancel_if_not_by.isoformat() if backorder.cancel_if_not_by else "-"
    return f"{latest} {backorder.substitute_consent.value}"
