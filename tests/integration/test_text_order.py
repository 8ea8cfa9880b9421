"""Text keys come back in code point order (Python's `sorted`) on both dialects, whatever the database's collation
(domain/store/ordering.py): on PostgreSQL the test makes its own database with ICU's English collation, as a server
set up for a language would have it, where "b2" sorts before "C3" and "_" before the letters; SQLite compares bytes.

The keys here differ between those collations: ids that differ in case (made so on purpose: `new_id` makes lower-case
hex, which every collation orders alike, but the store must not depend on it), location codes and SKUs with "_" and
"-". Each statement that orders by such a key is read against `sorted`.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

import domain.model.inventory as inventory_module
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.preferences import SubstituteConsent
from domain.services import BackorderDesk, ProductInput
from domain.store import models as t
from domain.store import queries as q
from domain.store.db import migrate, open_database
from domain.store.uow import TortoiseUnitOfWork
from tests import shown_places
from tests.conftest import POSTGRES_URL, _dsn, _with_db, fresh_database
from tests.integration.support import LAMP, backorder_of, lamp_shop, order

# code point order: "A1" < "C3" < "a0" < "b2"; ICU English: "a0" < "A1" < "b2" < "C3" (first and last differ)
IDS = ["b2", "A1", "C3", "a0"]
CODES = ["A_1", "AB", "A1", "A-2", "A.3"]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.db


@pytest.fixture
async def collated_db(tmp_path, tmp_path_factory) -> AsyncIterator[str]:
    """A migrated database: SQLite as usual; on PostgreSQL one created with ICU's "en" collation."""
    if not POSTGRES_URL:
        async with fresh_database(tmp_path, tmp_path_factory) as url, open_database(url, apply_migrations=False):
            yield url
        return
    name = f"bd_icu_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_dsn(POSTGRES_URL))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' '
                            "LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'")
        url = _with_db(POSTGRES_URL, name)
        await migrate(url)
        async with open_database(url, apply_migrations=False):
            collation = await t.Product._meta.db.execute_query_dict("SELECT 'b2' < 'C3' AS b_first")
            assert collation[0]["b_first"], "the database should order by English rules, not bytes"
            yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def desk(collated_db: str) -> BackorderDesk:
    return BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(NOW))


@pytest.fixture
def crafted_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """New backorders get the ids of IDS, in that order."""
    ids = iter(IDS)
    made = inventory_module.new_id
    monkeypatch.setattr(inventory_module, "new_id", lambda: next(ids, None) or made())
    yield


async def _equal_queue(desk: BackorderDesk) -> list[str]:
    """Backorders of the lamp ordered at one moment (the fixed clock) and equal priority, only their ids differing:
    the queue's order between them is their ids'."""
    await lamp_shop(desk, on_hand=0, po_units=0, alt_on_hand=0)
    ids = []
    for n in range(len(IDS)):
        ids.append((await backorder_of(await order(desk, f"c{n}@example.com", 1))).id)
    assert ids == IDS
    return ids


@pytest.mark.usefixtures("crafted_ids")
async def test_a_queue_of_equal_order_times_is_read_in_the_domain_s_order(desk: BackorderDesk):
    ids = await _equal_queue(desk)
    expected = sorted(ids)
    async with TortoiseUnitOfWork() as uow:
        await uow.lock_skus([LAMP])
        head, tail = await uow._queue_ends(LAMP)  # the probes a placement reads instead of the whole queue
        waiting, count = await uow.waiting_head(LAMP, 99)
        ranked = list((await uow.inventory(LAMP)).queue)
    assert head is not None and tail is not None
    assert (head.id, tail.id) == (expected[0], expected[-1])
    assert [w.id for w in waiting] == expected and count == len(ids)
    positions = {b: await _queue_position(b) for b in ids}
    assert sorted(ids, key=positions.__getitem__) == expected
    assert sorted(ranked, key=lambda b: positions[b]) == expected


async def _queue_position(backorder_id: str) -> int:
    row = await shown_places.backorder(backorder_id)
    assert row is not None and row.queue_position is not None
    return row.queue_position


@pytest.mark.usefixtures("crafted_ids")
async def test_the_worker_takes_consented_substitutes_oldest_first_then_by_id(desk: BackorderDesk):
    ids = await _equal_queue(desk)
    for backorder_id in ids:
        await desk.set_backorder_preferences(backorder_id, substitutes=SubstituteConsent.ANY_LISTED)
    async with TortoiseUnitOfWork() as uow:
        found = await uow.waiting_with_substitute_consent()
    assert [backorder_id for backorder_id, _ in found] == sorted(ids)


async def test_locations_stock_and_skus_are_listed_in_code_point_order(desk: BackorderDesk):
    for code in CODES:
        await desk.upsert_location(code)
    assert [location.code for location in await q.locations()] == sorted([*CODES, "MAIN"])
    await desk.upsert_product(ProductInput(sku="LAMP", name="Lamp", price=Decimal("9.00")))
    for code in CODES:
        await desk.receive_stock("LAMP", 1, code)
    assert [level.location for level in (await q.stock_by_sku(["LAMP"]))["LAMP"]] == sorted(CODES)
    skus = [f"SKU{code}" for code in CODES]
    for sku in skus:
        await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("1.00")))
    listed, after = [], None
    for _ in itertools.count():  # two at a time: the keyset's comparison agrees with its order
        page = await q.list_products(None, 2, after)
        listed += page.ids
        if not page.has_next:
            break
        after = page.ids[-1]
    assert listed == sorted([*skus, "LAMP"])
