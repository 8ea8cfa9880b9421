"""The cyclic garbage collector held off while a transaction works on a long queue (issue 15).

A receipt serving 100k backorders keeps millions of objects alive until it commits (the rows read, what the domain
decided for each, their events): every 20th young collection (`api.app.tune_gc`: 50,000 allocations each) then
scanned up to a million survivors, 0.4-0.5 s with the interpreter's lock held (load 7-8 on 2 cores), in whichever
thread allocated: the event loop, or a worker thread the loop then waited for. Every other request of the process
(another SKU's order) waited that long. Nothing of such a transaction's own is cyclic garbage (reference counting
frees it), so the collector waits until the last such transaction of the process has ended; what other requests
leave meanwhile is collected then.

The hold is process-wide, so it is bounded: other requests' cyclic garbage piles up while it lasts, and receipts
that overlap one another (or one that hangs on a lock) could otherwise keep the collector off for ever. MAX_HOLD
seconds after the collector went off it is back on, whatever still holds it, until every hold of that stretch has
ended; only then can a new hold take it off again. The unit of work drops what it kept of its queue before it
releases its hold (`uow.__aexit__`): the first collection after a hold scans only what is still alive of what was
allocated meanwhile (400k tuples of a 100k receipt's events, kept until the end: 160-230 ms with the lock held).
"""

from __future__ import annotations

import gc
import threading

# rows of one queue a transaction reads from which it holds the collector off
HOLD_FROM = 5_000
# seconds the collector stays off at most, however many transactions hold it: a 100k receipt takes 15-35 s at load
# 2-9 on 2 cores (bench/README.md); at 60 s a stuck or endless run of overlapping holds costs one collection's pause
MAX_HOLD = 60.0

_lock = threading.Lock()
_holds = 0
_enable_after = False  # whether the collector was on when the first hold began (a test or a caller may have it off)
_expiry: threading.Timer | None = None  # re-enables the collector once MAX_HOLD has passed (None: no hold, or expired)


def hold() -> None:
    """One more transaction that the collector waits for (each `hold` is ended by one `release`)."""
    global _holds, _enable_after, _expiry
    with _lock:
        if _holds == 0:
            _enable_after = gc.isenabled()
            gc.disable()
            _expiry = threading.Timer(MAX_HOLD, _expire)
            _expiry.daemon = True
            _expiry.start()
        _holds += 1


def release() -> None:
    global _holds, _expiry
    with _lock:
        _holds -= 1
        if _holds == 0:
            if _expiry is not None:
                _expiry.cancel()
                _expiry = None
            if _enable_after:
                gc.enable()


def _expire() -> None:
    """MAX_HOLD has passed with the collector off: on again, though holds remain (they end as usual)."""
    global _expiry
    with _lock:
        if threading.current_thread() is _expiry:  # not a stretch that ended, nor one after it
            _expiry = None
            if _enable_after:
                gc.enable()


def held() -> int:
    """How many transactions hold the collector off now."""
    return _holds
