"""Database transactions whose start and end cannot be cut short: a cancelled task never leaves a connection, the
SQLite connection lock or an open transaction behind.

Tasks are cancelled in ordinary running: graphql-core cancels a query's sibling root fields when one of them
fails, `asyncio.timeout` cancels what overruns it, shutdown cancels the late workers. tortoise's transaction
context is not safe against it: a cancellation that lands in its `__aenter__` after it took the lock (or the pool
connection) and before `BEGIN` came back leaves `__aenter__` by an exception, so no `__aexit__` ever releases them;
on SQLite every later request then waits for that lock for ever. A cancellation landing in an `__aexit__` that
first awaits something else (a rollback) skips the release the same way.

So the start and the end each run as a task of their own that nothing else holds and so nothing cancels; the
task that opened the transaction waits for it to finish whatever happens to itself, and only then takes its
cancellation: after a cancelled start, the transaction is ended (rolled back) before the cancellation goes on.
Both run in one private copy of the opener's context, where tortoise keeps its token for the transaction's
connection (its reset refuses a token made in another context); the opener's own context gets the transaction's
connection set the same way, so ORM calls inside the block use it, as with tortoise's own `in_transaction`.

The statements in between are not protected and need not be: a cancelled statement ends the block with
CancelledError, and the end then rolls back (and releases) like for any other exception.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from asyncpg import PostgresError
from tortoise.backends.asyncpg.client import TransactionWrapper
from tortoise.backends.base.client import (
    ConnectionWrapper,
    TransactionalDBClient,
    TransactionContext,
    TransactionContextPooled,
)
from tortoise.connection import get_connections
from tortoise.transactions import in_transaction

T = TypeVar("T")


class RolledBack(Exception):
    """The reason a transaction ends without commit when its block raised nothing (a read, a refused write): tortoise's
    context rolls back when it is handed an exception type, and commits otherwise."""


async def settle(task: asyncio.Future[Any]) -> asyncio.CancelledError | None:
    """Wait for `task` to end, whatever cancels the calling task meanwhile; the first cancellation the caller got
    (to raise once `task` ended), or None. Unlike `asyncio.shield`, the caller does not go on while `task` still
    runs: what follows its cancellation (the next request for the same connection) finds `task` done."""
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait((task,))  # never cancels `task`, and raises nothing of `task`'s
        except asyncio.CancelledError as error:
            cancelled = cancelled or error
    return cancelled


async def to_the_end(work: Coroutine[Any, Any, T], context: contextvars.Context | None = None) -> T:
    """`work`'s result, `work` run to its end as a task of its own even if the calling task is cancelled meanwhile;
    the cancellation is raised after that, `work`'s result (or failure) dropped."""
    task = asyncio.create_task(work, context=context)
    cancelled = await settle(task)
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved: a failure under a cancellation is not "never retrieved"
        raise cancelled
    return task.result()


class Transaction:
    """`async with Transaction() as conn:`, tortoise's `in_transaction()` with its start and end made whole:
    commits when the block ends without an exception and `rollback_on_exit()` was not asked for, rolls back
    otherwise. `committed` says afterwards whether the commit went through (it may have, under a cancellation)."""

    def __init__(self, connection_name: str | None = None, *, snapshot: bool = False) -> None:
        self._context = contextvars.copy_context()
        self._tx: TransactionContext = in_transaction(connection_name)
        if snapshot:
            self._tx = _read_only_snapshot(self._tx)
        self._token: Any = None
        self._rollback = False
        self.committed = False

    def rollback_on_exit(self) -> None:
        """End without committing even if the block raises nothing."""
        self._rollback = True

    async def __aenter__(self) -> TransactionalDBClient:
        starting = asyncio.create_task(self._tx.__aenter__(), context=self._context)
        cancelled = await settle(starting)
        failure = None if starting.cancelled() else starting.exception()
        if cancelled is not None or failure is not None:
            # a start that went through is ended; one that failed after taking the lock or the pool's connection
            # (tortoise set its token just before BEGIN) has them released, which its own context does not do
            if failure is None or getattr(self._tx, "token", None) is not None:
                reason = failure or cancelled or asyncio.CancelledError()
                ending = asyncio.create_task(self._tx.__aexit__(type(reason), reason, None), context=self._context)
                cancelled = await settle(ending) or cancelled
                if not ending.cancelled():
                    ending.exception()  # the caller gets its cancellation or the start's failure, not the end's
            if cancelled is not None:
                raise cancelled
        conn = starting.result()  # or the start's failure, as it was raised
        self._token = get_connections().set(self._tx.connection_name, conn)
        return conn

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        get_connections().reset(self._token)
        if exc_type is None and self._rollback:
            exc_type, exc = RolledBack, RolledBack()
        ending = asyncio.create_task(self._tx.__aexit__(exc_type, exc, tb), context=self._context)
        cancelled = await settle(ending)
        failure = None if ending.cancelled() else ending.exception()
        self.committed = exc_type is None and not ending.cancelled() and failure is None
        if cancelled is not None:
            raise cancelled
        ending.result()


def _read_only_snapshot(tx: TransactionContext) -> TransactionContext:
    """On PostgreSQL, a transaction context like `tx` whose transaction begins READ ONLY at REPEATABLE READ (one
    snapshot for all its statements) in its BEGIN itself, not by a SET after it (a round trip fewer for every request
    that reads in one, domain.store.current), and survives a statement the database refuses (`_Snapshot`). SQLite's
    read transaction is one snapshot already: `tx` itself."""
    client = getattr(tx, "client", None)
    if not isinstance(tx, TransactionContextPooled) or type(client) is not TransactionWrapper:
        return tx
    return TransactionContextPooled(_Snapshot(client._parent), client._parent._pool_init_lock)


_INTACT = "snapshot_intact"


class _Snapshot(TransactionWrapper):
    """A read-only snapshot's connection. A statement that fails aborts the whole transaction: so the snapshot takes
    a savepoint after its BEGIN (a transaction-control statement: the snapshot is still taken at the first read, and
    stays after a rollback to it), and its connection rolls back to it after a statement the database refused: else
    a query's one failing field aborted the snapshot, and every sibling field read after it failed too. A class, not
    methods set on tortoise's wrapper: a closure over the wrapper set on it is a reference cycle, and every request's
    wrapper waited for the cyclic collector (tests/integration/test_read_snapshot.py)."""

    async def begin(self) -> None:
        self.transaction = self._connection.transaction(isolation="repeatable_read", readonly=True)
        await self.transaction.start()
        await self._connection.execute(f"SAVEPOINT {_INTACT}")

    def acquire_connection(self) -> ConnectionWrapper[Any]:
        return _Recovering(self._lock, self)


class _Recovering(ConnectionWrapper[Any]):
    """The snapshot's connection, held as tortoise holds it (its lock, one statement at a time), rolled back to the
    savepoint after a statement the database refused, before the lock goes to the next statement."""

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        try:
            if exc_type is not None and issubclass(exc_type, PostgresError):
                await self.connection.execute(f"ROLLBACK TO SAVEPOINT {_INTACT}")
        finally:
            self._lock.release()
