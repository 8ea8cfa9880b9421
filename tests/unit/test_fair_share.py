"""Fair allocation: a FAIR_SHARE product splits scarce arriving stock across its queue (a minimum each
first, the rest in queue order) within an optional per-customer cap per receipt; PRIORITY, the default,
serves the queue strictly in order. The issue's worked example, the aggregate using the product's rule,
and properties over random queues."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.allocation import (
    FIRST_COME_FIRST_SERVED,
    AllocationPolicy,
    Claim,
    PriorityPolicy,
    ShareRule,
    allocate,
    rank,
)
from domain.errors import InvalidInput, InvalidQuantity
from domain.model import BackorderStatus, Money, Product
from tests.unit.support import NOW, TODAY, inventory, place, received

FAIR = ShareRule(AllocationPolicy.FAIR_SHARE)


def claim(backorder_id: str, minutes: int, waiting: int, customer: str = "") -> Claim:
    return Claim(backorder_id=backorder_id, ordered_at=NOW + timedelta(minutes=minutes), waiting_quantity=waiting,
                 customer=customer or f"{backorder_id}@example.com")


def served(supply: int, claims: list[Claim], share: ShareRule) -> dict[str, int]:
    return {a.backorder_id: a.quantity for a in allocate(supply, claims, FIRST_COME_FIRST_SERVED, TODAY, share)}


THREE_OF_FOUR = [claim("a", 1, 4), claim("b", 2, 4), claim("c", 3, 4)]


def test_worked_example_priority_gives_4_2_0_and_fair_share_gives_2_2_2():
    assert served(6, THREE_OF_FOUR, ShareRule()) == {"a": 4, "b": 2}
    assert served(6, THREE_OF_FOUR, FAIR) == {"a": 2, "b": 2, "c": 2}


def test_fair_share_gives_the_minimum_first_then_the_rest_in_queue_order():
    assert served(7, THREE_OF_FOUR, ShareRule(AllocationPolicy.FAIR_SHARE, minimum=1)) == {"a": 4, "b": 2, "c": 1}
    # an equal share (7 // 3 = 2 each), the one unit left to the first in the queue
    assert served(7, THREE_OF_FOUR, FAIR) == {"a": 3, "b": 2, "c": 2}


def test_with_fewer_units_than_waiting_backorders_the_first_in_the_queue_get_one_each():
    assert served(2, THREE_OF_FOUR, FAIR) == {"a": 1, "b": 1}


def test_a_small_claim_gets_only_what_it_waits_for_and_the_rest_goes_on_in_queue_order():
    claims = [claim("a", 1, 4), claim("b", 2, 1), claim("c", 3, 4)]
    assert served(9, claims, FAIR) == {"a": 4, "b": 1, "c": 4}


def test_the_per_customer_cap_spreads_a_receipt_across_customers():
    claims = [claim("a1", 1, 4, "ann"), claim("a2", 2, 4, "ann"), claim("b", 3, 4, "bob")]
    uncapped = ShareRule(AllocationPolicy.FAIR_SHARE, minimum=1)
    capped = ShareRule(AllocationPolicy.FAIR_SHARE, minimum=1, customer_cap=3)
    # one each, then the rest in queue order: Ann's first backorder takes it all
    assert served(5, claims, uncapped) == {"a1": 3, "a2": 1, "b": 1}
    # with the cap Ann stops at 3 units of this receipt and Bob gets the unit she would have had
    assert served(5, claims, capped) == {"a1": 2, "a2": 1, "b": 2}


def test_the_cap_never_leaves_units_on_the_shelf_while_someone_waits():
    claims = [claim("a1", 1, 4, "ann"), claim("a2", 2, 4, "ann")]
    assert served(6, claims, ShareRule(AllocationPolicy.FAIR_SHARE, customer_cap=2)) == {"a1": 4, "a2": 2}


def test_the_reason_names_the_fair_share_rule():
    allocations = allocate(6, THREE_OF_FOUR, FIRST_COME_FIRST_SERVED, TODAY,
                           ShareRule(AllocationPolicy.FAIR_SHARE, minimum=2, customer_cap=3))
    assert allocations[2].reason.startswith(
        "fair share: up to 2 each of 3 waiting first, the rest in queue order, at most 3 a customer while others "
        "wait; queue position 3 of 3")


# -- the aggregate uses the product's rule ----------------------------------------------------------
def fair_product(**more) -> Product:
    return Product(sku="MUG-01", name="Mug", price=Money.of("10.00", "EUR"),
                   allocation_policy=AllocationPolicy.FAIR_SHARE, **more)


@pytest.mark.parametrize(("product_", "expected"), [
    (Product(sku="MUG-01", name="Mug", price=Money.of("10.00", "EUR")), [4, 2, 0]),
    (fair_product(), [2, 2, 2]),
])
def test_a_receipt_on_the_aggregate_follows_the_products_allocation_policy(product_, expected):
    inv = inventory(product_=product_)
    backorders = [place(inv, 4, minutes=i, email=f"c{i}@example.com")[2] for i in range(3)]

    inv.receive("MAIN", 6, NOW, received(6))
    inv.settle(NOW, received(6))

    assert [b.allocated_quantity for b in backorders] == expected
    assert all(b.status in (BackorderStatus.PARTIALLY_ALLOCATED, BackorderStatus.ALLOCATED, BackorderStatus.WAITING)
               for b in backorders)
    inv.check_invariants()


def test_fair_share_settings_are_whole_positive_numbers_and_only_for_fair_share():
    with pytest.raises(InvalidQuantity):
        fair_product(fair_share_minimum=0).validate()
    with pytest.raises(InvalidQuantity):
        fair_product(customer_cap_per_receipt=-1).validate()
    with pytest.raises(InvalidInput) as refused:
        Product(sku="MUG-01", name="Mug", price=Money.of("10.00", "EUR"), customer_cap_per_receipt=2).validate()
    assert refused.value.field == "customer_cap_per_receipt"


# -- properties -------------------------------------------------------------------------------------
@st.composite
def queues(draw: st.DrawFn) -> list[Claim]:
    drawn = draw(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 9), st.sampled_from("abcd"),
                                    st.sampled_from([0, 0, 2, -1])), max_size=10))
    return [Claim(backorder_id=f"b{i:02d}", ordered_at=NOW + timedelta(minutes=minute), waiting_quantity=waiting,
                  customer=customer, priority_override=override)
            for i, (minute, waiting, customer, override) in enumerate(drawn)]


rules = st.builds(ShareRule, st.just(AllocationPolicy.FAIR_SHARE), st.none() | st.integers(1, 6),
                  st.none() | st.integers(1, 8))
policies = st.sampled_from([FIRST_COME_FIRST_SERVED, PriorityPolicy(size_weight=1)])


@settings(max_examples=300, deadline=None)
@given(queue=queues(), supply=st.integers(0, 60), rule=rules, policy=policies)
def test_fair_share_never_gives_more_than_asked_or_arrived_and_gives_all_it_can(queue, supply, rule, policy):
    allocations = allocate(supply, queue, policy, TODAY, rule)
    asked = {c.backorder_id: c.waiting_quantity for c in queue}
    given_out = sum(a.quantity for a in allocations)

    assert given_out <= supply
    assert all(0 < a.quantity <= asked[a.backorder_id] for a in allocations)
    assert len({a.backorder_id for a in allocations}) == len(allocations)
    assert given_out == min(supply, sum(asked.values()))  # never units on the shelf while someone waits


@settings(max_examples=300, deadline=None)
@given(queue=queues(), supply=st.integers(0, 60), rule=rules, policy=policies)
def test_fair_share_respects_the_cap_while_another_customer_waits(queue, supply, rule, policy):
    allocations = {a.backorder_id: a.quantity for a in allocate(supply, queue, policy, TODAY, rule)}
    per_customer: dict[str, int] = {}
    for c in queue:
        per_customer[c.customer] = per_customer.get(c.customer, 0) + allocations.get(c.backorder_id, 0)
    still_waiting = {c.customer for c in queue if allocations.get(c.backorder_id, 0) < c.waiting_quantity}

    for units in per_customer.values():
        if rule.customer_cap is not None and units > rule.customer_cap:
            # over the cap only when every customer still waiting is at the cap already
            assert all(per_customer[other] >= rule.customer_cap for other in still_waiting)


@settings(max_examples=300, deadline=None)
@given(queue=queues(), supply=st.integers(0, 60), rule=rules, policy=policies)
def test_fair_share_gives_every_waiting_backorder_its_minimum_before_anyone_gets_more(queue, supply, rule, policy):
    allocations = {a.backorder_id: a.quantity for a in allocate(supply, queue, policy, TODAY, rule)}
    ordered = rank([c for c in queue if c.waiting_quantity > 0], policy, TODAY)
    if rule.customer_cap is not None or not ordered:
        return  # the cap may hold a customer below the minimum; covered above
    minimum = rule.minimum if rule.minimum is not None else max(1, supply // len(ordered))
    if any(units > minimum for units in allocations.values()):
        assert all(allocations.get(c.backorder_id, 0) >= min(minimum, c.waiting_quantity) for c in ordered)
