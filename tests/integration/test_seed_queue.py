"""The benches' and the long-queue tests' seeding (`bench.allocation.seed_queue`) writes, by the database, the rows
the ORM would write backorder by backorder: every column, the same stored form (SQLite keeps times as text, and the
queue's reads compare them as text), on either dialect."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bench.allocation import _seeded, seed_queue
from domain.store import models as t


async def _rows(sku: str) -> list[dict[str, Any]]:
    # as stored: the raw rows, not the ORM's values made from them
    db = t.Backorder._meta.db
    marks = "$1" if db.capabilities.dialect == "postgres" else "?"
    rows = await db.execute_query_dict(f'SELECT * FROM "backorders" WHERE "sku" = {marks} ORDER BY "id"', [sku])
    return [{**row, "id": row["id"][len(sku):], "sku": None} for row in rows]


async def test_the_seeded_queue_is_what_the_orm_writes_row_by_row(db: str) -> None:
    for sku in ("SEEDED", "BYORM"):
        await t.Product.create(sku=sku, name=sku, price=Decimal("1.00"), currency="EUR")
    await seed_queue("SEEDED", 12, customers=5)
    for n in range(12):
        await t.Backorder.create(**{**_seeded("BYORM", n, 5), "id": f"BYORM{n:016d}"})

    seeded, by_orm = await _rows("SEEDED"), await _rows("BYORM")
    assert seeded == by_orm
    assert [row["customer_email"] for row in seeded][:6] == [f"c{n % 5}@example.com" for n in range(6)]
    assert (await t.Product.get(sku="SEEDED")).waiting_count == 12


async def test_seeding_one_or_none(db: str) -> None:
    await t.Product.create(sku="ONE", name="ONE", price=Decimal("1.00"), currency="EUR")
    await seed_queue("ONE", 0)
    assert not await t.Backorder.filter(sku="ONE").exists()
    await seed_queue("ONE", 1)
    assert await t.Backorder.filter(sku="ONE").count() == 1
