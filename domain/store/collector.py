"""The cyclic garbage collector held off while a transaction works on a long queue (issue 15).

A receipt serving 100k backorders keeps millions of objects alive until it commits (the rows read, what the domain
decided for each, their events): every 20th young collection (`api.app.tune_gc`: 50,000 allocations each) then
scanned up to a million survivors, 0.4-0.5 s with the interpreter's lock held (load 7-8 on 2 cores), in whichever
thread allocated: the event loop, or a worker thread the loop then waited for. Every other request of the process
(another SKU's order) waited that long. Nothing of such a transaction's own is cyclic garbage (reference counting
frees it), so the collector waits until the last such transaction of the process has ended; what other requests
leave meanwhile is collected then.

Other requests do leave cyclic garbage meanwhile (graphql-core's executor makes cycles:
tests/api/test_request_garbage.py), and holds that overlap one another, or a transaction that waits long for a lock,
would keep the collector off for as long as they last, that garbage growing all the while. So it is held off for
HOLD_SECONDS at the most from the first of overlapping holds: then it resumes, though holds remain, and stays on
until the last has ended (a later hold starts a new ceiling). A 100k receipt (9.7-21 s at load 1-4, bench/README.md)
still runs without a pause; one that outlasts the ceiling (under heavy load) pays the collector's pauses from then on:
the price of bounding what others leave to what the process allocates in HOLD_SECONDS.

The unit of work drops what it kept of its queue (its events above all, published by then) before it releases its
hold (`uow.__aexit__`): the first young collection after a hold scans what is still alive of what was allocated
meanwhile, and a 100k receipt's events, kept to the end, were 400k tuples: 130-230 ms with the interpreter's lock held.
"""

from __future__ import annotations

import gc
import threading

# rows of one queue a transaction reads from which it holds the collector off
HOLD_FROM = 5_000
# seconds at the most that the collector stays off from the first of overlapping holds
HOLD_SECONDS = 30.0

_lock = threading.Lock()
_holds = 0
_enable_after = False  # whether the collector was on when the first hold began (a test or a caller may have it off)
_ceiling: threading.Timer | None = None  # resumes the collector once HOLD_SECONDS have passed with holds left
_episode = 0  # which run of overlapping holds the ceiling belongs to


def hold() -> None:
    """One more transaction that the collector waits for (each `hold` is ended by one `release`)."""
    global _holds, _enable_after, _ceiling, _episode
    with _lock:
        if _holds == 0:
            _enable_after = gc.isenabled()
            gc.disable()
            _episode += 1
            _ceiling = threading.Timer(HOLD_SECONDS, overrun, (_episode,))
            _ceiling.daemon = True
            _ceiling.start()
        _holds += 1


def release() -> None:
    global _holds, _ceiling
    with _lock:
        _holds -= 1
        if _holds == 0:
            if _ceiling is not None:
                _ceiling.cancel()
                _ceiling = None
            if _enable_after:
                gc.enable()


def overrun(episode: int) -> None:
    """HOLD_SECONDS have passed since the holds of `episode` began: the collector resumes (if it was on before them)
    though some of them are still held; the last release leaves it on."""
    with _lock:
        if episode == _episode and _holds > 0 and _enable_after:
            gc.enable()


def held() -> int:
    """How many transactions hold the collector off now."""
    return _holds
