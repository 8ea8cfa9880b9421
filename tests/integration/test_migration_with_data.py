"""Migrations apply to a database that already has rows, not only to an empty one: a NOT NULL column added
without a database default fails on a table with rows (PostgreSQL and SQLite alike), which a test suite that
only ever migrates empty databases never sees."""

from __future__ import annotations

import secrets

import asyncpg
import pytest
from tortoise.context import TortoiseContext
from tortoise.migrations.api.migrate import migrate as tortoise_migrate

from domain.allocation import AllocationPolicy
from domain.store.db import migrate, open_database, tortoise_config
from domain.store.queries import locations, products_by_sku
from domain.store.uow import TortoiseUnitOfWork
from tests.conftest import POSTGRES_URL, _drop, _dsn, _with_db

pytestmark = pytest.mark.db


@pytest.fixture
async def empty_url(tmp_path):
    """A database with nothing in it, not even migrations: a SQLite file, or a new PostgreSQL database."""
    if not POSTGRES_URL:
        yield f"sqlite://{tmp_path / 'old.db'}"
        return
    name = f"bd_mig_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_dsn(POSTGRES_URL))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_db(POSTGRES_URL, name)
    await _drop(_with_db(POSTGRES_URL, name))


async def test_products_created_before_allocation_policies_allocate_by_priority(empty_url):
    async with TortoiseContext():
        await tortoise_migrate(config=tortoise_config(empty_url), target="backorder.0007_webhooks")
    async with open_database(empty_url, apply_migrations=False) as ctx:
        await ctx.db().execute_script(
            "INSERT INTO products (sku, name, price, currency, backorder_policy, substitutes, version, created_at, "
            "updated_at) VALUES ('OLD-1', 'Old lamp', 9.5, 'EUR', 'ALLOW', '[]', 1, CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)")

    await migrate(empty_url)

    async with open_database(empty_url, apply_migrations=False):
        async with TortoiseUnitOfWork() as uow:
            product = await uow.get_product("OLD-1")
        read = (await products_by_sku(["OLD-1"]))["OLD-1"]
    assert product is not None
    for p in (product, read):
        assert (p.allocation_policy, p.fair_share_minimum, p.customer_cap_per_receipt) == (
            AllocationPolicy.PRIORITY, None, None)


async def test_locations_already_in_use_are_known_after_the_migration_that_made_locations_a_table(empty_url):
    """Stock and purchase orders at a location from before locations were a table keep working: the migration set
    up MAIN and every location in use, so receiving there is not refused as UNKNOWN_LOCATION."""
    async with TortoiseContext():
        await tortoise_migrate(config=tortoise_config(empty_url), target="backorder.0009_queue_tail")
    async with open_database(empty_url, apply_migrations=False) as ctx:
        await ctx.db().execute_script(
            "INSERT INTO suppliers (id, name, lead_time_days, deliveries_on_time, deliveries_late, created_at) "
            "VALUES ('S1', 'Acme', 14, 0, 0, CURRENT_TIMESTAMP);"
            "INSERT INTO stock_levels (sku, location, on_hand, allocated, safety_stock) VALUES ('OLD-1', 'STORE1', 2, "
            "0, 0);"
            "INSERT INTO purchase_orders (id, number, supplier_id, expected_date, status, location, created_at, "
            "updated_at) VALUES ('P1', 'PO-OLD', 'S1', '2026-03-11', 'OPEN', 'DOCK-2', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)")

    await migrate(empty_url)

    async with open_database(empty_url, apply_migrations=False):
        assert [location.code for location in await locations()] == ["DOCK-2", "MAIN", "STORE1"]
        async with TortoiseUnitOfWork() as uow:
            assert await uow.get_location("NOWHERE") is None
