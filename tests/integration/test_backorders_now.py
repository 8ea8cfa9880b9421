"""The views readers read (migration 0026, `domain.store.current`) show every column of the tables they stand for:
a migration that adds a column to `backorders` or `backorder_history` must recreate them, or readers would not
see it (or, on SQLite, a view naming the table's columns by `*` would break its UNION). Runs on SQLite and, with
BACKORDER_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t

pytestmark = pytest.mark.db


async def _columns(table: str) -> list[str]:
    rows = await t.Order._meta.db.execute_query_dict(f"SELECT * FROM {table}")
    assert rows, table
    return list(rows[0])


async def test_the_views_show_every_column_of_their_tables(desk: BackorderDesk) -> None:
    # given a backorder and its history
    await desk.upsert_product(ProductInput(sku="LAMP", name="Lamp", price=Decimal("1.00")))
    await desk.place_order(CustomerDetails("ann@example.com"), Channel.ONLINE, [LineRequest("LAMP", 2)])
    # then the views have the tables' columns
    expected: dict[str, Any] = {'"backorders_now"': '"backorders"', '"backorder_history_now"': '"backorder_history"',
                                '"backorders_placed"': '"backorders"'}  # the table with its places shown (0029)
    for view, table in expected.items():
        assert sorted(await _columns(view)) == sorted(await _columns(table)), view
