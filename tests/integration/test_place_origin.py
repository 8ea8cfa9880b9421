"""Places relative to an origin (issue 15, step 6, migration 0029): a backorder's stored place counts from its SKU's
`products.place_origin`, which a receipt serving the head moves instead of rewriting every row behind it. Whatever
a queue went through (orders, receipts that serve part of its head, as the domain settles the whole queue, from the
head's rows, or recorded as a range folded in later; cancels; agents putting backorders first), every waiting
backorder shows its 1-based rank in queue order (agent priority highest first, then order time, then id by code
point), to the API's readers (`domain.store.queries`, through the seam) and to the domain (the aggregate a writer
loads). Runs on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store import queries, uow
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from tests import shown_places

pytestmark = pytest.mark.db

WAITING = ("WAITING", "PARTIALLY_ALLOCATED")
_examples = itertools.count()
moved: list[int] = []  # each example's last origin: the property means something only if some moved

# a step: what happens, the units (ordered or received), an agent's priority, which backorder (by index)
STEP = st.tuples(st.sampled_from(["order", "order", "order", "receive", "receive", "cancel", "priority", "later"]),
                 st.integers(1, 4), st.sampled_from([0, 3, 7]), st.integers(0, 40))
# how the receipts serve the head: the domain's settle of the whole queue, from the head's rows, or recorded as a
# range that a later writer (or the worker's round) folds in
PATH = st.sampled_from(["whole", "head", "ledger"])


def _by_code_point(text: str) -> bytes:
    return text.encode()


async def _expected(sku: str) -> dict[str, int]:
    """The brute force: each waiting backorder's rank in queue order among the waiting ones, from the rows (a range
    pending is folded first by the caller)."""
    rows = await t.Backorder.filter(sku=sku, status__in=WAITING).values("id", "priority_override", "ordered_at")
    ranked = sorted(rows, key=lambda r: (-r["priority_override"], r["ordered_at"], _by_code_point(r["id"])))
    return {r["id"]: place for place, r in enumerate(ranked, 1)}


async def _step(desk: BackorderDesk, sku: str, ids: list[str], kind: str, units: int, priority: int,
                pick: int) -> None:
    if kind == "order" or not ids:
        order = await desk.place_order(CustomerDetails(f"c{units}@example.com"), Channel.ONLINE,
                                       [LineRequest(sku, units)])
        ids.extend(line.backorder_id for line in order.lines if line.backorder_id)
        return
    chosen = ids[pick % len(ids)]
    with contextlib.suppress(DomainError):  # not waiting any more: refused, nothing changed
        if kind == "receive":
            await desk.receive_stock(sku, units)
        elif kind == "cancel":
            await desk.cancel_backorder(chosen, reason="test")
        elif kind == "priority":
            await desk.reprioritize_backorder(chosen, priority, "test", "agent Sam")
        elif kind == "later":
            desk.clock.advance(timedelta(seconds=units))  # type: ignore[attr-defined]  # the fixture's FixedClock


async def _check(desk: BackorderDesk, steps: list[Any], path: str) -> None:
    sku = f"PLACE{next(_examples)}"
    await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
    ids: list[str] = []
    head_from, ledger_from = shared.SERVE_HEAD_FROM, shared.LEDGER_FROM
    shared.SERVE_HEAD_FROM = 10**9 if path == "whole" else 0
    shared.LEDGER_FROM = 1 if path == "ledger" else 10**9
    try:
        for kind, units, priority, pick in steps:
            await _step(desk, sku, ids, kind, units, priority, pick)
            # as the readers see it after each step: a recorded range may still be pending (the views then)
            expected_now = await _expected_pending(sku)
            assert await _read_places(ids) == expected_now, (steps, path, "readers")
        await desk.fold_pending_serves()
        expected = await _expected(sku)
        assert await _read_places(ids) == expected, (steps, path, "readers")
        async with TortoiseUnitOfWork() as writer:  # the domain's: a writer's aggregate, the whole queue loaded
            await writer.lock_skus([sku])
            inventory = await writer.inventory(sku)
            shown = {b.id: b.queue_position for b in inventory.queue.values() if b.status.value in WAITING}
        assert shown == expected, (steps, path, "domain")
        [origin] = await t.Product.filter(sku=sku).values_list("place_origin", flat=True)
        moved.append(origin)
    finally:
        shared.SERVE_HEAD_FROM, shared.LEDGER_FROM = head_from, ledger_from


async def _expected_pending(sku: str) -> dict[str, int]:
    """`_expected` with any pending range's backorders out of the queue (served whole, as the views show them)."""
    covered: set[str] = set()
    for record in await t.QueueServe.filter(sku=sku).values():
        if record["folded_count"] >= record["served_count"]:
            continue
        rows = await t.Backorder.filter(sku=sku, status__in=WAITING).values("id", "priority_override", "ordered_at")
        ranked = sorted(rows, key=lambda r: (-r["priority_override"], r["ordered_at"], _by_code_point(r["id"])))
        covered |= {r["id"] for r in ranked[:record["served_count"] - record["folded_count"]]}
    expected = await _expected(sku)
    waiting = sorted((place, backorder_id) for backorder_id, place in expected.items() if backorder_id not in covered)
    return {backorder_id: place for place, (_, backorder_id) in enumerate(waiting, 1)}


async def _read_places(ids: list[str]) -> dict[str, int]:
    """The places the API's readers give the waiting ones: the page with its turns, and the loader's."""
    with_turns, _ = await queries.backorders_with_turns(ids)
    by_id = await queries.backorders_by_id(ids)
    assert {k: b.queue_position for k, b in with_turns.items()} == {k: b.queue_position for k, b in by_id.items()}
    return {k: b.queue_position for k, b in by_id.items() if b.status.value in WAITING and b.queue_position}


def _run(check: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """An example of a hypothesis property (run in a thread) awaited on this test's event loop, its database's."""
    loop = asyncio.get_running_loop()

    def run(*args: Any) -> None:
        asyncio.run_coroutine_threadsafe(check(*args), loop).result(600)
    return run


async def test_every_waiting_backorder_shows_its_rank_in_queue_order(desk: BackorderDesk,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the origin moves whenever that spares a row its write (the service: from `uow.ORIGIN_FROM` rows)
    monkeypatch.setattr(uow, "ORIGIN_FROM", 1)
    # a range recorded stays pending until a writer or the worker's round folds it (no fold in the background)
    quiet = BackorderDesk(desk._uow, desk.clock, fold_in_background=False)
    run = _run(lambda steps, path: _check(quiet, steps, path))
    moved.clear()

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(STEP, max_size=14), PATH)
    # three ordered, the first two served whole by one receipt: the origin moves 2, no row behind is written
    @example([("order", 1, 0, 0), ("order", 1, 0, 0), ("order", 2, 0, 0), ("order", 1, 0, 0), ("receive", 3, 0, 0)],
             "whole")
    @example([("order", 1, 0, 0), ("order", 1, 0, 0), ("order", 2, 0, 0), ("order", 1, 0, 0), ("receive", 3, 0, 0)],
             "head")
    @example([("order", 1, 0, 0), ("order", 1, 0, 0), ("order", 2, 0, 0), ("order", 1, 0, 0), ("receive", 3, 0, 0),
              ("order", 1, 0, 0)], "ledger")
    # then the last put first, and the head cancelled: places count from the moved origin
    @example([("order", 1, 0, 0), ("order", 1, 0, 0), ("order", 2, 0, 0), ("order", 1, 0, 0), ("receive", 3, 0, 0),
              ("priority", 1, 7, 3), ("cancel", 1, 0, 2)], "head")
    def check(steps: list[Any], path: str) -> None:
        run(steps, path)

    await asyncio.to_thread(check)
    assert any(moved), "no example moved a SKU's origin"


@pytest.mark.parametrize("path", ["whole", "head"])
@pytest.mark.parametrize(("behind", "moves"), [(2, False), (3, True)])
async def test_the_origin_moves_only_when_that_spares_origin_from_rows_their_write(
        desk: BackorderDesk, monkeypatch: pytest.MonkeyPatch, path: str, behind: int, moves: bool) -> None:
    # given `uow.ORIGIN_FROM` 3 and a queue of one-unit backorders, the first served whole by a receipt of one unit
    monkeypatch.setattr(uow, "ORIGIN_FROM", 3)
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0 if path == "head" else 10**9)  # the path named, forced or not
    await desk.upsert_product(ProductInput(sku="ORG", name="ORG", price=Decimal("1.00")))
    ids = []
    for n in range(1 + behind):
        desk.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]  # the fixture's FixedClock
        order = await desk.place_order(CustomerDetails(f"c{n}@example.com"), Channel.ONLINE, [LineRequest("ORG", 1)])
        ids.append(order.lines[0].backorder_id)
    before = {r["id"]: r["version"] for r in await shown_places.rows("id", "version", sku="ORG")}
    await desk.receive_stock("ORG", 1)
    await desk.folded()  # a range recorded (the ledger on, BACKORDER_TEST_LEDGER=forced) is in the rows once folded
    # then the `behind` rows behind it move up one place: with 3 of them the origin moves one and none is written;
    # with 2 (fewer than ORIGIN_FROM spared) their places are rewritten and the origin stays
    rows = {r["id"]: r for r in await shown_places.rows("id", "queue_position", "version", sku="ORG")}
    assert [rows[i]["queue_position"] for i in ids] == [None, *range(1, 1 + behind)]
    assert (await t.Product.get(sku="ORG")).place_origin == (1 if moves else 0)
    assert [rows[i]["version"] - before[i] for i in ids[1:]] == [0 if moves else 1] * behind
