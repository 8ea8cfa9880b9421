"""The loop that serve's in-process worker and `backorder worker` run: it re-projects ETAs that time has
overtaken, and a failed round does not end it."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

from api.app import refresh_etas_forever
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from tests.integration.support import backorder_of
from tests.waiting import eventually


async def test_the_loop_refreshes_stale_etas_and_survives_a_failed_round(desk: BackorderDesk):
    # given a backorder covered by a PO due 11 March, and 13 March has come without it
    supplier = await desk.upsert_supplier(None, "Acme", 14)
    await desk.upsert_product(ProductInput(sku="LAMP", name="Lamp", price=Decimal("9"), supplier_id=supplier.id))
    await desk.create_purchase_order(supplier.id, date(2026, 3, 11), [LineRequest("LAMP", 2)])
    placed = await desk.place_order(CustomerDetails("ann@example.com"), Channel.ONLINE, [LineRequest("LAMP", 2)])
    desk.clock.advance(timedelta(days=11))
    # and a database that fails the first round
    real, rounds = desk.refresh_stale_etas, []

    async def flaky() -> list[str]:
        rounds.append(1)
        if len(rounds) == 1:
            raise ConnectionError("database away")
        return await real()

    desk.refresh_stale_etas = flaky  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop = asyncio.create_task(refresh_etas_forever(desk, stop, 0.05))
    try:
        # when the loop has run a few rounds
        row = await eventually(lambda: backorder_of(placed),
                               lambda r: r.eta_date == date(2026, 3, 13), what="a later round moves the ETA")
    finally:
        stop.set()
        await asyncio.wait_for(loop, 5)  # then it stops when told
    # then the ETA moved to today at the earliest, after the failed round
    assert row.eta_date == date(2026, 3, 13) and len(rounds) >= 2
