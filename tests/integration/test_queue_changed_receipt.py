"""A receipt serving a long queue commits its allocations, status changes and ETA moves as one QueueChanged
(issue 15): one event-log row, one outbox row per customer, one message on the bus. What it stands for is
what the per-backorder events said: the same receipt committed both ways leaves the same backorders and
history, publishes the same per-backorder events once opened up, and gives each customer's digest the same
changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain import events as ev
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store import notify as store
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared
from notifications.outbox import OutboxRecorder, changes_of
from notifications.settings import NotificationSettings
from tests import shown_places

WAITING = 70  # more than COMPACT_FROM events in a run: each served backorder makes three
CUSTOMERS = 4
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def rows_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """QueueChanged is the form of a receipt that writes its rows: pinned to that path, so that with the ledger forced
    on (BACKORDER_TEST_LEDGER=forced) the receipt does not record its range instead (one QueueServed, the rows
    folded afterwards; its consumers: tests/integration/test_queue_served_consumers.py)."""
    monkeypatch.setattr(shared, "LEDGER_FROM", 10**9)


async def _receipt(desk: BackorderDesk, bus: InProcessBus, clock: FixedClock, sku: str) -> dict[str, Any]:
    clock.set(START)
    await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
    for n in range(WAITING):
        clock.advance(timedelta(seconds=1))
        await desk.place_order(CustomerDetails(f"{sku.lower()}{n % CUSTOMERS}@example.com"), Channel.ONLINE,
                               [LineRequest(sku, 1 + n % 2)])
    logged_before = await t.EventLog.all().count()
    outbox_before = await store.NotificationEvent.all().count()
    with bus.subscribe() as stream:
        await desk.receive_stock(sku, 90)  # most are served whole, one partly, the rest wait on
        published = []
        while not stream.queue.empty():
            published.append(stream.queue.get_nowait())
    rows = await shown_places.rows(
        "id", "quantity", "allocated_quantity", "status", "eta_date", "eta_source", "queue_position",
        "allocation_reason", "reserved", order=("ordered_at", "id"), sku=sku)
    place = {row.pop("id"): n for n, row in enumerate(rows)}
    history = sorted((place[h["backorder_id"]], h["id"], h["kind"], h["old_value"], h["new_value"], h["cause"])
                     for h in await t.BackorderHistory.filter(backorder_id__in=list(place)).values(
                         "backorder_id", "id", "kind", "old_value", "new_value", "cause"))
    outbox = await store.NotificationEvent.all().order_by("id").offset(outbox_before).values(
        "email", "kind", "backorder_id", "order_id", "sku", "occurred_at", "data")
    changes: dict[str, list[tuple[Any, ...]]] = {}
    for row in outbox:
        for c in changes_of(row["kind"], row["backorder_id"], row["order_id"], row["sku"], row["occurred_at"],
                            row["data"]):
            changes.setdefault(row["email"].split("@")[0][-1], []).append(
                (c.kind, place[c.backorder_id], c.occurred_at, c.data))
    opened = [(e.kind, place.get(getattr(e, "backorder_id", ""), None), e.to_dict().get("cause"))
              for e in ev.expand(published)]
    return {"rows": rows, "history": [(n, *rest) for n, _, *rest in history], "published": opened,
            "changes": changes, "logged": await t.EventLog.all().count() - logged_before,
            "outbox rows": len(outbox), "bus messages": len(published)}


async def test_a_long_receipt_is_one_event_that_stands_for_the_per_backorder_ones(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    recorder = OutboxRecorder(NotificationSettings(), clock)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus, before_commit=[recorder]), clock)
    compacted = await _receipt(desk, bus, clock, "LONG")
    monkeypatch.setattr(ev, "COMPACT_FROM", 10**9)  # as before QueueChanged: every event on its own
    apart = await _receipt(desk, bus, clock, "APART")
    # the same receipt: what it left, what it told, what each customer's digest will read
    for key in ("rows", "history", "published", "changes"):
        assert compacted[key] == apart[key], key
    served = sum(1 for r in compacted["rows"] if r["allocated_quantity"])
    assert served > 50 and any(r["status"] == "WAITING" for r in compacted["rows"])
    # committed as: StockReceived and one QueueChanged (event log, bus), one outbox row per customer
    assert (compacted["logged"], compacted["bus messages"], compacted["outbox rows"]) == (2, 2, CUSTOMERS)
    assert apart["logged"] == apart["bus messages"] > 3 * served - 1


async def test_a_long_queue_change_is_logged_in_parts_that_read_back_as_the_whole(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.store import uow

    monkeypatch.setattr(uow, "LOG_PART", 50)  # a 70-backorder receipt's ~150 entries: four rows
    bus = InProcessBus(maxsize=100_000)
    clock = FixedClock(START)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock)
    with bus.subscribe() as stream:
        await _receipt(desk, bus, clock, "PARTS")
        published = [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]
    whole = [e for e in published if isinstance(e, ev.QueueChanged)]
    logged = await t.EventLog.filter(kind="QueueChanged").order_by("id").values_list("payload", flat=True)
    parts = [ev.Event.from_dict(p) for p in logged]
    assert len(whole) == 1 and len(parts) == -(-len(whole[0].entries) // 50) > 1
    assert list(ev.expand(parts)) == whole[0].expand()
