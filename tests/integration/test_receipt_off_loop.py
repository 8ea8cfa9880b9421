"""A long queue is settled in a worker thread (domain/use_cases/shared.py, `settle_aside`) so the process keeps
serving other requests during a big receipt (issue 15). The thread must change nothing of what the receipt
does: the same queue received inline and in the thread leaves the same backorders, history and events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.bus import InProcessBus
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.use_cases import shared
from tests import shown_places

QUANTITIES = [3, 1, 2, 5, 1, 4, 2]  # 18 units wait; 11 arrive: some filled, one partly, some still waiting


async def _receipt(desk: BackorderDesk, bus: InProcessBus, sku: str) -> tuple[list[Any], list[Any], list[Any]]:
    await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
    for n, quantity in enumerate(QUANTITIES):
        await desk.place_order(CustomerDetails(f"c{n}@example.com"), Channel.ONLINE, [LineRequest(sku, quantity)])
    with bus.subscribe() as stream:
        await desk.receive_stock(sku, 11)
        published = []
        while not stream.queue.empty():
            published.append(stream.queue.get_nowait())
    rows = await shown_places.rows(
        "id", "customer_email", "quantity", "allocated_quantity", "status", "eta_date", "eta_source",
        "queue_position", "allocation_reason", "reserved", order=("ordered_at", "id"), sku=sku)
    place = {row.pop("id"): n for n, row in enumerate(rows)}
    history = sorted((place[h["backorder_id"]], h["id"], h["kind"], h["old_value"], h["new_value"], h["cause"])
                     for h in await t.BackorderHistory.filter(backorder_id__in=list(place)).values(
                         "backorder_id", "id", "kind", "old_value", "new_value", "cause"))
    history = [(n, *rest) for n, _, *rest in history]  # row ids differ between the two SKUs; their order does not
    kinds = [(e.kind, getattr(e, "customer_email", None)) for e in published]
    return rows, history, kinds


async def test_a_long_queue_settled_in_a_thread_is_settled_as_inline(desk: BackorderDesk, bus: InProcessBus,
                                                                     monkeypatch: pytest.MonkeyPatch):
    # the path that loads and settles the whole queue, the one `settle_aside` serves (pinned, so that with the ledger
    # forced on, BACKORDER_TEST_LEDGER=forced, the receipt is not served from the head's rows instead)
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 10**9)
    inline = await _receipt(desk, bus, "INLINE")
    monkeypatch.setattr(shared, "LONG_QUEUE", 1)  # every queue goes to the thread
    threaded = await _receipt(desk, bus, "THREADED")
    assert threaded == inline
    assert [r["status"] for r in inline[0]].count("ALLOCATED") >= 3
