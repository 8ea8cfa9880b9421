"""The unit of work's SKU lock really is a PostgreSQL row lock held until commit (tortoise silently drops
FOR UPDATE from values()/values_list() queries, which once left writers unserialised)."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest

from domain.bus import InProcessBus
from domain.services import BackorderDesk, ProductInput
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="row locks are the PostgreSQL profile's")


async def test_lock_skus_holds_the_product_rows_until_the_transaction_ends(db_url: str):
    other = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    try:
        async with open_database(db_url):
            desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()))
            for sku in ("A1", "B1"):
                await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
            uow = TortoiseUnitOfWork(InProcessBus())
            async with uow:
                await uow.lock_skus(["B1", "A1"])
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await other.execute("SELECT sku FROM products WHERE sku = 'A1' FOR UPDATE NOWAIT")
                # other SKUs stay free: one hot SKU does not hold up the rest of the catalogue
                await other.execute("SELECT sku FROM products WHERE sku <> 'A1' AND sku <> 'B1' FOR UPDATE NOWAIT")
            await other.execute("SELECT sku FROM products WHERE sku = 'A1' FOR UPDATE NOWAIT")  # released
    finally:
        await other.close()


async def test_a_deadlock_chosen_by_postgresql_is_a_conflict_to_retry(db_url: str):
    # given two transactions that take the same two rows in opposite orders (the use cases never do; a
    # growing lock set, or another tool on the database, might)
    import asyncio

    from domain.errors import Conflict

    async with open_database(db_url):
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()))
        for sku in ("A1", "B1"):
            await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
        both_hold_one = asyncio.Barrier(2)

        async def take(first: str, then: str) -> None:
            uow = TortoiseUnitOfWork(InProcessBus())
            async with uow:
                await uow.lock_skus([first])
                await both_hold_one.wait()
                await uow.lock_skus([then])
                await uow.commit()

        outcomes = await asyncio.gather(take("A1", "B1"), take("B1", "A1"), return_exceptions=True)
    # then PostgreSQL undoes one of them, and that one is a typed conflict, not an unexpected error
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], Conflict), outcomes
    assert "try again" in failed[0].message
