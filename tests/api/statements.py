"""The SQL statements the requests made inside a block sent: what query-count tests count.

tortoise logs every statement at DEBUG on "tortoise.db_client", and the server runs in the test's process, so
a handler sees them all, the app's background loops' included (the outbox dispatcher, the webhook dispatcher,
the ETA refresh, substitutes on arrival). Those poll on their own schedule: under load a round of theirs lands
inside a request's block as often as not, and a count that let them in was flaky. So a statement counts only
when it is sent on behalf of a request that began inside the block: every request is given its id by
`request_ids.new_request_id` (api/logs.py's middleware) and keeps it bound while it is served, and the loops
either bind no id or the id of an older request whose outbox rows they deliver.

Work that is no request (the live updates' hub) is counted by `statements_of`: the statements of a coroutine
`marked` for it, and of every task it starts (a task copies its creator's context), so that the loaders' batches
it runs count and the background loops' rounds never do.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from domain.store import request_ids


class StatementLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []
        self.requests: set[str] = set()  # the ids given to the requests that began inside the block

    def emit(self, record: logging.LogRecord) -> None:
        if request_ids.request_id() not in self.requests:
            return
        message = record.getMessage()
        if message.startswith(("Created connection", "Closed connection")):
            return
        self.statements.append(message)


@contextmanager
def statements() -> Iterator[list[str]]:
    """The statements sent for the requests made inside the block, in order."""
    handler = StatementLog()
    issue = request_ids.new_request_id

    def issued(offered: str | None = None) -> str:
        value = issue(offered)
        handler.requests.add(value)
        return value

    request_ids.new_request_id = issued  # type: ignore[assignment]
    try:
        with listening(handler):
            yield handler.statements
    finally:
        request_ids.new_request_id = issue  # type: ignore[assignment]


P = ParamSpec("P")
R = TypeVar("R")
_work: ContextVar[str | None] = ContextVar("statements_work", default=None)


def marked(work: str, function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """`function` (a coroutine function) running as `work`, it and the tasks it starts: patch it in before the
    task that runs it is started."""
    @functools.wraps(function)
    async def running(*args: P.args, **kwargs: P.kwargs) -> R:
        _work.set(work)  # this task's own context: its caller's is left as it was
        return await function(*args, **kwargs)

    return running


class WorkLog(logging.Handler):
    def __init__(self, work: str) -> None:
        super().__init__(logging.DEBUG)
        self.work = work
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if _work.get() == self.work and not message.startswith(("Created connection", "Closed connection")):
            self.statements.append(message)


@contextmanager
def statements_of(work: str) -> Iterator[list[str]]:
    """The statements sent inside the block by the coroutine `marked` as `work` and the tasks it started."""
    handler = WorkLog(work)
    with listening(handler):
        yield handler.statements


@contextmanager
def listening(handler: logging.Handler) -> Iterator[None]:
    """`handler` hears every statement tortoise sends inside the block (each logged at DEBUG on
    "tortoise.db_client"); the logger's level is put back after."""
    logger = logging.getLogger("tortoise.db_client")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
