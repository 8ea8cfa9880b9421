"""Who goes first on a store with one connection (SQLite): the requests in flight, before a background transaction.

On SQLite every statement and transaction of the process takes turns on one connection (tortoise's lock, first
come first served). A served request takes several turns (its token read, its transaction, the payload's reads),
with Python in between, while a staged receipt's chunks (`shared.put_away_staged`) come back for a turn as soon as
they let go of one: a placeOrder over HTTP waited behind one chunk per turn of its own (4 to 6 of them), not one.
So a background transaction asks for its turn only once the requests in flight when it asks have ended (`after
requests`): each of them waits behind at most the chunk it came in during. A request that is itself doing
background work (the receiveStock whose receipt is being put away) no longer counts from then on, and the wait
is bounded (`BOUND_SECONDS`), once per request: a long request (a CSV export streamed over seconds) that outlasts one
bounded wait is not waited for again, so it delays one chunk by the bound, not every chunk of the receipt.

The API marks each HTTP request (`request()`); a process with none (the worker, the command line) never waits.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

# the longest a background transaction waits for the requests in flight when it asked for its turn
BOUND_SECONDS = 1.0


class _Request:
    __slots__ = ("background", "outlasted", "ended")

    def __init__(self) -> None:
        self.background = False  # doing background work now (its receipt put away): not waited for
        self.outlasted = False  # outlasted a bounded wait once: not waited for again
        self.ended = False

    def start(self) -> None:
        """From now on the request is served (its body is in): background transactions wait for it."""
        if not self.ended:
            _in_flight.add(self)

    @property
    def waited_for(self) -> bool:
        return not (self.background or self.outlasted)


_in_flight: set[_Request] = set()
_waiting: list[tuple[set[_Request], asyncio.Future[None]]] = []  # what each background turn waits for
_current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("backorder_request", default=None)


@contextmanager
def request(started: bool = True) -> Iterator[_Request]:
    """The block is a request being served: background transactions asking for a turn meanwhile wait for its end.
    Not `started`, it counts only from its `start()`: a request still sending its body is not served yet, and a
    client sending bodies slowly must not hold up every chunk of a receipt (each for the bound)."""
    mine = _Request()
    if started:
        mine.start()
    token = _current.set(mine)
    try:
        yield mine
    finally:
        _current.reset(token)
        mine.ended = True
        _gone(mine)


def _gone(request: _Request) -> None:
    _in_flight.discard(request)
    _not_waited_for(request)


def _not_waited_for(request: _Request) -> None:
    for ahead, done in list(_waiting):
        ahead.discard(request)
        if not ahead and not done.done():
            done.set_result(None)


def in_flight() -> int:
    """Requests being served now that a background transaction would wait for."""
    return sum(1 for r in _in_flight if r.waited_for)


async def after_requests(bound: float | None = None) -> None:
    """Return once every request in flight now (but the caller's own, which from now on counts as background work)
    has ended, or `bound` (BOUND_SECONDS) seconds have passed; at least one turn of the event loop either way."""
    mine = _current.get()
    if mine is not None and not mine.background:
        mine.background = True
        _not_waited_for(mine)  # another receipt's chunks waiting for this request need not wait for this one's
    ahead = {r for r in _in_flight if r.waited_for}
    if not ahead:
        await asyncio.sleep(0)
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    entry = (ahead, done)
    _waiting.append(entry)
    try:
        await asyncio.wait_for(asyncio.shield(done), BOUND_SECONDS if bound is None else bound)
    except TimeoutError:
        for request in ahead:  # still going after the bound: it has had its chunk's wait
            request.outlasted = True
    finally:
        _waiting.remove(entry)
