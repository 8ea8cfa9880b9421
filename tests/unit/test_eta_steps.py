"""The projection as steps of cumulative demand (issue 15): what makes a bounded re-projection exact.

`project` walks the queue against the steps; these tests hold it to the walk it replaced (kept here as the
reference), hold that any slice of the queue projected alone from its demand gets the same ETAs, that
`differing` finds every backorder whose ETA a change of the supply moves, and that a queue is taken to follow
the steps (`SkuInventory.kept_projection`, stored as the SKU's fingerprint) only when every row of it does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.causes import Cause, CauseKind
from domain.eta import (
    Confidence,
    Eta,
    EtaSource,
    InboundSupply,
    Need,
    SupplyOutlook,
    days_after,
    eta_steps,
    project,
)
from domain.model import SkuInventory
from tests.unit.support import NOW, TODAY


def reference_walk(queue: Sequence[Need], *, available_now: int, inbound: Sequence[InboundSupply], today: date,
                   lead_time_days: int, supplier_late: bool = False, release_date: date | None = None,
                   lead_time_confidence: Confidence | None = None) -> dict[str, Eta]:
    """`eta.project` as it was before the steps: the queue walked unit by unit against the supply."""
    from domain.eta import _po_confidence

    supplies = sorted((s for s in inbound if s.quantity > 0), key=lambda s: (s.projected_date, s.reference))
    etas: dict[str, Eta] = {}
    on_hand_left = max(0, available_now)
    po_index = 0
    po_left = supplies[0].quantity if supplies else 0
    last_date = today
    allocated = Eta(today, Confidence.HIGH, EtaSource.ALLOCATED)
    on_hand = Eta(today, Confidence.HIGH, EtaSource.ON_HAND)
    by_po = [Eta(max(s.projected_date, today), _po_confidence(s, today), EtaSource.PURCHASE_ORDER, s.reference)
             for s in supplies]
    beyond = lead_time_confidence or (Confidence.LOW if supplier_late else Confidence.MEDIUM)
    for need in queue:
        if need.waiting_quantity <= 0:
            eta = allocated
        else:
            remaining = need.waiting_quantity
            from_on_hand = min(on_hand_left, remaining)
            on_hand_left -= from_on_hand
            remaining -= from_on_hand
            eta = on_hand
            while remaining > 0 and po_index < len(supplies):
                take = min(po_left, remaining)
                remaining -= take
                po_left -= take
                eta = by_po[po_index]
                if po_left == 0:
                    po_index += 1
                    po_left = supplies[po_index].quantity if po_index < len(supplies) else 0
            if remaining > 0:
                eta = Eta(max(days_after(today, lead_time_days), last_date, eta.date), beyond, EtaSource.LEAD_TIME)
            last_date = max(last_date, eta.date)
        if release_date is not None and release_date > eta.date:
            eta = Eta(release_date, eta.confidence, EtaSource.RELEASE_DATE, eta.reference)
        etas[need.backorder_id] = eta
    return etas


days = st.integers(-20, 60)
supplies = st.lists(st.builds(
    lambda n, d, q, late, delay, conf: InboundSupply(f"PO-{n}", TODAY + timedelta(days=d), q, late, delay_days=delay,
                                                     confidence=conf),
    st.integers(0, 9), days, st.integers(0, 6), st.booleans(), st.integers(-3, 10),
    st.none() | st.sampled_from(list(Confidence))), max_size=6, unique_by=lambda s: s.reference)
inputs = st.fixed_dictionaries({
    "available_now": st.integers(-2, 6), "inbound": supplies, "today": st.just(TODAY),
    "lead_time_days": st.integers(-5, 40), "supplier_late": st.booleans(),
    "release_date": st.none() | days.map(lambda d: TODAY + timedelta(days=d)),
    "lead_time_confidence": st.none() | st.sampled_from(list(Confidence)),
})
queues = st.lists(st.integers(0, 5), max_size=25).map(lambda qs: [Need(f"b{i}", q) for i, q in enumerate(qs)])


@settings(max_examples=400, deadline=None)
@given(queue=queues, given_inputs=inputs)
def test_the_steps_give_every_backorder_the_eta_of_the_walk_they_replaced(queue, given_inputs):
    assert project(queue, SupplyOutlook(**given_inputs)) == reference_walk(queue, **given_inputs)


@settings(max_examples=300, deadline=None)
@given(queue=queues, given_inputs=inputs, data=st.data())
def test_a_slice_of_the_queue_projected_from_its_demand_alone_gets_the_whole_walks_etas(queue, given_inputs, data):
    whole = project(queue, SupplyOutlook(**given_inputs))
    steps = eta_steps(SupplyOutlook(**given_inputs))
    waiting = [n for n in queue if n.waiting_quantity > 0]
    demand = dict(zip((n.backorder_id for n in waiting), accumulate(n.waiting_quantity for n in waiting),
                      strict=True))
    chosen = data.draw(st.lists(st.sampled_from(waiting), unique=True) if waiting else st.just([]))
    for need in chosen:
        assert steps.at(demand[need.backorder_id]) == whole[need.backorder_id]


@settings(max_examples=400, deadline=None)
@given(queue=queues, before=inputs, data=st.data())
def test_only_backorders_whose_demand_falls_in_a_differing_range_change_eta(queue, before, data):
    # a purchase order's date moves (or the day, a quantity, anything): the ranges hold every moved ETA
    after = dict(before, inbound=data.draw(supplies), lead_time_days=data.draw(st.integers(-5, 40)))
    old, new = project(queue, SupplyOutlook(**before)), project(queue, SupplyOutlook(**after))
    ranges = eta_steps(SupplyOutlook(**before)).differing(eta_steps(SupplyOutlook(**after)))
    demand = 0
    for need in queue:
        if need.waiting_quantity <= 0:
            assert old[need.backorder_id] == new[need.backorder_id]
            continue
        demand += need.waiting_quantity
        inside = any(lo < demand and (hi is None or demand <= hi) for lo, hi in ranges)
        if old[need.backorder_id] != new[need.backorder_id]:
            assert inside, (demand, ranges)
    for (_, hi), (lo, _) in zip(ranges, ranges[1:], strict=False):
        assert hi is not None and hi < lo  # sorted, disjoint, not adjacent (merged)


def test_a_purchase_order_moved_later_moves_only_the_demand_between_where_it_was_and_where_it_goes():
    a, b, c, d = (InboundSupply(f"PO-{n}", TODAY + timedelta(days=7 * n), 10) for n in range(1, 5))
    moved = InboundSupply("PO-2", TODAY + timedelta(days=25), 10)  # now after PO-3, before PO-4
    common = {"available_now": 0, "today": TODAY, "lead_time_days": 60}

    ranges = eta_steps(SupplyOutlook(inbound=[a, b, c, d], **common)).differing(
        eta_steps(SupplyOutlook(inbound=[a, moved, c, d], **common)))

    assert ranges == [(10, 30)]  # PO-2's and PO-3's units; PO-1's and PO-4's backorders and the tail keep theirs


def test_the_last_purchase_order_moved_later_moves_the_tail_waiting_for_the_lead_time_too():
    a = InboundSupply("PO-1", TODAY + timedelta(days=7), 10)
    common = {"available_now": 0, "today": TODAY, "lead_time_days": 10}

    ranges = eta_steps(SupplyOutlook(inbound=[a], **common)).differing(
        eta_steps(SupplyOutlook(inbound=[InboundSupply("PO-1", TODAY + timedelta(days=30), 10)], **common)))

    assert ranges == [(0, None)]  # beyond the PO is "never before the last PO": everyone moves


def _settled(data: st.DataObject, given_inputs: dict) -> SkuInventory:
    """A whole first-come queue placed and settled as the use cases do, with the drawn supply."""
    from tests.unit.support import inventory, place

    inv = inventory(on_hand=data.draw(st.integers(0, 4)), inbound=given_inputs["inbound"],
                    lead_time_days=given_inputs["lead_time_days"])
    for minutes, units in enumerate(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=12))):
        place(inv, units, minutes=minutes)
    waiting = sorted(b.id for b in inv.queue.values() if b.waiting_quantity > 0)
    for b in data.draw(st.lists(st.sampled_from(waiting), max_size=2, unique=True)) if waiting else []:
        inv.reprioritize(inv.queue[b], 3, "a rush", "agent", NOW)  # a rush moves one to the front
    inv.settle(NOW, Cause(kind=CauseKind.PO_CHANGED, reference="PO-0"))
    return inv


@settings(max_examples=300, deadline=None)
@given(given_inputs=inputs, data=st.data())
def test_a_settled_queue_keeps_todays_steps_and_any_row_off_them_keeps_none(given_inputs, data):
    """`kept_projection` is the premise of the bounded re-projection (stored as the SKU's fingerprint): it names
    today's steps and the demand index's origin after a settle, and nothing once any waiting backorder's ETA,
    place, order or index entry is off them, or a fully allocated one's ETA or place is (one drawn change of each
    kind)."""
    inv = _settled(data, given_inputs)
    steps = inv.eta_steps(TODAY)
    kept = inv.kept_projection()
    if steps is None:
        assert kept is None
        return
    assert kept is not None and kept[0] == steps
    demand = kept[1]  # the origin most rows already counted from (a rush moves one; the others keep theirs)
    for b in inv.ranked_queue(TODAY):
        demand += b.waiting_quantity
        assert b.demand_to == demand
    active = sorted(inv.queue.values(), key=lambda b: b.id)
    if not active:
        return
    victim = data.draw(st.sampled_from(active))
    waiting = victim.waiting_quantity > 0
    kinds = ["eta", "eta_none", "place"] + (["order", "demand"] if waiting else [])
    kind = data.draw(st.sampled_from(kinds))
    if kind == "eta":
        other = Eta(TODAY + timedelta(days=data.draw(st.integers(1, 400))), Confidence.LOW, EtaSource.LEAD_TIME)
        if other == victim.eta:
            return
        victim.eta = other
    elif kind == "eta_none":
        victim.eta = None
    elif kind == "place":
        victim.queue_position = (victim.queue_position or 0) + data.draw(st.sampled_from([1, 50]))
    elif kind == "order":  # placed earlier than it is ranked: the stored places are no longer queue order
        others = [b for b in active if b.waiting_quantity > 0 and b is not victim]
        if not others:
            return
        victim.priority_override = -1 if victim.queue_position == 1 else 9
    elif kind == "demand":  # its place in the demand index is not its demand
        victim.demand_to = (victim.demand_to or 0) + data.draw(st.sampled_from([-1, 1, 40]))
    assert inv.kept_projection() is None, kind


def test_the_projection_is_stored_and_read_back_equal():
    from domain.store.mapping import eta_projection, stored_projection

    steps = eta_steps(SupplyOutlook(2, [InboundSupply("PO-1", TODAY + timedelta(days=5), 3),
                                        InboundSupply("PO-2", TODAY + timedelta(days=9), 4)],
                                    TODAY, 14, release_date=TODAY + timedelta(days=6)))
    assert stored_projection(eta_projection(steps, 12_345)) == (steps, 12_345)
    assert stored_projection(None) is None
    assert stored_projection('{"bounds":[],"etas":[]}') is None  # recorded before the demand index: not vouched for


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-2, 2), st.integers(0, 5), st.integers(0, 2)), max_size=30, unique_by=lambda
                x: x))
def test_the_queue_is_ranked_by_agent_priority_then_order_time_then_id(rows):
    # three stable sorts stand in for one sort on (-priority, ordered_at, id): the same order, always
    from domain.model import Backorder, Channel, CustomerTier, Product, SkuInventory

    queue = [Backorder(id=f"b{n}-{i}", order_id="o", order_line_id="l", sku="S", customer_email="c@example.com",
                       customer_tier=CustomerTier.STANDARD, channel=Channel.ONLINE,
                       ordered_at=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=t), quantity=2,
                       original_quantity=2, allocated_quantity=a, priority_override=p)
             for i, (p, t, a) in enumerate(rows) for n in (i % 3,)]
    inventory = SkuInventory(Product(sku="S", name="S", price=Decimal("1")), [], queue)

    assert inventory.ranked_queue(TODAY) == sorted(
        (b for b in queue if b.waiting_quantity > 0), key=lambda b: (-b.priority_override, b.ordered_at, b.id))
