"""Who gets arriving stock: first come, first served by default, the weighted priority policy when a shop
asks for it, an agent's override above both, and a reason for every allocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import events as ev
from domain.allocation import FIRST_COME_FIRST_SERVED, Allocation, Claim, PriorityPolicy, allocate, explain, rank
from domain.errors import ErrorCode, InvalidState
from domain.model import CustomerTier
from tests.unit.support import NOW, TODAY, events_of, inventory, note, place, received


def claim(backorder_id: str, minutes: int, waiting: int = 1, **more) -> Claim:
    return Claim(backorder_id=backorder_id, ordered_at=NOW + timedelta(minutes=minutes), waiting_quantity=waiting,
                 **more)


def served(allocations: list[Allocation]) -> list[tuple[str, int]]:
    return [(a.backorder_id, a.quantity) for a in allocations]


def order_of(claims: list[Claim], policy: PriorityPolicy) -> list[str]:
    return [c.backorder_id for c in rank(claims, policy, TODAY)]


# -- first come, first served -----------------------------------------------------------------------


def test_first_come_first_served_serves_by_order_time_whatever_order_the_queue_is_given_in():
    claims = [claim("c", 30, 2), claim("a", 10, 2), claim("b", 20, 2)]

    allocations = allocate(5, claims, FIRST_COME_FIRST_SERVED, TODAY)

    assert served(allocations) == [("a", 2), ("b", 2), ("c", 1)]
    assert [a.rank for a in allocations] == [1, 2, 3]


def test_first_come_first_served_stops_when_supply_runs_out_leaving_later_claims_nothing():
    claims = [claim("a", 1, 4), claim("b", 2, 1), claim("c", 3, 1)]

    assert served(allocate(3, claims, FIRST_COME_FIRST_SERVED, TODAY)) == [("a", 3)]


def test_the_same_order_time_is_broken_by_backorder_id():
    claims = [claim("b", 0), claim("a", 0), claim("c", 0)]

    assert order_of(claims, FIRST_COME_FIRST_SERVED) == ["a", "b", "c"]


def test_claims_waiting_for_nothing_get_nothing_and_take_no_queue_position():
    claims = [claim("done", 0, 0), claim("a", 1, 2)]

    allocations = allocate(5, claims, FIRST_COME_FIRST_SERVED, TODAY)

    assert served(allocations) == [("a", 2)]
    assert allocations[0].reason.startswith("queue position 1 of 1;")


def test_no_supply_allocates_nothing_and_negative_supply_is_a_programming_error():
    assert allocate(0, [claim("a", 0, 3)], FIRST_COME_FIRST_SERVED, TODAY) == []
    with pytest.raises(ValueError):
        allocate(-1, [claim("a", 0, 3)], FIRST_COME_FIRST_SERVED, TODAY)


def test_the_default_policy_is_fifo_and_any_weight_makes_it_not():
    assert PriorityPolicy().is_fifo
    assert not PriorityPolicy(tier_weight=1).is_fifo
    assert not PriorityPolicy(urgency_weight=0.5).is_fifo
    assert not PriorityPolicy(size_weight=-1).is_fifo


def test_first_come_first_served_ignores_tier_promised_date_and_size():
    claims = [
        claim("standard-early", 0, order_quantity=50),
        claim("vip-late", 5, tier="VIP", promised_date=TODAY, order_quantity=1),
    ]

    assert order_of(claims, FIRST_COME_FIRST_SERVED) == ["standard-early", "vip-late"]


# -- weights ----------------------------------------------------------------------------------------


def test_tier_weight_puts_a_later_vip_before_an_earlier_standard_customer():
    claims = [claim("standard", 0, 2), claim("vip", 60, 2, tier="VIP")]

    allocations = allocate(3, claims, PriorityPolicy(tier_weight=1), TODAY)

    assert served(allocations) == [("vip", 2), ("standard", 1)]


def test_tier_scores_can_be_set_per_shop_and_unknown_tiers_score_zero():
    policy = PriorityPolicy(tier_weight=2, tier_scores={"STANDARD": 0.5, "VIP": 0.25})
    claims = [claim("vip", 0, tier="VIP"), claim("standard", 1), claim("unknown", -1, tier="GOLD")]

    assert policy.components(claims[0], TODAY) == {"tier": 0.5}
    assert policy.components(claims[2], TODAY) == {"tier": 0.0}
    assert order_of(claims, policy) == ["standard", "vip", "unknown"]


@pytest.mark.parametrize(("days_left", "urgency"), [(-3, 1.0), (0, 1.0), (1, 0.5), (3, 0.25), (9, 0.1)])
def test_urgency_is_one_when_due_or_overdue_and_one_over_one_plus_days_before(days_left, urgency):
    policy = PriorityPolicy(urgency_weight=2)
    c = claim("a", 0, promised_date=TODAY + timedelta(days=days_left))

    assert policy.components(c, TODAY) == {"urgency": pytest.approx(2 * urgency)}


def test_urgency_weight_serves_the_claim_due_soonest_first():
    policy = PriorityPolicy(urgency_weight=1)
    claims = [
        claim("due-in-9-days", 0, promised_date=TODAY + timedelta(days=9)),
        claim("due-tomorrow", 10, promised_date=TODAY + timedelta(days=1)),
        claim("overdue", 20, promised_date=TODAY - timedelta(days=2)),
        claim("no-promise", -10),
    ]

    assert order_of(claims, policy) == ["overdue", "due-tomorrow", "due-in-9-days", "no-promise"]
    assert policy.components(claims[3], TODAY) == {}


def test_a_positive_size_weight_favours_small_orders_and_a_negative_one_large_orders():
    claims = [claim("large", 0, order_quantity=10), claim("small", 1, order_quantity=1), claim("mid", 2,
                                                                                               order_quantity=4)]

    assert order_of(claims, PriorityPolicy(size_weight=1)) == ["small", "mid", "large"]
    assert order_of(claims, PriorityPolicy(size_weight=-1)) == ["large", "mid", "small"]
    assert PriorityPolicy(size_weight=1).components(claims[2], TODAY) == {"size": 0.25}


def test_weights_add_up_so_a_strong_urgency_outranks_a_weak_tier():
    claims = [claim("vip-no-date", 0, tier="VIP"), claim("standard-due-today", 5, promised_date=TODAY)]

    assert order_of(claims, PriorityPolicy(tier_weight=1, urgency_weight=2)) == ["standard-due-today", "vip-no-date"]
    assert order_of(claims, PriorityPolicy(tier_weight=3, urgency_weight=2)) == ["vip-no-date", "standard-due-today"]


def test_equal_scores_keep_order_time():
    policy = PriorityPolicy(tier_weight=1, size_weight=1)
    claims = [claim("vip-later", 9, tier="VIP", order_quantity=2), claim("vip-earlier", 1, tier="VIP",
                                                                         order_quantity=2)]

    assert policy.score(claims[0], TODAY) == policy.score(claims[1], TODAY) == 1.5
    assert order_of(claims, policy) == ["vip-earlier", "vip-later"]


# -- the agent's override ---------------------------------------------------------------------------


def test_an_agent_override_outranks_order_time_and_any_score():
    policy = PriorityPolicy(tier_weight=10, urgency_weight=10)
    claims = [
        claim("vip-due-today", 0, tier="VIP", promised_date=TODAY),
        claim("pushed-up", 30, priority_override=1),
        claim("pushed-down", -30, priority_override=-1),
        claim("standard", 10),
    ]

    assert order_of(claims, policy) == ["pushed-up", "vip-due-today", "standard", "pushed-down"]
    assert order_of(claims, FIRST_COME_FIRST_SERVED) == ["pushed-up", "vip-due-today", "standard", "pushed-down"]


def test_higher_overrides_go_first():
    claims = [claim("five", 0, priority_override=5), claim("ten", 1, priority_override=10)]

    assert order_of(claims, FIRST_COME_FIRST_SERVED) == ["ten", "five"]


# -- reasons ----------------------------------------------------------------------------------------


def test_a_fifo_allocation_says_its_place_and_order_time():
    allocations = allocate(3, [claim("a", 0), claim("b", 75)], FIRST_COME_FIRST_SERVED, TODAY)

    assert [a.reason for a in allocations] == [
        "queue position 1 of 2; first come, first served; ordered 2026-03-02 09:00:00 UTC",
        "queue position 2 of 2; first come, first served; ordered 2026-03-02 10:15:00 UTC",
    ]


def test_an_overridden_allocation_names_the_agent_priority_instead_of_fifo():
    [allocation] = allocate(1, [claim("a", 0, priority_override=5), claim("b", -5)], FIRST_COME_FIRST_SERVED, TODAY)

    assert allocation.backorder_id == "a"
    assert allocation.reason == "queue position 1 of 2; agent priority +5; ordered 2026-03-02 09:00:00 UTC"


def test_a_weighted_allocation_shows_its_score_and_each_component():
    policy = PriorityPolicy(tier_weight=1, urgency_weight=1)
    [allocation] = allocate(1, [claim("vip", 0, tier="VIP", promised_date=TODAY + timedelta(days=1))], policy, TODAY)

    assert allocation.reason == (
        "queue position 1 of 1; score 1.50 (tier 1.00 + urgency 0.50); ordered 2026-03-02 09:00:00 UTC"
    )


def test_explain_with_a_negative_override_and_weights():
    policy = PriorityPolicy(size_weight=-2)
    c = claim("a", 0, priority_override=-3, order_quantity=4)

    assert explain(c, 3, 7, policy, TODAY) == (
        "queue position 3 of 7; agent priority -3; score -0.50 (size -0.50); ordered 2026-03-02 09:00:00 UTC"
    )


# -- on the SKU aggregate ---------------------------------------------------------------------------


def test_the_aggregate_hands_arriving_stock_to_the_queue_in_order_time():
    inv = inventory(0)
    _, _, second = place(inv, 2, minutes=5)
    _, _, first = place(inv, 2, minutes=1)  # placed later in the test, ordered earlier
    _, _, third = place(inv, 2, minutes=9)

    inv.receive("MAIN", 3, NOW, received(3))
    inv.settle(NOW, received(3))

    assert [(b.allocated_quantity, b.queue_position) for b in (first, second, third)] == [(2, None), (1, 1), (0, 2)]


def test_the_aggregate_applies_its_policy_so_a_vip_is_served_first():
    inv = inventory(0, policy=PriorityPolicy(tier_weight=1))
    _, _, standard = place(inv, 2)
    _, _, vip = place(inv, 2, minutes=5, email="vip@example.com", tier=CustomerTier.VIP)
    assert inv.queue_positions(TODAY) == {vip.id: 1, standard.id: 2}

    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))

    assert (vip.allocated_quantity, standard.allocated_quantity) == (2, 0)
    assert vip.allocation_reason == "queue position 1 of 2; score 1.00 (tier 1.00); ordered 2026-03-02 09:05:00 UTC"


def test_fifo_ranking_on_the_aggregate_matches_rank():
    inv = inventory(0)
    backorders = [place(inv, 1, minutes=m)[2] for m in (7, 3, 3, 9, 1)]
    inv.reprioritize(backorders[3], 2, "escalated", "agent@desk", NOW)

    expected = order_of([b.claim() for b in backorders], FIRST_COME_FIRST_SERVED)

    assert [b.id for b in inv.ranked_queue(TODAY)] == expected
    assert expected[0] == backorders[3].id


def test_an_agent_moves_a_backorder_to_the_front_and_it_is_served_first():
    inv = inventory(0)
    _, _, first = place(inv, 2)
    _, _, second = place(inv, 2, minutes=1)
    _, _, third = place(inv, 2, minutes=2)
    inv.events.clear()

    inv.reprioritize(third, 10, "customer is a hospital", "agent@desk", NOW)
    inv.settle(NOW, note("queue reprioritised by agent@desk"))

    assert (third.queue_position, first.queue_position, second.queue_position) == (1, 2, 3)
    assert (third.priority_override, third.priority_reason) == (10, "customer is a hospital")
    [event] = events_of(inv, ev.BackorderReprioritized)
    assert (event.backorder_id, event.priority, event.reason, event.agent) == (third.id, 10, "customer is a hospital",
                                                                               "agent@desk")

    inv.receive("MAIN", 3, NOW, received(3))
    inv.settle(NOW, received(3))

    assert (third.allocated_quantity, first.allocated_quantity, second.allocated_quantity) == (2, 1, 0)
    assert third.allocation_reason == "queue position 1 of 3; agent priority +10; ordered 2026-03-02 09:02:00 UTC"
    assert first.allocation_reason == (
        "queue position 2 of 3; first come, first served; ordered 2026-03-02 09:00:00 UTC"
    )


def test_a_negative_override_sends_a_backorder_to_the_back():
    inv = inventory(0)
    _, _, first = place(inv, 1)
    _, _, second = place(inv, 1, minutes=1)

    inv.reprioritize(first, -1, "payment on hold", "agent@desk", NOW)
    inv.receive("MAIN", 1, NOW, received(1))
    inv.settle(NOW, received(1))

    assert (second.allocated_quantity, first.allocated_quantity) == (1, 0)
    assert first.queue_position == 1  # the only one still waiting


def test_an_override_does_not_take_units_already_held_by_others():
    inv = inventory(0)
    _, _, first = place(inv, 2)
    _, _, second = place(inv, 2, minutes=1)
    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))

    inv.reprioritize(second, 50, "escalated", "agent@desk", NOW)
    inv.settle(NOW, note("queue reprioritised"))

    assert (first.allocated_quantity, second.allocated_quantity) == (2, 0)


def test_a_shipped_backorder_cannot_be_reprioritised():
    inv = inventory(0)
    _, _, backorder = place(inv, 1)
    inv.receive("MAIN", 1, NOW, received(1))
    inv.settle(NOW, received(1))
    inv.ship_backorder(backorder, NOW, "SHIP-1")

    with pytest.raises(InvalidState) as raised:
        inv.reprioritize(backorder, 5, "too late", "agent@desk", NOW)
    assert raised.value.code is ErrorCode.INVALID_STATE
    assert backorder.priority_override == 0


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])))
def test_the_reason_tells_the_order_time_to_the_second_as_strftime_writes_it(ordered_at: datetime) -> None:
    # `explain` runs once a backorder a receipt serves: written by isoformat, which must say what strftime says
    reason = explain(Claim(backorder_id="b", ordered_at=ordered_at, waiting_quantity=1), 1, 1,
                     FIRST_COME_FIRST_SERVED, TODAY)
    assert reason.endswith(f"; ordered {ordered_at.strftime('%Y-%m-%d %H:%M:%S')} UTC")
