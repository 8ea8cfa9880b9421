"""The one way the store's readers name the backorders and their history: as they are now, with any receipt still
recorded as a range (`queue_serves`, issue 15) applied as its fold will write it (migration 0026's views).

Readers (the GraphQL loaders and lists, search and filters, KPIs, export, the backlog gauge, the dispatcher's reads)
select from `backorders()` and `history()`, never from the tables: between a receipt's commit and its fold the
tables still show the backorders it served whole as waiting. Writers lock the SKU first, which folds its pending
ranges, and then read and write the tables themselves (domain.store.uow). tests/unit/test_store_reads_current.py
keeps every reader on this seam.

The views cost readers more than the tables even with nothing pending (bench/README.md: SQLite reads the whole row
through a compound view where the table answers from an index, PostgreSQL plans three branches; index probes do not
reach the indexes through them), and nothing is pending almost all the time. So a reader reads in a snapshot in which
"is any range pending?" was answered (`snapshot()`: a read-only REPEATABLE READ transaction on PostgreSQL, a read
transaction on SQLite): the tables when none is, the views when one is. The answer holds for every statement of the
snapshot, so a range recorded meanwhile is not half seen. A GraphQL query opens one snapshot for all its reads
(api/schema/execution.py); a reader called outside one opens its own (`reads`); a statement outside any snapshot,
or in a writer's transaction, names the views, which are right in any snapshot.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from tortoise.backends.base.client import TransactionalDBClient

P = ParamSpec("P")
R = TypeVar("R")

# In a snapshot: whether a range was pending in it. None outside one (or in a writer's transaction): the views.
_pending: ContextVar[bool | None] = ContextVar("backorders_pending", default=None)
# In a snapshot: the context it was opened in (a task started in the snapshot shares its transaction otherwise)
_outside: ContextVar[contextvars.Context | None] = ContextVar("backorders_outside_snapshot", default=None)

# the snapshot's question: is any range pending? As a column, for the snapshot's first statement to carry (`Asking`)
QUESTION = 'EXISTS (SELECT 1 FROM "queue_serves" WHERE "folded_count" < "served_count")'
PENDING = f'SELECT {QUESTION} AS "pending"'


class Asking:
    """The snapshot's question whether a range is pending, offered to the statement it makes first (a request's
    session or token read): that statement selects `QUESTION` as a column of its one row and hands the value to
    `answer`; a statement is spared a request. Unanswered, the snapshot asks on its own (`PENDING`)."""

    column = QUESTION

    def __init__(self) -> None:
        self.answered: bool | None = None

    def answer(self, pending: object) -> None:
        self.answered = bool(pending)


def backorders() -> str:
    """The backorders as readers see them, as quoted SQL for a FROM or JOIN: their places shown, counted from their
    SKU's origin (`products.place_origin`, migration 0029), whichever of the two it names."""
    return '"backorders_placed"' if _pending.get() is False else '"backorders_now"'


def history() -> str:
    """Their history as readers see it, as quoted SQL for a FROM or JOIN."""
    return '"backorder_history"' if _pending.get() is False else '"backorder_history_now"'


def nothing_pending() -> bool:
    """Whether this is a snapshot in which no range is pending (the tables are what the views would show)."""
    return _pending.get() is False


@asynccontextmanager
async def snapshot(first: Callable[[Asking | None], Awaitable[None]] | None = None) -> AsyncIterator[None]:
    """The reads in this block see one snapshot, in which whether any range is pending was asked first. Inside a
    snapshot already, or inside a writer's transaction (which must not be made read-only), it adds nothing: the
    statements there read as the enclosing one decided (a writer's: the views).

    `first`, when given, is the snapshot's first read (read only), before any reader of the backorders: handed an
    `Asking`, its statement may answer the question too (it is then the snapshot's first statement, so the answer
    holds for the whole snapshot); handed None (no snapshot of its own here), it just reads."""
    from domain.store import models as t
    from domain.store.transactions import Transaction

    if _pending.get() is not None or isinstance(t.Order._meta.db, TransactionalDBClient):
        if first is not None:
            await first(None)
        yield
        return
    # PostgreSQL: REPEATABLE READ, READ ONLY (one snapshot for the check and every read after it; nothing here can
    # write by mistake); SQLite: its read transaction
    outside = contextvars.copy_context()
    async with Transaction(snapshot=True) as conn:
        asking = Asking()
        if first is not None:
            await first(asking)
        if asking.answered is None:
            [row] = await conn.execute_query_dict(PENDING)
            asking.answer(row["pending"])
        token, was = _pending.set(asking.answered), _outside.set(outside)
        try:
            yield
        finally:
            _outside.reset(was)
            _pending.reset(token)


def for_a_task() -> contextvars.Context:
    """The context to start a task in that outlives what started it: a task started inside a snapshot would share
    its transaction (tortoise keeps it in the context), a read-only one that ends with the request."""
    outside = _outside.get()
    return outside.copy() if outside is not None else contextvars.copy_context()


def writer_transaction(make: Callable[[], R]) -> R:
    """A writer's transaction (`make()`) opened inside a snapshot (a query whose field runs a unit of work: the
    allocation previews) is its own, not a savepoint of the snapshot's: on PostgreSQL the snapshot is READ ONLY and
    refused the writer's locks (`FOR UPDATE`), and a failed statement there aborted the query's other reads. So it is
    made in the context the snapshot was opened from, where the pool gives it a connection of its own. On SQLite
    (one connection, held by the snapshot: a transaction of its own would wait for it for ever) it nests as a
    savepoint, which may write there."""
    outside = _outside.get()
    if outside is None or _pending.get() is None:
        return make()
    from domain.store import models as t

    db = t.Order._meta.db
    if getattr(getattr(db, "capabilities", None), "dialect", None) != "postgres":
        return make()
    return outside.copy().run(make)


def as_writer() -> contextvars.Token[bool | None]:
    """From here to `reset_writer`, a writer's transaction (a unit of work) even inside a query's snapshot: its reads
    name the views, as any writer's do. The snapshot's answer ("nothing pending") held in the snapshot, not in the
    writer's own transaction (READ COMMITTED on PostgreSQL), where a range may be recorded between two statements."""
    return _pending.set(None)


def reset_writer(token: contextvars.Token[bool | None]) -> None:
    _pending.reset(token)


async def all_of(*reads: Awaitable[R]) -> list[R]:
    """`asyncio.gather(*reads)` that returns or raises only once every read has ended. In a snapshot the reads share
    its one connection; `gather` raised the first failure at once, the query's snapshot then ended (COMMIT) while a
    sibling read was still on the connection, and PostgreSQL's driver refused it ("another operation is in
    progress"): the answer was that error, not the field's own. The first failure is raised after all have ended."""
    results = await asyncio.gather(*reads, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)  # type: ignore[arg-type]


def reads(reader: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A reader of the backorders: run in the caller's snapshot, or in one of its own when there is none."""
    @functools.wraps(reader)
    async def read(*args: P.args, **kwargs: P.kwargs) -> R:
        if _pending.get() is not None:
            return await reader(*args, **kwargs)
        async with snapshot():
            return await reader(*args, **kwargs)
    return read


@contextmanager
def through(views: bool) -> Iterator[None]:
    """Read the views (True) or the tables (False) in this block whatever is pending: for benches comparing them."""
    token = _pending.set(views)
    try:
        yield
    finally:
        _pending.reset(token)
