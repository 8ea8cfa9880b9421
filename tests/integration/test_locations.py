"""Retiring a location (SQLite, and PostgreSQL with BACKORDER_TEST_POSTGRES_URL): one nothing ever referred to is
removed; one history refers to is kept, retired, unknown to every input and unlisted until it is set up again;
and on PostgreSQL, receipts racing a retirement never leave stock in a retired location."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import pytest

from domain.bus import InProcessBus
from domain.errors import DomainError, ErrorCode
from domain.services import BackorderDesk, LineRequest, ProductInput
from domain.store import models as t
from domain.store import queries as q
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork
from tests.conftest import POSTGRES_URL


async def test_a_location_nothing_referred_to_is_removed(desk: BackorderDesk):
    await desk.upsert_location("TYPO", "Set up by mistake")
    location, kept = await desk.retire_location("typo")
    assert (location.code, location.name, kept) == ("TYPO", "Set up by mistake", False)
    assert not await t.Location.filter(code="TYPO").exists()


async def test_a_location_history_refers_to_is_kept_retired_and_unknown_until_set_up_again(desk: BackorderDesk):
    # given a store where a peg was received and later counted out, and a received purchase order into it
    await desk.upsert_product(ProductInput(sku="PEG", name="Peg", price=Decimal("1.00")))
    supplier = await desk.upsert_supplier(None, "Acme", 10)
    await desk.upsert_location("STORE", "High Street store")
    po = await desk.create_purchase_order(supplier.id, date(2026, 3, 9), [LineRequest("PEG", 2)], location="STORE")
    await desk.receive_purchase_order(po.id)
    await desk.adjust_stock("PEG", -2, "moved to the warehouse", "STORE")
    # when it is retired
    _, kept = await desk.retire_location("STORE")
    # then it is kept for its history, no longer listed, and refused wherever a location is input
    assert kept
    assert (await t.Location.get(code="STORE")).retired_at is not None
    assert [location.code for location in await q.locations()] == ["MAIN"]
    with pytest.raises(DomainError) as refused:
        await desk.receive_stock("PEG", 1, "STORE")
    assert (refused.value.code, refused.value.field) == (ErrorCode.UNKNOWN_LOCATION, "location")
    with pytest.raises(DomainError) as again:
        await desk.retire_location("STORE")
    assert again.value.code is ErrorCode.UNKNOWN_LOCATION
    # and set up again it is that place back, with its history
    await desk.upsert_location("STORE", "High Street store")
    await desk.receive_stock("PEG", 1, "STORE")
    assert [location.code for location in await q.locations()] == ["MAIN", "STORE"]


@pytest.fixture
async def pooled(db_url: str, bus: InProcessBus) -> AsyncIterator[BackorderDesk]:
    async with open_database(f"{db_url}?minsize=1&maxsize=12", apply_migrations=False):
        yield BackorderDesk(lambda: TortoiseUnitOfWork(bus))


@pytest.mark.skipif(not POSTGRES_URL, reason="concurrent transactions need PostgreSQL: set "
                                             "BACKORDER_TEST_POSTGRES_URL")
async def test_receipts_racing_a_retirement_never_leave_stock_in_a_retired_location(pooled: BackorderDesk):
    await pooled.upsert_product(ProductInput(sku="PEG", name="Peg", price=Decimal("1.00")))
    for attempt in range(5):
        code = f"POPUP-{attempt}"
        await pooled.upsert_location(code, "A pop-up shop")
        await pooled.receive_stock("PEG", 1, code)
        await pooled.adjust_stock("PEG", -1, "sold out", code)  # empty, so it may be retired
        receipts = [pooled.receive_stock("PEG", 1, code) for _ in range(8)]
        outcomes = await asyncio.gather(pooled.retire_location(code), *receipts, return_exceptions=True)
        refused = [o for o in outcomes if isinstance(o, DomainError)]
        assert all(e.code in (ErrorCode.UNKNOWN_LOCATION, ErrorCode.LOCATION_IN_USE) for e in refused), refused
        assert not [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, DomainError)]
        retired = await t.Location.filter(code=code, retired_at__isnull=False).exists()
        on_hand = sum(level.on_hand for level in await t.StockLevel.filter(location=code))
        received = sum(1 for o in outcomes[1:] if not isinstance(o, BaseException))
        assert on_hand == received
        assert not (retired and on_hand), f"{code}: retired with {on_hand} units in it"
