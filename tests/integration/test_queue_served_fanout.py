"""A receipt recorded as the range it served (one `QueueServed`, issue 15) is told to the outbox and the webhooks after
its commit, by a fan-out in a transaction of its own that marks the range told (`TortoiseUnitOfWork.tell_served`):
the receipt's own transaction writes none of the range's customer parts or deliveries; a fan-out that fails midway
leaves nothing and the range untold, and the next one (the worker's round, start-up) tells it exactly once; two
fan-outs at once on PostgreSQL tell it once. Runs on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on PostgreSQL
(the concurrent fan-outs there only: SQLite's one writer never runs two)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.app import refresh_etas_forever
from domain import events as ev
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store import notify
from domain.store import webhooks as hooks
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from notifications.outbound_webhooks import EVENT_TYPES, WebhookRecorder
from notifications.outbox import OutboxRecorder
from notifications.settings import NotificationSettings
from tests.waiting import eventually

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CUSTOMERS = ("a@example.com", "b@example.com", "c@example.com")


@pytest.fixture
async def desk(db: str, monkeypatch: pytest.MonkeyPatch) -> BackorderDesk:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)  # the head served from its rows
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)  # and recorded as a range
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)  # in one transaction on SQLite too
    await hooks.create_endpoint("https://hooks.example.com/in", EVENT_TYPES, "all", START)
    clock = FixedClock(START)
    settings = NotificationSettings()
    return BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus(), before_commit=[
        OutboxRecorder(settings, clock), WebhookRecorder(clock)]), clock, fold_in_background=False)


async def _received(desk: BackorderDesk, sku: str = "LAMP", backorders: int = 6) -> dict[str, Any]:
    """`backorders` one-unit backorders of three customers, then a receipt that serves them all: one range. Returns
    what the outbox and the webhooks held of it before the receipt."""
    await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("1.00")))
    for n in range(backorders):
        desk.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
        await desk.place_order(CustomerDetails(CUSTOMERS[n % 3]), Channel.ONLINE, [LineRequest(sku, 1)])
    await notify.Digest.all().delete()  # those the orders opened: a digest the range opens is then seen
    before = await _told()
    await desk.receive_stock(sku, backorders)
    [(told,)] = await t.QueueServe.filter(sku=sku).values_list("told")
    assert not told
    return before


async def _told() -> dict[str, Any]:
    """What the outbox and the webhooks hold of the receipt's allocations: customers' parts, digests, deliveries."""
    parts = await notify.NotificationEvent.filter(kind__in=("BackorderAllocated", ev.QueueChanged.kind)).values_list(
        "email", "kind")
    deliveries = await hooks.WebhookDelivery.filter(event_type="backorder.allocated").count()
    digests = await notify.Digest.all().count()
    told = await t.QueueServe.filter(told=True).count()
    return {"parts": sorted(parts), "deliveries": deliveries, "digests": digests, "told": told}


async def test_the_receipt_leaves_the_range_to_its_fan_out_which_tells_it_once(desk: BackorderDesk) -> None:
    before = await _received(desk)
    # the receipt's own transaction wrote no part of the range for the outbox or the webhooks
    assert await _told() == before
    assert await desk.tell_pending_serves() == 1
    after = await _told()
    assert {email for email, _ in after["parts"]} == set(CUSTOMERS)
    assert after["deliveries"] == 6 and after["told"] == 1 and after["digests"] == len(CUSTOMERS)
    assert await desk.tell_pending_serves() == 0  # told: not again
    assert await _told() == after


async def test_a_fan_out_that_fails_midway_leaves_nothing_and_the_next_round_tells_once(
        desk: BackorderDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    untold = await _received(desk)
    assert await _told() == untold

    async def fails(self: WebhookRecorder, conn: Any, served: ev.QueueServed, covered: Any = None) -> None:
        raise RuntimeError("the fan-out's webhooks fail after the outbox wrote its part")

    fan_out = WebhookRecorder.fan_out
    monkeypatch.setattr(WebhookRecorder, "fan_out", fails)
    with pytest.raises(RuntimeError, match="fan-out's webhooks fail"):
        await desk.tell_pending_serves()
    assert await _told() == untold  # rolled back whole: no customer part, no digest, still untold
    monkeypatch.setattr(WebhookRecorder, "fan_out", fan_out)
    # the worker's round (and start-up) tells what a failure or a crash left untold, before it folds
    await desk.fold_pending_serves()
    after = await _told()
    assert {email for email, _ in after["parts"]} == set(CUSTOMERS)
    assert after["deliveries"] == 6 and after["told"] == 1
    await desk.fold_pending_serves()
    assert await _told() == after


async def test_a_range_a_crash_left_untold_and_unfolded_is_told_and_folded_at_start_up(desk: BackorderDesk) -> None:
    # given a receipt committed as a range and nothing after it (no background fan-out or fold: as a crash leaves it)
    await _received(desk)
    # when serve or the worker starts: its round's first pass
    stop = asyncio.Event()
    loop = asyncio.create_task(refresh_etas_forever(desk, stop, 3600))
    try:
        await eventually(lambda: t.QueueServe.filter(told=True, folded_count=6).count(), lambda n: n == 1,
                         what="the untold range told and folded at start-up")
    finally:
        stop.set()
        await asyncio.wait_for(loop, 60)
    told = await _told()  # read once the round is over (SQLite's one connection reads a transaction's writes)
    assert {email for email, _ in told["parts"]} == set(CUSTOMERS) and told["deliveries"] == 6


async def test_two_fan_outs_at_once_tell_a_range_once(desk: BackorderDesk, db: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    if not db.startswith("postgres"):
        pytest.skip("SQLite has one writer: two fan-outs never run at once")
    await _received(desk)
    inside, release = asyncio.Event(), asyncio.Event()
    fan_out = OutboxRecorder.fan_out

    async def held(self: OutboxRecorder, conn: Any, served: ev.QueueServed, covered: Any = None) -> None:
        if not inside.is_set():  # the first fan-out holds its claim, before it writes, while the second looks
            inside.set()
            await release.wait()
        await fan_out(self, conn, served, covered)

    monkeypatch.setattr(OutboxRecorder, "fan_out", held)
    first = asyncio.create_task(desk.tell_pending_serves())
    try:
        await asyncio.wait_for(inside.wait(), 60)
        second = await desk.tell_pending_serves()  # the range is being told: skipped, not waited for
    finally:
        release.set()
    assert (await first, second) == (1, 0)
    after = await _told()
    assert after["deliveries"] == 6 and after["told"] == 1
    assert len(after["parts"]) == len(set(after["parts"])) == len(CUSTOMERS)


async def test_a_desk_without_the_fan_out_hooks_leaves_the_ranges_to_the_service(desk: BackorderDesk) -> None:
    # given: the service's receipt recorded a range, not yet told (its background fan-out has not run yet)
    untold = await _received(desk)
    # when: a desk without the outbox and webhook hooks (as the CLI builds its own) runs its round: it tells first
    bare = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), desk.clock, fold_in_background=False)
    assert await bare.tell_pending_serves() == 0
    await bare.fold_pending_serves()
    # then: the range is still the service's to tell (marked told by that desk, nobody would ever tell it)
    assert await _told() == untold
    assert await desk.tell_pending_serves() == 1
    after = await _told()
    assert {email for email, _ in after["parts"]} == set(CUSTOMERS) and after["deliveries"] == 6


async def test_a_range_that_cannot_be_told_does_not_hold_back_the_ranges_after_it(
        desk: BackorderDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    await _received(desk, "OLD", 3)
    await _received(desk, "NEW", 3)
    fan_out = WebhookRecorder.fan_out

    async def fails_for_old(self: WebhookRecorder, conn: Any, served: ev.QueueServed, covered: Any = None) -> None:
        if served.sku == "OLD":
            raise RuntimeError("OLD's webhooks cannot be written")
        await fan_out(self, conn, served, covered)

    monkeypatch.setattr(WebhookRecorder, "fan_out", fails_for_old)
    with pytest.raises(RuntimeError, match="OLD's webhooks"):  # said, once the others are told
        await desk.tell_pending_serves()
    assert await t.QueueServe.filter(sku="NEW", told=True).count() == 1  # told though the older range failed
    assert await t.QueueServe.filter(sku="OLD", told=True).count() == 0  # left, whole, for the next round
    monkeypatch.setattr(WebhookRecorder, "fan_out", fan_out)
    assert await desk.tell_pending_serves() == 1
    assert await t.QueueServe.filter(told=False).count() == 0


async def test_the_round_logs_a_range_it_cannot_tell_once_with_its_cause(
        desk: BackorderDesk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    await _received(desk, "OLD", 3)

    async def fails(self: WebhookRecorder, conn: Any, served: ev.QueueServed, covered: Any = None) -> None:
        raise RuntimeError("OLD's webhooks cannot be written")

    monkeypatch.setattr(WebhookRecorder, "fan_out", fails)
    caplog.set_level(logging.WARNING)
    await desk.fold_pending_serves()  # the worker's round: tells (fails, logged), then folds; does not raise
    tracebacks = [r for r in caplog.records if r.exc_info and "OLD's webhooks" in str(r.exc_info[1])]
    assert len(tracebacks) == 1, [r.getMessage() for r in caplog.records]  # once, where it failed
    assert any("1 receipt range(s) left untold" in r.getMessage() for r in caplog.records)  # and summed up
    assert await t.QueueServe.filter(sku="OLD", told=False).count() == 1


async def test_a_range_recorded_by_a_process_without_the_fan_out_is_not_told_again(desk: BackorderDesk) -> None:
    # a process from before migration 0028 records no first key, and its receipt told the range itself
    await _received(desk, "OLD", 3)
    await t.QueueServe.filter(sku="OLD").update(first_id=None, first_priority=None, first_ordered_at=None)
    before = await _told()
    await _received(desk, "NEW", 3)
    assert await desk.tell_pending_serves() == 1  # NEW's; OLD's marked told without telling it again
    assert await t.QueueServe.filter(told=False).count() == 0
    after = await _told()
    assert after["deliveries"] - before["deliveries"] == 3  # NEW's three allocations only
