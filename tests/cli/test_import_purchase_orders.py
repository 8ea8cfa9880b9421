"""`backorder import purchase-orders FILE` as a real subprocess: a shop's PO history imported (received lines
become the suppliers' delivery record, open ones inbound supply); a bad row is named by its line and nothing
is written."""

from __future__ import annotations

from decimal import Decimal

from domain.bus import InProcessBus
from domain.services import BackorderDesk, ProductInput
from domain.store import models as t
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork
from tests.cli.test_cli import run

HEADER = "number,supplier,sku,quantity,expected_date,received_date\n"


async def _shop(db_url: str) -> None:
    async with open_database(db_url, apply_migrations=False):
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()))
        supplier = await desk.upsert_supplier(None, "Lumen Ltd", 14)
        for sku in ("LAMP", "BULB"):
            await desk.upsert_product(ProductInput(sku=sku, name=sku.title(), price=Decimal("5.00"),
                                                   supplier_id=supplier.id))


async def test_history_and_open_purchase_orders_are_imported(db_url, tmp_path):
    await _shop(db_url)
    path = tmp_path / "pos.csv"
    path.write_text(HEADER + "PO-100,Lumen Ltd,LAMP,10,2025-10-01,2025-10-04\n"
                    "PO-100,Lumen Ltd,bulb,5,2025-10-01,2025-10-06\n"
                    "PO-101,Lumen Ltd,LAMP,8,2025-11-01,\n")

    result = run(db_url, "import", "purchase-orders", str(path))

    assert result.returncode == 0, result.stderr
    assert "2 purchase orders imported: 2 lines received, 1 still open" in result.stdout
    async with open_database(db_url, apply_migrations=False):
        statuses = dict(await t.PurchaseOrder.all().values_list("number", "status"))
        assert statuses == {"PO-100": "RECEIVED", "PO-101": "OPEN"}
        delays = sorted(await t.SupplierDelivery.all().values_list("sku", "delay_days", "quantity"))
        assert delays == [("BULB", 5, 5), ("LAMP", 3, 10)]
        assert await t.StockLevel.all().count() == 0  # received long ago: today's stock is counted apart


async def test_a_bad_row_is_named_by_its_line_and_nothing_is_written(db_url, tmp_path):
    await _shop(db_url)
    for rows, said in [
        ("PO-1,Lumen Ltd,LAMP,10,2025-10-01,\nPO-2,Lumen Ltd,LAMP,ten,2025-10-01,\n",
         "line 3: quantity 'ten' is not a whole number"),
        ("PO-1,Lumen Ltd,LAMP,10,2025-10-01,\nPO-2,Lumen Ltd,LAMP,1,01/10/2025,\n",
         "line 3: expected_date '01/10/2025' is not an ISO date (YYYY-MM-DD)"),
        ("PO-1,Lumen Ltd,LAMP,10,2025-10-01,\nPO-2,Nobody,LAMP,1,2025-10-01,\n",
         "line 3: supplier 'Nobody' does not exist"),
        ("PO-1,Lumen Ltd,LAMP,10,2025-10-01,\nPO-1,Lumen Ltd,GHOST,1,2025-10-01,\n",
         "line 3: product 'GHOST' does not exist"),
        ("PO-1,Lumen Ltd,LAMP,10,2025-10-01,\nPO-2,Lumen Ltd,LAMP,1,2025-10-01,2024-10-01\n",
         "line 3: received 2024-10-01, 365 days before it was expected (2025-10-01): a delivery comes at most "
         "90 days early; check both dates"),
    ]:
        path = tmp_path / "bad.csv"
        path.write_text(HEADER + rows)
        result = run(db_url, "import", "purchase-orders", str(path))
        assert result.returncode == 1, result.stdout
        assert said in result.stderr and "nothing imported" in result.stderr, result.stderr
    missing = tmp_path / "missing.csv"
    missing.write_text("number,supplier,sku\nPO-1,Lumen Ltd,LAMP\n")
    result = run(db_url, "import", "purchase-orders", str(missing))
    assert result.returncode == 1 and "missing column(s) quantity, expected_date, received_date" in result.stderr
    async with open_database(db_url, apply_migrations=False):
        assert await t.PurchaseOrder.all().count() == 0
        assert await t.SupplierDelivery.all().count() == 0
