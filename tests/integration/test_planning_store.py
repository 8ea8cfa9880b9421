"""The planning reads on the real database (SQLite, and PostgreSQL with -m db): units ordered per UTC day, the
facts per SKU read a thousand SKUs at a time with the same answer as all at once, and the KPI history's spans."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.services import LineRequest, ProductInput
from domain.store import planning
from tests.integration.support import LAMP, lamp_shop, order

pytestmark = pytest.mark.db


async def test_units_are_counted_on_the_utc_day_they_were_ordered_with_every_day_present(desk):
    await lamp_shop(desk, on_hand=0, po_units=0)
    desk.clock.set(datetime(2026, 3, 2, 23, 59, tzinfo=UTC))
    await order(desk, "ann@example.com", 2)
    desk.clock.set(datetime(2026, 3, 4, 0, 1, tzinfo=UTC))
    await order(desk, "bob@example.com", 3)
    await order(desk, "cy@example.com", 1)

    demand = await planning.daily_demand([LAMP, "NOPE"], date(2026, 3, 1), date(2026, 3, 5))

    assert demand == {LAMP: [0, 2, 0, 4, 0], "NOPE": [0, 0, 0, 0, 0]}


async def test_a_catalogue_read_in_chunks_gives_what_one_read_gives(desk, monkeypatch):
    shop = await lamp_shop(desk, on_hand=1)
    for n in range(5):
        await desk.upsert_product(ProductInput(sku=f"BULB-{n}", name=f"Bulb {n}", price=Decimal("2.00"),
                                               supplier_id=shop.supplier_id if n % 2 else None))
        if n:
            await desk.receive_stock(f"BULB-{n}", n)
        await order(desk, f"c{n}@example.com", n + 1, sku=f"BULB-{n}")
    await desk.create_purchase_order(shop.supplier_id, date(2026, 3, 20), [LineRequest("BULB-1", 4)])
    await order(desk, "ann@example.com", 3)
    today = desk.clock.today()

    whole = await planning.reorder_facts(today, 30)
    monkeypatch.setattr(planning, "SKUS_PER_READ", 2)
    chunked = await planning.reorder_facts(today, 30)

    assert chunked == whole and len(whole) == 7
    bulb_1 = next(f for f in whole if f.sku == "BULB-1")
    assert (bulb_1.available, bulb_1.on_order, bulb_1.waiting, bulb_1.daily_demand[-1]) == (0, 4, 1, 2)
    assert next(f for f in whole if f.sku == "BULB-0").lead_time.mean_days == 14.0  # no supplier: the default
