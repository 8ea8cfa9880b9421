"""A backorder's `version` counts the changes to the backorder, not to the store's demand index beside it
(`backorders.demand_to`, each waiting one's cumulative demand from its SKU's origin, rewritten for the rows that do not
count from the origin most of the queue keeps: `SkuInventory._index_demand`). A cancel of one unit of the second of
three backorders moves the origin by one for the two behind the first, whose own demand is then rewritten: nothing
of the first changed (its place, ETA, status, units, update time), so neither does its version. Before, every write of
a row bumped it, so two paths leaving the same backorders (the whole queue settled, or the rest loaded behind a
receipt's range, which keeps the stored origin) could differ in it by how their index was kept (review finding 1).
Runs on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from tests import shown_places

SHOWN = ("quantity", "allocated_quantity", "cancelled_quantity", "status", "eta_date", "eta_confidence", "eta_source",
         "queue_position", "allocation_reason", "updated_at", "version")


async def test_a_row_whose_only_change_is_its_demand_index_keeps_its_version(desk: BackorderDesk) -> None:
    supplier = await desk.upsert_supplier(None, "Supplier", 10)
    await desk.upsert_product(ProductInput(sku="LAMP", name="Lamp", price=Decimal("1.00"), supplier_id=supplier.id))
    await desk.create_purchase_order(supplier.id, date(2026, 3, 9), [LineRequest("LAMP", 20)])  # the same ETA for all
    ids = []
    for customer in "abc":
        order = await desk.place_order(CustomerDetails(f"{customer}@example.com"), Channel.ONLINE,
                                       [LineRequest("LAMP", 2)])
        ids.append(order.lines[0].backorder_id)
    before = await shown_places.rows("id", *SHOWN, "demand_to", sku="LAMP")
    await desk.cancel_backorder(ids[1], 1)  # the second waits for 1: the third's demand and the origin move by one
    after = {r["id"]: r for r in await shown_places.rows("id", *SHOWN, "demand_to", sku="LAMP")}
    first = next(r for r in before if r["id"] == ids[0])
    assert after[ids[0]]["demand_to"] != first["demand_to"]  # its demand index rewritten (origin moved)
    assert {c: after[ids[0]][c] for c in SHOWN} == {c: first[c] for c in SHOWN}  # and nothing of it changed
