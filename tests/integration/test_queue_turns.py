"""Whether every backorder ahead of one in its queue was ordered before it (`queries.placed_in_turn`, what
`queue_explanation` words: "2 orders placed before yours" or "2 orders waiting ahead of yours") is read by index
probes when queues are in first-come order (the shop's policy weighs only agent priority and order time), by the
places ahead of it otherwise. Both readings against a brute-force count over random queues (agents' priorities that
move orders ahead, equal order times, ids in code point order, served and cancelled rows out of the queue, several
SKUs), through the views and as readers read (the tables when nothing is pending); with a receipt's served range
pending over each queue's head (part of it folded in), as the views show it; and against queues the desk itself
settled. Runs on SQLite and, with
BACKORDER_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tortoise.expressions import F

from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import current, queries
from domain.store import models as t
from tests import shown_places

pytestmark = pytest.mark.db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WAITING = ("WAITING", "PARTIALLY_ALLOCATED")
_examples = itertools.count()

# one row: its SKU (of three), its order time (minutes after T0: few, so many are equal), the agent's priority, its
# status (waiting most often), a score a weighing policy would give it, and the start of its id (cases and digits:
# code point order is not a locale's)
ROW = st.tuples(st.integers(0, 2), st.integers(0, 4), st.sampled_from([0, 0, 0, 3, 7, -2]),
                st.sampled_from(["WAITING", "WAITING", "WAITING", "PARTIALLY_ALLOCATED", "ALLOCATED", "CANCELLED",
                                 "SHIPPED"]),
                st.integers(0, 2), st.text("aAbB0_", min_size=1, max_size=3))


def _brute_force(rows: list[dict[str, Any]]) -> tuple[dict[str, bool], dict[str, int]]:
    """Per waiting backorder: no one ahead of it by place was ordered at or after it; and the count the first
    version read (of those ahead, how many were ordered before it)."""
    turns, counts = {}, {}
    for b in rows:
        if b["queue_position"] is None:
            continue
        ahead = [o for o in rows if o["sku"] == b["sku"] and o["queue_position"] is not None
                 and o["queue_position"] < b["queue_position"]]
        turns[b["id"]] = all(o["ordered_at"] < b["ordered_at"] for o in ahead)
        counts[b["id"]] = sum(1 for o in ahead if o["ordered_at"] < b["ordered_at"])
    return turns, counts


async def _seed(rows: list[Any], scored: bool) -> list[dict[str, Any]]:
    """The rows as backorders of fresh SKUs, each SKU's waiting ones numbered 1.. in queue order: agent priority
    first, then (`scored`) a weighing policy's score, then order time, then id."""
    example = next(_examples)
    made = []
    for n, (sku, minute, priority, status, score, key) in enumerate(rows):
        made.append({"id": f"{key}{n:03d}x{example}", "sku": f"TURN{example}-{sku}", "status": status,
                     "ordered_at": T0 + timedelta(minutes=minute), "priority_override": priority, "score": score,
                     "queue_position": None})
    for sku in {r["sku"] for r in made}:
        queue = sorted((r for r in made if r["sku"] == sku and r["status"] in WAITING),
                       key=lambda r: (-r["priority_override"], -r["score"] if scored else 0, r["ordered_at"], r["id"]))
        for place, r in enumerate(queue, 1):
            r["queue_position"] = place
    await t.Backorder.bulk_create([t.Backorder(
        id=r["id"], order_id=f"o{r['id']}", order_line_id=f"l{r['id']}", sku=r["sku"], customer_email="ann@example.com",
        customer_tier="STANDARD", channel="ONLINE", ordered_at=r["ordered_at"], quantity=2, original_quantity=2,
        allocated_quantity=1 if r["status"] == "PARTIALLY_ALLOCATED" else 0, status=r["status"],
        priority_override=r["priority_override"], queue_position=r["queue_position"], created_at=T0,
        updated_at=T0) for r in made])
    return made


async def _record_ranges(made: list[dict[str, Any]], cut: int, folded: int) -> set[str]:
    """Each SKU's first `cut` waiting backorders in queue order recorded as served by a receipt not yet folded (a
    `queue_serves` row keyed by the last of them), the first `folded` of those folded in already (their rows
    allocated, out of the queue); the rows as the views show them (the covered ones out of the queue). The covered
    ids."""
    covered: set[str] = set()
    for sku in sorted({r["sku"] for r in made}):
        queue = sorted((r for r in made if r["sku"] == sku and r["queue_position"] is not None),
                       key=lambda r: r["queue_position"])
        served = queue[:cut]
        if not served:
            continue
        last, done = served[-1], min(folded, len(served) - 1)
        await t.QueueServe.create(sku=sku, location="MAIN", served_at=T0 + timedelta(days=1), cause="RECEIPT",
                                  cause_data="{}", waiting_count=len(queue), served_count=len(served),
                                  served_units=2 * len(served), last_priority=last["priority_override"],
                                  last_ordered_at=last["ordered_at"], last_id=last["id"],
                                  folded_count=done)
        for n, r in enumerate(served):
            if n < done:  # folded in: the row says so itself
                await t.Backorder.filter(id=r["id"]).update(status="ALLOCATED", allocated_quantity=2,
                                                             queue_position=None)
            r["queue_position"], r["status"] = None, "ALLOCATED"
            covered.add(r["id"])
    return covered


async def _check(rows: list[Any], scored: bool, first_come: bool, views: bool, cut: int = 0,
                 folded: int = 0) -> None:
    made = await _seed(rows, scored)
    # a receipt's range pending over the head of each queue (only a first-come queue's receipt records one)
    covered = await _record_ranges(made, cut, folded) if cut else set()
    expected, counts = _brute_force(made)
    # the wording's premise: "placed in turn" is the first version's count of those placed before being all ahead
    if not covered:  # (places are not renumbered behind a pending range)
        assert expected == {key: counts[key] == place - 1 for key, place in
                            ((r["id"], r["queue_position"]) for r in made if r["queue_position"] is not None)}
    ids = [r["id"] for r in made] + ["NOT-A-BACKORDER"]
    queries.QUEUES_FIRST_COME = first_come
    try:
        # through the views whatever is pending, or as readers read: the seam's snapshot, the tables when nothing is
        with current.through(True) if views else contextlib.nullcontext():
            backorders, turns = await queries.backorders_with_turns(ids)
            alone = await queries.placed_in_turn(ids[::-1])
    finally:
        queries.QUEUES_FIRST_COME = False
        # this example's ranges done with: the next example's reads find none pending but their own
        await t.QueueServe.filter(sku__in=sorted({r["sku"] for r in made})).update(folded_count=F("served_count"))
    assert sorted(backorders) == sorted(r["id"] for r in made)
    assert {key for key, b in backorders.items() if b.status.value == "ALLOCATED"} >= covered
    assert turns == expected, (first_come, views, cut, folded, made)
    assert alone == expected


def _run(check: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """An example of a hypothesis property (run in a thread) awaited on this test's event loop, its database's."""
    loop = asyncio.get_running_loop()

    def example(*args: Any) -> None:
        asyncio.run_coroutine_threadsafe(check(*args), loop).result(600)
    return example


async def test_a_first_come_queue_is_explained_by_probes_as_the_places_ahead_say(db: str) -> None:
    run = _run(_check)

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(ROW, max_size=14), st.booleans())
    def check(rows: list[Any], views: bool) -> None:
        run(rows, False, True, views)

    await asyncio.to_thread(check)


async def test_a_first_come_queue_with_a_receipt_pending_is_explained_as_once_folded(db: str) -> None:
    # given each SKU's head served by a receipt recorded as a range, some of it folded in already, not all: the
    # probes read the rows themselves with the range's rows left out, the views show them served
    run = _run(_check)

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(ROW, max_size=14), st.booleans(), st.integers(1, 6), st.integers(0, 3))
    # a level above the range's last all served, ordered after one waiting behind it
    @example([(0, 3, 7, "WAITING", 0, "a"), (0, 0, 0, "WAITING", 0, "c"), (0, 2, 0, "WAITING", 0, "b")], False, 2, 0)
    @example([(0, 3, 7, "WAITING", 0, "a"), (0, 2, 0, "WAITING", 0, "b")], False, 1, 0)
    # the range ends inside a tie (same priority and order time): the one tied after it is in turn
    @example([(0, 1, 0, "WAITING", 0, "a"), (0, 1, 0, "WAITING", 0, "b"), (0, 0, 0, "WAITING", 0, "c")],
             False, 2, 0)
    def check(rows: list[Any], views: bool, cut: int, folded: int) -> None:
        run(rows, False, True, views, cut, folded)

    await asyncio.to_thread(check)


async def test_any_queue_is_explained_by_the_places_ahead(db: str) -> None:
    run = _run(_check)

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(ROW, max_size=14), st.booleans(), st.booleans())
    def check(rows: list[Any], scored: bool, views: bool) -> None:
        run(rows, scored, False, views)

    await asyncio.to_thread(check)


async def test_a_weighed_queue_read_as_first_come_would_be_explained_wrongly(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "QUEUES_FIRST_COME", False)  # whatever an app built by an earlier test left
    # given a queue a weighing policy numbered: the later order ranked first by its score
    rows = [(0, 0, 0, "WAITING", 0, "a"), (0, 1, 0, "WAITING", 2, "b")]
    made = await _seed(rows, scored=True)
    late = next(r["id"] for r in made if r["score"] == 2)
    early = next(r["id"] for r in made if r["score"] == 0)
    # then the reading by places says the earlier order has one ahead placed after it; probes for a first-come
    # queue would not see it (which is why they are read only when the policy ranks queues first-come)
    assert await queries.placed_in_turn([early, late]) == {early: False, late: True}
    queries.QUEUES_FIRST_COME = True
    try:
        assert await queries.placed_in_turn([early, late]) == {early: True, late: True}
    finally:
        queries.QUEUES_FIRST_COME = False


async def _settled_example(desk: BackorderDesk, steps: list[Any]) -> None:
    example = next(_examples)
    skus = [f"DESK{example}-{n}" for n in range(2)]
    for sku in skus:
        await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
    ids: list[str] = []
    for kind, sku, units, priority, pick in steps:
        if kind == "order" or not ids:
            order = await desk.place_order(CustomerDetails(f"c{units}@example.com"), Channel.ONLINE,
                                           [LineRequest(skus[sku], units)])
            ids.extend(line.backorder_id for line in order.lines if line.backorder_id)
            continue
        chosen = ids[pick % len(ids)]
        row = await shown_places.backorder(chosen)
        assert row is not None
        if kind == "priority" and row.status in WAITING:
            await desk.reprioritize_backorder(chosen, priority, "test", "agent Sam")
        elif kind == "cancel" and row.status in WAITING:
            await desk.cancel_backorder(chosen, reason="test")
        elif kind == "receive":
            await desk.receive_stock(skus[sku], units)
        elif kind == "later":
            desk.clock.advance(timedelta(seconds=units))  # type: ignore[attr-defined]  # the fixture's FixedClock
    # a range recorded (the ledger on, BACKORDER_TEST_LEDGER=forced) is in the rows the brute force reads once folded
    # (the probes' answers while a range is pending: the first test here, `_check` with `cut`)
    await desk.folded()
    rows = await shown_places.rows("id", "sku", "ordered_at", "queue_position", sku__in=skus)
    expected, _ = _brute_force(rows)
    queries.QUEUES_FIRST_COME = True
    try:
        assert await queries.placed_in_turn([r["id"] for r in rows]) == expected, rows
    finally:
        queries.QUEUES_FIRST_COME = False


async def test_queues_the_desk_settles_are_first_come_as_the_probes_read_them(desk: BackorderDesk) -> None:
    run = _run(lambda steps: _settled_example(desk, steps))

    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.sampled_from(["order", "order", "order", "priority", "cancel", "receive", "later"]),
                              st.integers(0, 1), st.integers(1, 3), st.sampled_from([3, 7, -2, 0]),
                              st.integers(0, 50)), max_size=16))
    def check(steps: list[Any]) -> None:
        run(steps)

    await asyncio.to_thread(check)
