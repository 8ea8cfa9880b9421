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


async def test_outbox_rows_written_before_secrets_were_withheld_keep_none_after_the_migration(empty_url):
    """A sign-in link waiting to go keeps its link's id and is sent with its token made again; a digest sent earlier
    keeps its words without the unsubscribe token; a row with nothing secret is left as it was."""
    from datetime import UTC, datetime, timedelta

    from domain.store import notify
    from domain.store import portal as portal_store

    async with TortoiseContext():
        await tortoise_migrate(config=tortoise_config(empty_url), target="backorder.0024_subscriber_language")
    async with open_database(empty_url, apply_migrations=False):
        now = datetime.now(UTC)
        key = await portal_store.signing_key()
        link = await portal_store.create_link("ann@example.com", None, now, timedelta(minutes=30), "test")
        token = portal_store.link_token(key, link.id, link.expires_at)
        unsubscribe = "EMAIL%3Aann%40example.com%3A5d6a1ef2c2affeef3182a1ecf185c2b8"
        await notify.enqueue(key="link", kind="PORTAL_LINK", channel="EMAIL", recipient="ann@example.com",
                             customer_email="ann@example.com", subject="Your link", now=now,
                             body_text=f"Open http://shop/#token={token}\n",
                             body_html=f'<a href="http://shop/#token={token}">Open</a>',
                             about={"expires_at": link.expires_at.isoformat(), "link": f"http://shop/#token={token}"})
        await notify.enqueue(key="digest", kind="DIGEST", channel="EMAIL", recipient="ann@example.com",
                             customer_email="ann@example.com", subject="Your backorder", now=now,
                             body_text=f"It moved. Stop them: http://shop/unsubscribe?token={unsubscribe}\n",
                             headers={"List-Unsubscribe": f"<http://shop/unsubscribe?token={unsubscribe}>"},
                             about={"digests": ["d1"], "backorders": ["b1"]})
        await notify.enqueue(key="opt-in", kind="SMS_OPT_IN", channel="SMS", recipient="+447700900123",
                             body_text="Reply YES", now=now)

    await migrate(empty_url)

    async with open_database(empty_url, apply_migrations=False):
        rows = {r.kind: r for r in await notify.OutboxMessage.all()}
    kept = str([(r.subject, r.body_text, r.body_html, r.headers, r.about) for r in rows.values()])
    assert token not in kept and unsubscribe not in kept and "5d6a1ef2c2affeef3182a1ecf185c2b8" not in kept
    assert rows["PORTAL_LINK"].about == {"expires_at": link.expires_at.isoformat(), "link_id": link.id}
    assert rows["PORTAL_LINK"].body_text == "Open http://shop/#token=[withheld]\n"
    assert rows["DIGEST"].headers == {"List-Unsubscribe": "<http://shop/unsubscribe?token=[withheld]>"}
    assert rows["DIGEST"].about == {"digests": ["d1"], "backorders": ["b1"]}
    assert rows["SMS_OPT_IN"].body_text == "Reply YES"
