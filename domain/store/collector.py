"""The cyclic garbage collector held off while a transaction works on a long queue (issue 15).

A receipt serving 100k backorders keeps millions of objects alive until it commits (the rows read, what the domain
decided for each, their events): every 20th young collection (`api.app.tune_gc`: 50,000 allocations each) then
scanned up to a million survivors, 0.4-0.5 s with the interpreter's lock held (load 7-8 on 2 cores), in whichever
thread allocated: the event loop, or a worker thread the loop then waited for. Every other request of the process
(another SKU's order) waited that long. Nothing of such a transaction's own is cyclic garbage (reference counting
frees it), so the collector waits until the last such transaction of the process has ended; what other requests
leave meanwhile is collected then.
"""

from __future__ import annotations

import gc
import threading

# rows of one queue a transaction reads from which it holds the collector off
HOLD_FROM = 5_000

_lock = threading.Lock()
_holds = 0
_enable_after = False  # whether the collector was on when the first hold began (a test or a caller may have it off)


def hold() -> None:
    """One more transaction that the collector waits for (each `hold` is ended by one `release`)."""
    global _holds, _enable_after
    with _lock:
        if _holds == 0:
            _enable_after = gc.isenabled()
            gc.disable()
        _holds += 1


def release() -> None:
    global _holds
    with _lock:
        _holds -= 1
        if _holds == 0 and _enable_after:
            gc.enable()


def held() -> int:
    """How many transactions hold the collector off now."""
    return _holds
