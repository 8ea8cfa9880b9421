"""A receipt recorded as the range it served (one `QueueServed`, issue 15) tells its consumers what the per-backorder
events told them (today's `QueueChanged`): for the same drawn queue and receipt, committed once each way, each
customer's digest reads the same changes from the outbox, the webhook endpoint gets the same deliveries (one per
backorder event), the metrics count the same backorders served, and the live hub reads the same events for each
customer's watchers and for staff, whether it reads before the range is folded into the rows, while the fold is
under way, or after. Runs on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.metrics import BACKORDERS_SERVED, ReceiptMetrics
from domain import events as ev
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.errors import InvalidInput
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store import notify
from domain.store import webhooks as hooks
from domain.store.served_ranges import StoredServedRanges
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from notifications.outbound_webhooks import EVENT_TYPES, WebhookRecorder
from notifications.outbox import OutboxRecorder, changes_of
from notifications.settings import NotificationSettings

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CUSTOMERS = ("a@example.com", "b@example.com", "c@example.com")
_skus = itertools.count()

queues = st.lists(st.tuples(st.integers(1, 4),  # units ordered
                            st.sampled_from([0, 0, 0, 7, -2]),  # an agent's priority
                            st.sampled_from(CUSTOMERS),
                            st.sampled_from([None, None, 8, 40])),  # "cancel if not by", days from now
                  min_size=1, max_size=9)


def _told(events: list[ev.BackorderEvent], place: dict[str, int]) -> dict[int, list[dict[str, Any]]]:
    """Each backorder's events in order (backorders by their place in the queue; ids and the SKU left out)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        data = e.to_dict()
        for key in ("backorder_id", "order_id", "sku"):
            data.pop(key)
        out.setdefault(place[e.backorder_id], []).append(data)
    return out


async def _hub_reads(published: list[ev.Event], place: dict[str, int]) -> dict[str, Any]:
    """What the live hub reads for staff and for each customer's watchers: a QueueChanged opened, a QueueServed read
    back through the port (one read for all of a customer's backorders)."""
    out: dict[str, Any] = {}
    for who in ("staff", *CUSTOMERS):
        wanted = None if who == "staff" else {who}
        told: list[ev.BackorderEvent] = []
        for e in published:
            if isinstance(e, ev.QueueServed):
                told += await StoredServedRanges().backorder_events(e, wanted)
            elif isinstance(e, ev.QueueChanged):
                told += [b for b in e.expand() if wanted is None or b.customer_email in wanted]
            elif isinstance(e, ev.BackorderAllocated | ev.BackorderStatusChanged | ev.EtaChanged):
                if wanted is None or e.customer_email in wanted:
                    told.append(e)
        out[who] = _told([e for e in told if e.backorder_id in place], place)
    return out


async def _scenario(desk: BackorderDesk, bus: InProcessBus, clock: FixedClock, sku: str, queue: list[Any],
                    first: int, received: int, ranged: bool) -> dict[str, Any]:
    clock.set(START)
    await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("1.00")))
    ids = []
    for units, priority, customer, not_by in queue:
        clock.advance(timedelta(seconds=1))
        order = await desk.place_order(CustomerDetails(customer), Channel.ONLINE, [LineRequest(sku, units)])
        backorder_id = order.lines[0].backorder_id
        assert backorder_id is not None
        ids.append(backorder_id)
        if priority:
            await desk.reprioritize_backorder(backorder_id, priority, "test", "agent Sam")
        if not_by is not None:
            with contextlib.suppress(InvalidInput):
                await desk.set_backorder_preferences(backorder_id,
                                                     cancel_if_not_by=START.date() + timedelta(days=not_by))
    if first:  # some served before, so that partly allocated backorders wait too
        await desk.receive_stock(sku, first)
        await desk.fold_pending_serves()
    clock.advance(timedelta(days=1))
    place = {backorder_id: n for n, backorder_id in enumerate(ids)}
    outbox_before = await notify.NotificationEvent.all().order_by("-id").first()
    deliveries_before = await hooks.WebhookDelivery.all().count()
    served_before = BACKORDERS_SERVED._sum.get()
    records_before = await t.QueueServe.filter(sku=sku).count()
    with bus.subscribe() as stream:
        await desk.receive_stock(sku, received)
        published = [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]
    served = BACKORDERS_SERVED._sum.get() - served_before
    # a range recorded: one QueueServed told, and none of the per-backorder events of those it served whole
    recorded = await t.QueueServe.filter(sku=sku).count() - records_before
    assert sum(isinstance(e, ev.QueueServed) for e in published) == recorded <= int(ranged)
    # the hub, reading after the commit: before the fold, after one backorder of it, after all of it
    hub = [await _hub_reads(published, place)]
    async with desk._uow() as uow:
        await uow.fold_serves(sku, 1)
        await uow.commit()
    hub.append(await _hub_reads(published, place))
    await desk.fold_pending_serves()
    hub.append(await _hub_reads(published, place))
    # each customer's digest: the changes their outbox rows stand for
    rows = await notify.NotificationEvent.filter(
        sku=sku, id__gt=outbox_before.id if outbox_before else 0).order_by("id").values(
        "email", "kind", "backorder_id", "order_id", "sku", "occurred_at", "data")
    digests: dict[str, dict[int, list[tuple[Any, ...]]]] = {}
    for row in rows:
        for c in changes_of(row["kind"], row["backorder_id"], row["order_id"], row["sku"], row["occurred_at"],
                            row["data"]):
            digests.setdefault(row["email"], {}).setdefault(place[c.backorder_id], []).append(
                (c.kind, str(c.occurred_at), c.data))
    # the webhook endpoint: one delivery per backorder event
    webhooks: dict[int, list[tuple[str, Any]]] = {}
    for kind, body in await hooks.WebhookDelivery.all().order_by("created_at", "id").offset(
            deliveries_before).values_list("event_type", "body"):
        data = json.loads(body)["data"]
        if data.get("sku") != sku or "backorderId" not in data:
            continue
        n = place[data.pop("backorderId")]
        data.pop("orderId"), data.pop("sku")
        webhooks.setdefault(n, []).append((kind, data))
    # deliveries are not ordered among themselves (ids are random, a receipt's share one time): compared as sets
    return {"hub": hub, "digests": digests, "served": served,
            "webhooks": {n: sorted(json.dumps(d, sort_keys=True) for d in told) for n, told in webhooks.items()}}


async def _example(desk: BackorderDesk, bus: InProcessBus, clock: FixedClock, queue: list[Any], first: int,
                   received: int) -> None:
    n = next(_skus)
    shared.SERVE_HEAD_FROM = 0  # the head served from its rows, whenever the receipt allows it
    shared.LEDGER_FROM, ev.COMPACT_FROM = 10**9, 1  # today's: the per-backorder events, as one QueueChanged
    changed = await _scenario(desk, bus, clock, f"CHANGED{n}", queue, first, received, False)
    shared.LEDGER_FROM, ev.COMPACT_FROM = 1, 64  # what it serves whole recorded as a range: one QueueServed
    ranged = await _scenario(desk, bus, clock, f"RANGED{n}", queue, first, received, True)
    for when in range(3):
        assert ranged["hub"][when] == changed["hub"][when], ("before the fold", "during", "after")[when]
    assert ranged["digests"] == changed["digests"]
    assert ranged["webhooks"] == changed["webhooks"]
    assert ranged["served"] == changed["served"]


async def test_what_consumers_derive_from_a_range_is_what_the_per_backorder_events_told(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SERVE_HEAD_FROM", "LEDGER_FROM", "STAGE_CHUNK"):
        monkeypatch.setattr(shared, name, getattr(shared, name))  # restored afterwards
    monkeypatch.setattr(ev, "COMPACT_FROM", ev.COMPACT_FROM)
    shared.STAGE_CHUNK = 10**9  # in one transaction on SQLite too
    await hooks.create_endpoint("https://hooks.example.com/in", EVENT_TYPES, "all", START)
    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    settings_ = NotificationSettings()
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus, before_commit=[
        OutboxRecorder(settings_, clock), WebhookRecorder(clock), ReceiptMetrics()]), clock, fold_in_background=False)
    recorded: list[int] = []
    record_serve = TortoiseUnitOfWork.record_serve

    async def counted(self: TortoiseUnitOfWork, record: Any) -> int:
        recorded.append(record.count)
        return await record_serve(self, record)

    monkeypatch.setattr(TortoiseUnitOfWork, "record_serve", counted)
    loop = asyncio.get_running_loop()

    def explore() -> None:  # in a thread: hypothesis is synchronous, the database lives on the test's loop
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(queues, st.integers(0, 5), st.integers(1, 30))
        def check(queue: list[Any], first: int, received: int) -> None:
            asyncio.run_coroutine_threadsafe(_example(desk, bus, clock, queue, first, received), loop).result(300)

        check()

    await asyncio.to_thread(explore)
    assert recorded and max(recorded) > 1  # ranges were recorded, some of several backorders


async def test_a_range_recorded_beside_another_sku_staged_is_counted_once_the_receipt_is_put_away(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a purchase order for two SKUs: HEAD's two waiting are served whole by it and recorded as a range, and
    # LONG's four reach past a chunk of two, so its units are staged and put away a chunk a transaction after it
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 2)
    monkeypatch.setattr(shared, "STAGE_ON_EVERY_STORE", True)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus(), before_commit=[ReceiptMetrics()]), clock,
                         fold_in_background=False)
    supplier = await desk.upsert_supplier(None, "Supplier", 10)
    for sku, waiting in (("HEAD", 2), ("LONG", 4)):
        await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00"), supplier_id=supplier.id))
        for n in range(waiting):
            clock.advance(timedelta(seconds=1))
            await desk.place_order(CustomerDetails(CUSTOMERS[n % 3]), Channel.ONLINE, [LineRequest(sku, 1)])
    po = await desk.create_purchase_order(supplier.id, START.date() + timedelta(days=9),
                                          [LineRequest("HEAD", 2), LineRequest("LONG", 4)], number="PO-TWO")
    served_before, observed_before = BACKORDERS_SERVED._sum.get(), _observed()
    # when it is received
    await desk.receive_purchase_order(po.id)
    # then the receipt is observed once, counting the six it served: the range's two and the four put away
    assert await t.QueueServe.filter(sku="HEAD").count() == 1 and not await t.StagedReceipt.all().count()
    assert _observed() - observed_before == 1
    assert BACKORDERS_SERVED._sum.get() - served_before == 6


def _observed() -> float:
    """How many receipts the metric has observed in this process."""
    return sum(sample.value for metric in BACKORDERS_SERVED.collect() for sample in metric.samples
               if sample.name.endswith("_count"))
