"""Coalescing under concurrency: an event recorded while its digest is being composed is not lost, two first
events make one digest, and no event goes out in two digests. PostgreSQL only: on SQLite one writer at a time
makes these races impossible, so the tests could not fail there (remove a `select_for_update` in
domain/store/notify.py and they go red on PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from tortoise.transactions import in_transaction

from domain.model import new_id
from domain.store import notify as store
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="races between transactions need PostgreSQL: SQLite has a single writer, so these "
                             "tests cannot fail on it; set BACKORDER_TEST_POSTGRES_URL")

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WINDOW = timedelta(0)
T = TypeVar("T")
RACE = 0.3  # long enough for the other to commit if nothing holds it back


def event(email: str, n: int) -> dict[str, object]:
    return {"email": email, "backorder_id": f"b{n}", "order_id": "o1", "sku": "LAMP", "kind": "EtaChanged",
            "data": {"old_date": "2026-03-10", "new_date": f"2026-03-{10 + n}"}, "occurred_at": NOW}


async def record(email: str, n: int) -> None:
    async with in_transaction() as conn:  # a domain change: its own transaction
        await store.record_events([event(email, n)], NOW, WINDOW, conn)


def later(work: Callable[[], Awaitable[T]]) -> tuple[asyncio.Event, asyncio.Task[T]]:
    """`work` in a task of its own, started when the event is set. Created here, outside any transaction:
    a task started inside one would inherit it (tortoise keeps it in a context variable) and nest."""
    go = asyncio.Event()

    async def run() -> T:
        await go.wait()
        return await work()

    return go, asyncio.create_task(run())


async def test_an_event_recorded_while_its_digest_is_composed_is_not_lost(db):
    await record("ann@example.com", 1)
    go, late = later(lambda: record("ann@example.com", 2))
    async with in_transaction() as composing:
        [digest] = await store.due_digests(NOW, 10, composing)
        taken = await store.take_events(digest.email, digest.id, composing)
        go.set()
        await asyncio.wait([late], timeout=RACE)  # before the fix: it saw this digest PENDING and committed
        digest.status = "DONE"
        await digest.save(using_db=composing, update_fields=["status"])
    await late
    assert [e.backorder_id for e in taken] == ["b1"]
    waiting = await store.NotificationEvent.filter(digest_id=None)
    assert [e.backorder_id for e in waiting] == ["b2"]
    assert await store.Digest.filter(email="ann@example.com", status="PENDING").count() == 1  # it will go out


async def test_two_first_events_at_once_open_one_digest(db):
    go, second = later(lambda: record("ann@example.com", 2))
    async with in_transaction() as first:
        await store.record_events([event("ann@example.com", 1)], NOW, WINDOW, first)
        go.set()
        await asyncio.wait([second], timeout=RACE)  # before the fix: it saw no digest and opened its own
    await second
    assert await store.Digest.filter(email="ann@example.com", status="PENDING").count() == 1


async def test_no_event_is_taken_by_two_digests(db):
    await store.NotificationEvent.bulk_create([store.NotificationEvent(**event("ann@example.com", n))
                                              for n in (1, 2)])
    # two digests of one customer claiming at once (the old race could leave two pending; the database now
    # refuses a second pending one, but claiming must stay safe on its own)
    ids = [new_id(), new_id()]
    for digest_id, status in zip(ids, ("PENDING", "DONE"), strict=True):
        await store.Digest.create(id=digest_id, email="ann@example.com", status=status, due_at=NOW, created_at=NOW)

    async def take(digest_id: str) -> list[str]:
        async with in_transaction() as conn:
            return [e.backorder_id for e in await store.take_events("ann@example.com", digest_id, conn)]

    go, other = later(lambda: take(ids[1]))
    async with in_transaction() as conn:
        first = [e.backorder_id for e in await store.take_events("ann@example.com", ids[0], conn)]
        go.set()
        await asyncio.wait([other], timeout=RACE)  # before the fix: it read them unclaimed, then claimed them too
    assert first == ["b1", "b2"]
    assert await other == []
