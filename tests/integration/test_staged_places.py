"""A receipt staged a chunk a transaction (`shared.STAGE_CHUNK`, SQLite's receipts for long queues) shows every waiting
backorder its 1-based place in queue order between its chunks too: each chunk serves the head of the queue whole, so
the rows behind it show places as many lower, by the SKU's place origin moving (`products.place_origin`) as after a
whole receipt at the head. Before, a chunk left the origin where it was: between two chunks, and after a crash
between them until the worker's round put the rest away, the first still waiting showed place 2 (after one chunk of
one), the next 3, and so on. Runs on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.use_cases import shared, stock
from tests import shown_places

WAITING = ("WAITING", "PARTIALLY_ALLOCATED")



@pytest.mark.parametrize("chunk", [1, 2])
async def test_the_places_shown_between_a_staged_receipts_chunks_count_from_one(
        desk: BackorderDesk, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)  # the head served from its rows
    monkeypatch.setattr(shared, "STAGE_CHUNK", chunk)  # and staged
    monkeypatch.setattr(shared, "RECORD_STAGED", False)  # staged, not recorded, with the ledger forced on too
    monkeypatch.setattr(shared, "STAGE_ON_EVERY_STORE", True)
    supplier = await desk.upsert_supplier(None, "Supplier", 10)
    await desk.upsert_product(ProductInput(sku="LAMP", name="Lamp", price=Decimal("1.00"), supplier_id=supplier.id))
    await desk.create_purchase_order(supplier.id, date(2026, 3, 9), [LineRequest("LAMP", 3)])
    for customer in "abcdefgh":
        desk.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
        await desk.place_order(CustomerDetails(f"{customer}@example.com"), Channel.ONLINE, [LineRequest("LAMP", 1)])

    async def crashed(*args: Any) -> None:  # the process gone after the receipt's first transaction
        return None

    with monkeypatch.context() as crash:
        crash.setattr(stock, "put_away_after", crashed)
        await desk.receive_stock("LAMP", 5)  # the first chunk served, the rest staged
    waiting = await shown_places.rows("queue_position", "status", order=("ordered_at",), sku="LAMP")
    assert [r["queue_position"] for r in waiting if r["status"] in WAITING] == list(range(1, 9 - chunk))
    await desk.put_away_staged_receipts()  # the worker's round
    waiting = await shown_places.rows("queue_position", "status", order=("ordered_at",), sku="LAMP")
    assert [r["queue_position"] for r in waiting if r["status"] in WAITING] == [1, 2, 3]
