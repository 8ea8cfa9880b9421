"""previewAllocation and previewReprioritization run the change's own code and write nothing: for random queues
(either allocation policy, agent priorities, stock already on hand, a purchase order on its way), what the
preview says a receipt or a reprioritisation would do is what it then does, on the real unit of work and
database."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.allocation import AllocationPolicy
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import queries as q
from tests.integration.support import snapshot

_skus = itertools.count(1)

shops = st.fixed_dictionaries({
    "policy": st.sampled_from(list(AllocationPolicy)),
    "minimum": st.none() | st.integers(1, 4),
    "cap": st.none() | st.integers(1, 6),
    "on_hand": st.integers(0, 4),
    "orders": st.lists(st.tuples(st.sampled_from(["ann", "bob", "cy", "di"]), st.integers(1, 6)),
                       min_size=1, max_size=7),
    "priorities": st.lists(st.sampled_from([0, 0, 5, -3]), max_size=7),
    "po_units": st.integers(0, 8),
    "receipt": st.integers(1, 30),
    "change": st.sampled_from(["receipt", "reprioritization"]),
    "pick": st.integers(0, 6),
    "new_priority": st.integers(-5, 8),
})


async def _example(desk: BackorderDesk, shop: dict[str, Any]) -> None:
    sku = f"PV-{next(_skus)}"
    fair = shop["policy"] is AllocationPolicy.FAIR_SHARE
    await desk.upsert_product(ProductInput(
        sku=sku, name="Preview lamp", price=Decimal("10"), allocation_policy=shop["policy"],
        fair_share_minimum=shop["minimum"] if fair else None, customer_cap_per_receipt=shop["cap"] if fair else None))
    if shop["on_hand"]:
        await desk.receive_stock(sku, shop["on_hand"])
    backorder_ids = []
    for customer, quantity in shop["orders"]:
        placed = await desk.place_order(CustomerDetails(f"{customer}@example.com"), Channel.ONLINE,
                                        [LineRequest(sku, quantity)])
        backorder_ids += [line.backorder_id for line in placed.lines if line.backorder_id]
    for backorder_id, priority in zip(backorder_ids, shop["priorities"], strict=False):
        if priority:
            await desk.reprioritize_backorder(backorder_id, priority, "test", "agent")
    if shop["po_units"]:
        supplier = await desk.upsert_supplier(None, "Acme", 10)
        await desk.create_purchase_order(supplier.id, date(2026, 3, 12), [LineRequest(sku, shop["po_units"])])

    current = await q.backorders_by_id(backorder_ids)
    waiting = {b.id for b in current.values() if b.is_active and b.waiting_quantity > 0}
    target = backorder_ids[shop["pick"] % len(backorder_ids)] if backorder_ids else None
    reprioritize = shop["change"] == "reprioritization" and target in waiting

    before = await snapshot()
    if reprioritize:
        preview = await desk.preview_reprioritization(target, shop["new_priority"], "agent")
    else:
        preview = await desk.preview_receipt(sku, shop["receipt"])
    assert await snapshot() == before, "the preview wrote to the database"
    assert {line.backorder_id for line in preview} == waiting

    if reprioritize:
        await desk.reprioritize_backorder(target, shop["new_priority"], "test", "agent")
    else:
        await desk.receive_stock(sku, shop["receipt"])

    after = await q.backorders_by_id(backorder_ids)
    for line in preview:
        b, old = after[line.backorder_id], current[line.backorder_id]
        real = (b.allocated_quantity - old.allocated_quantity, b.status,
                b.queue_position if b.is_active else None, b.eta if b.is_active else None)
        assert (line.allocated_quantity, line.status, line.queue_position, line.eta) == real, (shop, line)
    assert sum(line.allocated_quantity for line in preview) <= shop["receipt"]


def _explore(desk: BackorderDesk, loop: asyncio.AbstractEventLoop) -> None:
    """Runs in a thread: hypothesis is synchronous; the database lives on the test's loop."""

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(shops)
    def check(shop: dict[str, Any]) -> None:
        asyncio.run_coroutine_threadsafe(_example(desk, shop), loop).result(120)

    check()


async def test_a_preview_is_what_the_receipt_or_reprioritisation_then_does_and_writes_nothing(desk):
    await asyncio.to_thread(_explore, desk, asyncio.get_running_loop())


async def test_a_preview_of_the_worked_example_under_each_policy(desk):
    for policy, expected in [(AllocationPolicy.PRIORITY, [4, 2, 0]), (AllocationPolicy.FAIR_SHARE, [2, 2, 2])]:
        sku = f"PV-{next(_skus)}"
        await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("10"), allocation_policy=policy))
        for name in ("ann", "bob", "cy"):
            await desk.place_order(CustomerDetails(f"{name}@example.com"), Channel.ONLINE, [LineRequest(sku, 4)])
        preview = await desk.preview_receipt(sku, 6)
        assert [line.allocated_quantity for line in preview] == expected
        assert [line.queue_position for line in preview] == ([None, 1, 2] if expected[0] == 4 else [1, 2, 3])
