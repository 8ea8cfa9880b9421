"""A unit of work cancelled at any await leaves nothing held: the next one gets the connection at once, on SQLite
(its one connection and the lock in front of it) and on PostgreSQL (a pool of two connections, so one leaked
connection shows at once), and what was cancelled is all there or not there at all, with its events published
when it is there.

Cancellations come in ordinary running: graphql-core cancels the sibling root fields of a query when one fails
(tests/api/test_cancelled_fields.py), a timeout cancels what overran it, shutdown cancels late workers. Here the
cancellation is `Task.cancel()` itself, fired at the k-th time the use case's task suspends, for every k from
the first await to the last: the start of the transaction, each statement, the commit, the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.events import OrderPlaced
from domain.services import BackorderDesk
from domain.store import models as t
from domain.store.db import is_postgres, open_database, transaction
from domain.store.uow import TortoiseUnitOfWork
from tests.integration.support import LAMP, heard, lamp_shop, order

pytestmark = pytest.mark.db

NEXT_REQUEST_SECONDS = 20  # a leaked lock or connection makes the next use case wait for ever; CI's load, seconds


class CancelledAt:
    """Awaits `work`, and cancels the awaiting task with `Task.cancel()` when `work` suspends for the `at`-th
    time: the CancelledError then lands in `work` at that await, as a real cancellation does. `suspensions`
    counts the suspensions seen, so a run that was never cancelled says how many there are."""

    def __init__(self, work: Awaitable[Any], at: int) -> None:
        self.work, self.at, self.suspensions = work, at, 0

    def __await__(self) -> Generator[Any, Any, Any]:
        steps = self.work.__await__()
        sending: Any = None
        throwing: BaseException | None = None
        while True:
            try:
                waiting_for = steps.throw(throwing) if throwing is not None else steps.send(sending)
            except StopIteration as done:
                return done.value
            self.suspensions += 1
            if self.suspensions == self.at:
                task = asyncio.current_task()
                assert task is not None
                task.cancel()  # the task is running: it cancels what `work` now waits for, as soon as it yields
            try:
                sending, throwing = (yield waiting_for), None
            except BaseException as error:  # noqa: BLE001 - handed on to `work`, as a task does
                sending, throwing = None, error


@pytest.fixture
async def small_pool(db_url: str) -> AsyncIterator[str]:
    """Connected with at most two pooled connections on PostgreSQL (SQLite has its one)."""
    url = f"{db_url}?minsize=1&maxsize=2" if is_postgres(db_url) else db_url
    async with open_database(url, apply_migrations=False):
        yield db_url


def _nothing_held() -> None:
    client: Any = t.Product._meta.db
    if client.capabilities.dialect == "postgres":
        pool = client._pool
        assert pool.get_idle_size() == pool.get_size() > 0, "a pooled connection was not given back"
    else:
        assert not client._lock.locked(), "the SQLite connection's lock is still held"
        assert not client._connection._conn.in_transaction, "a transaction is still open on the SQLite connection"


async def _cancelled_at_every_await(work: Callable[[], Awaitable[Any]],
                                    after_each: Callable[[], Awaitable[None]]) -> int:
    """`work` run once per await point, cancelled there, each time in a task of its own (as a request's field is);
    `after_each` then proves the next use case gets the connection. Returns how many await points there were."""
    at = 1
    while True:
        cancelling = CancelledAt(work(), at)
        attempt = asyncio.create_task(_awaited(cancelling))
        await asyncio.wait((attempt,))
        if not attempt.cancelled():
            attempt.result()  # it raised nothing else
            assert cancelling.suspensions < at, f"cancelled at await {at}, yet it finished"
            await after_each()
            return at - 1
        async with asyncio.timeout(NEXT_REQUEST_SECONDS):
            _nothing_held()
            await after_each()
        at += 1


async def _awaited(work: Awaitable[Any]) -> Any:
    return await work


async def test_a_write_cancelled_at_any_await_leaves_the_connection_free_and_is_whole_or_absent(
        small_pool: str, bus: InProcessBus) -> None:
    # given: a lamp shop; every order of a lamp takes one unit from stock (or queues for it)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)))
    await lamp_shop(desk, on_hand=200)
    placed_events = bus.subscribe(lambda e: isinstance(e, OrderPlaced))
    published: list[Any] = []
    emails = iter(f"customer{n}@example.com" for n in range(10_000))

    async def the_books_balance() -> None:
        # the next write gets the connection at once; each order cancelled before was placed whole or not at all,
        # and each one placed was published, even one whose commit ended as its task was being cancelled
        await order(desk, next(emails), 1)
        orders = await t.Order.all().count()
        allocated = (await t.StockLevel.get(sku=LAMP, location="MAIN")).allocated
        assert await t.OrderLine.filter(sku=LAMP).count() == orders == allocated
        published.extend(heard(placed_events))
        assert len(published) == orders

    # when: an order is placed and cancelled at its first await, then its second, ... until it finishes
    awaits = await _cancelled_at_every_await(lambda: order(desk, next(emails), 1), the_books_balance)

    # then: (checked after each) nothing stayed held, the books balance, and there were awaits to cancel at
    assert awaits >= 5


async def test_a_read_cancelled_at_any_await_leaves_the_connection_free(small_pool: str, bus: InProcessBus) -> None:
    # given: a shop with a supplier
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)))
    await lamp_shop(desk)

    report = await desk.supplier_performance(None, None)

    async def next_read() -> None:
        assert await desk.supplier_performance(None, None) == report

    # when: the supplier performance report (a read: its unit of work ends with a rollback) is cancelled at each await
    awaits = await _cancelled_at_every_await(lambda: desk.supplier_performance(None, None), next_read)

    # then: every next read got the connection
    assert awaits >= 3


async def test_a_dispatchers_transaction_cancelled_at_any_await_is_rolled_back_whole(small_pool: str) -> None:
    # given: the transaction the notification dispatchers open (domain.store.db.transaction), writing two rows
    async def two_rows() -> None:
        async with transaction() as conn:
            now = datetime.now(UTC)
            for prefix in ("CUT-A", "CUT-B"):
                await t.Location.create(code=f"{prefix}{await t.Location.all().using_db(conn).count()}",
                                        created_at=now, updated_at=now, using_db=conn)

    async def both_or_neither() -> None:
        codes = list(await t.Location.all().values_list("code", flat=True))
        assert len([c for c in codes if c.startswith("CUT-A")]) == len([c for c in codes if c.startswith("CUT-B")])

    # when: it is cancelled at each await; then: each was whole or absent, and nothing stayed held
    awaits = await _cancelled_at_every_await(two_rows, both_or_neither)
    assert awaits >= 5
