"""Properties of allocation over random queues and arrivals, and a state machine over one SKU's aggregate:
never oversold, never more than asked, the queue's order kept, and every unit accounted for."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain import events as ev
from domain.allocation import FIRST_COME_FIRST_SERVED, Claim, PriorityPolicy, allocate
from domain.errors import InsufficientStock
from domain.eta import InboundSupply
from domain.model import (
    Backorder,
    BackorderStatus,
    CustomerTier,
    OrderLine,
    PurchaseOrder,
    PurchaseOrderLine,
    SkuInventory,
    StockLevel,
)
from tests.unit.support import NOW, SKU, TODAY, inventory, note, order, place, product

POLICIES = [
    FIRST_COME_FIRST_SERVED,
    PriorityPolicy(tier_weight=1),
    PriorityPolicy(urgency_weight=1),
    PriorityPolicy(size_weight=1),
    PriorityPolicy(tier_weight=1, urgency_weight=2, size_weight=-0.5),
]


@st.composite
def claims(draw: st.DrawFn) -> list[Claim]:
    drawn = draw(st.lists(
        st.tuples(
            st.integers(0, 30),  # minutes after NOW: ties on purpose
            st.integers(0, 12),
            st.sampled_from(["STANDARD", "VIP"]),
            st.none() | st.integers(-3, 20),
            st.integers(1, 20),
            st.sampled_from([0, 0, 0, 0, 3, -2]),
        ),
        max_size=12,
    ))
    return [
        Claim(backorder_id=f"b{i:02d}", ordered_at=NOW + timedelta(minutes=minute), waiting_quantity=waiting,
              tier=tier, promised_date=None if days is None else TODAY + timedelta(days=days),
              priority_override=override, order_quantity=max(size, waiting))
        for i, (minute, waiting, tier, days, size, override) in enumerate(drawn)
    ]


@settings(max_examples=200, deadline=None)
@given(queue=claims(), supply=st.integers(0, 80), policy=st.sampled_from(POLICIES))
def test_allocate_never_gives_more_than_arrives_or_than_is_asked_and_gives_all_it_can(queue, supply, policy):
    asked = {c.backorder_id: c.waiting_quantity for c in queue}

    allocations = allocate(supply, queue, policy, TODAY)

    given_out = sum(a.quantity for a in allocations)
    assert given_out <= supply
    assert given_out == min(supply, sum(asked.values()))
    assert len({a.backorder_id for a in allocations}) == len(allocations)
    for a in allocations:
        assert 0 < a.quantity <= asked[a.backorder_id]


@settings(max_examples=200, deadline=None)
@given(queue=claims(), supply=st.integers(0, 80), policy=st.sampled_from(POLICIES))
def test_no_later_claim_of_equal_priority_gets_stock_while_an_earlier_one_still_waits(queue, supply, policy):
    got = {a.backorder_id: a.quantity for a in allocate(supply, queue, policy, TODAY)}

    for earlier in queue:
        still_waits = got.get(earlier.backorder_id, 0) < earlier.waiting_quantity
        if not still_waits:
            continue
        for later in queue:
            same_priority = (later.priority_override == earlier.priority_override
                             and policy.score(later, TODAY) == policy.score(earlier, TODAY))
            if same_priority and (later.ordered_at, later.backorder_id) > (earlier.ordered_at, earlier.backorder_id):
                assert got.get(later.backorder_id, 0) == 0, (earlier, later)


@settings(max_examples=200, deadline=None)
@given(queue=claims(), supply=st.integers(0, 80), policy=st.sampled_from(POLICIES))
def test_only_the_last_claim_served_may_be_served_in_part(queue, supply, policy):
    allocations = allocate(supply, queue, policy, TODAY)
    asked = {c.backorder_id: c.waiting_quantity for c in queue}

    assert [a.rank for a in allocations] == list(range(1, len(allocations) + 1))
    assert all(a.quantity == asked[a.backorder_id] for a in allocations[:-1])


@settings(max_examples=80, deadline=None)
@given(
    queue=st.lists(st.tuples(st.integers(0, 20), st.integers(1, 6)), min_size=1, max_size=10),
    arrivals=st.lists(st.tuples(st.sampled_from(["MAIN", "STORE"]), st.integers(1, 9)), max_size=6),
)
def test_the_aggregate_hands_out_exactly_what_arrives_in_order_time(queue, arrivals):
    inv = inventory(0)
    backorders = [place(inv, quantity, minutes=minute)[2] for minute, quantity in queue]

    for location, quantity in arrivals:
        inv.receive(location, quantity, NOW, "delivery")
        inv.settle(NOW, f"{quantity} received")
        inv.check_invariants()

    arrived = sum(q for _, q in arrivals)
    allocated = sum(b.allocated_quantity for b in backorders)
    assert allocated == min(arrived, sum(b.quantity for b in backorders))
    assert inv.allocated == allocated
    assert inv.available_to_promise == arrived - allocated
    by_time = sorted(backorders, key=lambda b: (b.ordered_at, b.id))
    for i, b in enumerate(by_time):
        assert b.allocated_quantity <= b.quantity
        if b.waiting_quantity:
            assert all(later.allocated_quantity == 0 for later in by_time[i + 1:])


@settings(max_examples=120, deadline=None)
@given(
    queue=st.lists(st.integers(1, 6), min_size=1, max_size=6),
    arrived=st.integers(0, 30),
    pick=st.integers(0, 5),
    data=st.data(),
)
def test_cancelling_returns_exactly_the_held_units_it_takes(queue, arrived, pick, data):
    inv = inventory(0)
    backorders = [place(inv, quantity, minutes=i)[2] for i, quantity in enumerate(queue)]
    if arrived:
        inv.receive("MAIN", arrived, NOW, "delivery")
        inv.settle(NOW, note("received"))
    backorder = backorders[pick % len(backorders)]
    cancellable = backorder.quantity - backorder.shipped_quantity
    quantity = data.draw(st.none() | st.integers(1, cancellable), label="quantity")
    taken = cancellable if quantity is None else quantity
    waiting, held, stock_allocated = backorder.waiting_quantity, backorder.held_quantity, inv.allocated

    released = inv.cancel(backorder, quantity, NOW, by="customer", reason="")

    assert released == max(0, taken - waiting)
    assert backorder.held_quantity == held - released
    assert inv.allocated == stock_allocated - released
    assert inv.on_hand == arrived
    assert backorder.quantity == backorder.original_quantity - taken
    inv.check_invariants()


# -- the aggregate as a state machine ---------------------------------------------------------------


class SkuInventoryMachine(RuleBasedStateMachine):
    """Orders, deliveries, purchase orders, cancellations, shipments and substitutes on one SKU, settled after
    each step as the use cases do; the model keeps every unit received and shipped and every backorder made."""

    def __init__(self) -> None:
        super().__init__()
        self.inv = SkuInventory(product(), [StockLevel(SKU, "MAIN"), StockLevel(SKU, "STORE")], [])
        self.now = NOW
        self.units_in = 0
        self.units_shipped = 0
        self.backorders: dict[str, Backorder] = {}
        self.lines: list[tuple[OrderLine, Backorder | None]] = []
        self.ever_allocated: set[str] = set()
        self.purchase_orders: list[PurchaseOrder] = []

    # -- helpers
    def tick(self) -> None:
        self.now += timedelta(minutes=1)

    def settle(self, cause: str) -> None:
        self.inv.settle(self.now, cause)
        for event in self.inv.events:
            if isinstance(event, ev.BackorderAllocated):
                self.ever_allocated.add(event.backorder_id)
        self.inv.events.clear()

    def refresh_inbound(self) -> None:
        self.inv.inbound = [
            InboundSupply(po.number, po.expected_date, po.lines[0].outstanding)
            for po in self.purchase_orders if po.is_open and po.lines[0].outstanding
        ]

    def active(self) -> list[Backorder]:
        return [b for b in self.backorders.values() if b.is_active]

    def shippable(self) -> list[tuple[OrderLine, Backorder | None]]:
        return [(line, b) for line, b in self.lines if line.held or (b is not None and b.held_quantity)]

    # -- rules
    @initialize(on_hand=st.integers(0, 4))
    def opening_stock(self, on_hand):
        if on_hand:
            self.inv.receive("MAIN", on_hand, self.now, "opening stock")
            self.units_in += on_hand

    @rule(quantity=st.integers(1, 8), vip=st.booleans())
    def place_order(self, quantity, vip):
        self.tick()
        someone_waits = any(b.waiting_quantity for b in self.inv.queue.values())
        placed = order(placed_at=self.now, tier=CustomerTier.VIP if vip else CustomerTier.STANDARD)
        line = OrderLine(f"line-{len(self.lines)}", placed.id, SKU, quantity, self.inv.product.price)
        backorder = self.inv.place_line(placed, line, self.now)
        if line.allocated_quantity:
            assert not someone_waits, "a new order took stock while the queue waited"
        assert line.allocated_quantity + (backorder.quantity if backorder else 0) == quantity
        if backorder is not None:
            self.backorders[backorder.id] = backorder
        self.lines.append((line, backorder))
        self.settle(f"order {placed.number} placed")

    @rule(location=st.sampled_from(["MAIN", "STORE"]), quantity=st.integers(1, 5))
    def receive_stock(self, location, quantity):
        self.tick()
        self.inv.receive(location, quantity, self.now, "delivery")
        self.units_in += quantity
        self.settle(f"{quantity} received at {location}")

    @rule(quantity=st.integers(1, 6), days=st.integers(1, 40))
    def open_purchase_order(self, quantity, days):
        self.tick()
        number = f"PO-{len(self.purchase_orders) + 1}"
        po = PurchaseOrder(number, number, "acme", self.now.date() + timedelta(days=days),
                           [PurchaseOrderLine(SKU, quantity)], location="STORE")
        po.validate()
        self.purchase_orders.append(po)
        self.refresh_inbound()
        self.settle(f"purchase order {number}")

    @precondition(lambda self: any(po.is_open for po in self.purchase_orders))
    @rule(data=st.data())
    def receive_purchase_order(self, data):
        self.tick()
        po = data.draw(st.sampled_from([po for po in self.purchase_orders if po.is_open]), label="po")
        quantity = data.draw(st.integers(1, po.lines[0].outstanding), label="quantity")
        received = po.receive({SKU: quantity})
        assert received == {SKU: quantity}
        self.inv.receive(po.location, quantity, self.now, f"purchase order {po.number}")
        self.units_in += quantity
        self.refresh_inbound()
        self.settle(f"purchase order {po.number} received")

    @precondition(lambda self: any(b.is_active for b in self.backorders.values()))
    @rule(data=st.data())
    def cancel(self, data):
        self.tick()
        backorder = data.draw(st.sampled_from(self.active()), label="backorder")
        cancellable = backorder.quantity - backorder.shipped_quantity
        quantity = data.draw(st.none() | st.integers(1, cancellable), label="quantity")
        waiting, held, allocated = backorder.waiting_quantity, backorder.held_quantity, self.inv.allocated

        released = self.inv.cancel(backorder, quantity, self.now, by="customer", reason="")

        taken = cancellable if quantity is None else quantity
        assert released == max(0, taken - waiting)
        assert backorder.held_quantity == held - released
        assert self.inv.allocated == allocated - released
        self.settle("a backorder ahead was cancelled")

    @precondition(lambda self: bool(self.shippable()))
    @rule(data=st.data())
    def ship(self, data):
        self.tick()
        line, backorder = data.draw(st.sampled_from(self.shippable()), label="line")
        expected = line.held + (backorder.held_quantity if backorder else 0)
        units = self.inv.ship_line(line)
        if backorder is not None:
            units += self.inv.ship_backorder(backorder, self.now, f"SHIP-{self.units_shipped}")
        assert units == expected > 0
        self.units_shipped += units
        self.settle("order shipped")

    @precondition(lambda self: any(b.is_active and b.waiting_quantity for b in self.backorders.values()))
    @rule(data=st.data())
    def accept_substitute(self, data):
        self.tick()
        backorder = data.draw(st.sampled_from([b for b in self.active() if b.waiting_quantity]), label="backorder")
        waiting, held = backorder.waiting_quantity, backorder.held_quantity
        moved = self.inv.substitute_out(backorder, self.now, "CUP-01", f"sub-{backorder.id}")
        assert moved == waiting
        assert backorder.held_quantity == held
        assert backorder.waiting_quantity == 0
        self.settle("a backorder ahead took substitute CUP-01")

    @rule(location=st.sampled_from(["MAIN", "STORE"]), delta=st.sampled_from([d for d in range(-4, 3) if d]))
    def adjust_stock(self, location, delta):
        self.tick()
        level = self.inv.level(location)
        if level.on_hand + delta < level.allocated:
            before = (level.on_hand, level.allocated)
            try:
                self.inv.adjust(location, delta, self.now, "count")
            except InsufficientStock:
                pass
            else:
                raise AssertionError("stock was counted below what is allocated")
            assert (level.on_hand, level.allocated) == before
            return
        self.inv.adjust(location, delta, self.now, "count")
        self.units_in += delta
        self.settle("stock adjusted: count")

    # -- invariants
    @invariant()
    def the_aggregate_checks_itself(self):
        self.inv.check_invariants()

    @invariant()
    def stock_is_never_negative_nor_over_allocated(self):
        for level in self.inv.stock.values():
            assert level.on_hand >= 0
            assert 0 <= level.allocated <= level.on_hand

    @invariant()
    def every_unit_received_is_on_hand_or_shipped(self):
        assert self.units_in == self.inv.on_hand + self.units_shipped

    @invariant()
    def every_allocated_unit_is_held_by_an_order_line_or_a_backorder(self):
        held = sum(b.held_quantity for b in self.backorders.values()) + sum(line.held for line, _ in self.lines)
        assert self.inv.allocated == held
        for line, _ in self.lines:
            assert sum(line.reserved.values()) == line.held
            assert 0 <= line.shipped_quantity <= line.allocated_quantity <= line.quantity

    @invariant()
    def no_backorder_gets_more_than_it_asked(self):
        for b in self.backorders.values():
            assert 0 <= b.shipped_quantity <= b.allocated_quantity <= b.quantity
            assert b.quantity + b.cancelled_quantity + b.substituted_quantity == b.original_quantity
            assert sum(b.reserved.values()) == b.held_quantity
            assert all(q > 0 for q in b.reserved.values())

    @invariant()
    def statuses_match_the_quantities(self):
        for b in self.backorders.values():
            assert (b.id in self.inv.queue) == b.is_active
            if b.status is BackorderStatus.WAITING:
                assert b.allocated_quantity == 0 < b.quantity
            elif b.status is BackorderStatus.PARTIALLY_ALLOCATED:
                assert 0 < b.allocated_quantity < b.quantity
            elif b.status is BackorderStatus.ALLOCATED:
                assert b.allocated_quantity == b.quantity > b.shipped_quantity
            elif b.status is BackorderStatus.SHIPPED:
                assert b.shipped_quantity == b.quantity > 0
            elif b.status is BackorderStatus.CANCELLED:
                assert b.quantity == 0 and b.cancelled_quantity == b.original_quantity
            else:
                assert b.quantity == 0 and b.substituted_quantity > 0

    @invariant()
    def first_come_first_served(self):
        by_time = sorted(self.backorders.values(), key=lambda b: (b.ordered_at, b.id))
        for i, b in enumerate(by_time):
            if b.is_active and b.waiting_quantity:
                later = [o.id for o in by_time[i + 1:] if o.id in self.ever_allocated]
                assert later == [], f"{later} got stock while {b.id} still waits"

    @invariant()
    def stock_is_never_idle_while_someone_waits(self):
        if self.inv.available_to_promise:
            assert not any(b.waiting_quantity for b in self.inv.queue.values())

    @invariant()
    def the_waiting_queue_is_numbered_from_one(self):
        waiting = sorted((b for b in self.inv.queue.values() if b.waiting_quantity), key=lambda b: b.queue_position)
        assert [b.queue_position for b in waiting] == list(range(1, len(waiting) + 1))
        assert all(b.eta is not None for b in self.inv.queue.values())

    @invariant()
    def purchase_orders_are_never_over_received(self):
        for po in self.purchase_orders:
            assert 0 <= po.lines[0].received_quantity <= po.lines[0].quantity


SkuInventoryMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
test_sku_inventory_state_machine = SkuInventoryMachine.TestCase
