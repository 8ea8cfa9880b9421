"""Waiting in tests for what should happen, never for a time: poll a condition until it holds, within one
generous deadline shared by the whole suite.

CI runs the suite on a busy 2-core machine. A fixed sleep ("the subscription is surely listening after 0.5 s")
or a fixed number of tries ("100 looks 50 ms apart") is a guess at how fast that machine is today, and each such
guess turned red there some day. A condition polled until a deadline costs nothing when things are quick (it
returns at the first look that holds) and only waits longer when the machine is slow; a test that fails here
has waited PATIENCE seconds, far beyond any honest delay, so it says that the thing never happened.
tests/unit/test_test_hygiene.py keeps fixed sleeps, fixed tries and wall-clock dates out of tests/.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# far beyond any delay a loaded machine gives, far below pytest-timeout's per-test limit (pyproject.toml)
PATIENCE = float(os.environ.get("BACKORDER_TEST_PATIENCE_SECONDS", "60"))
_FIRST_PAUSE, _LONGEST_PAUSE = 0.005, 0.1  # quick looks first, then no busier than ten a second


def _holds(until: Callable[[T], object] | None, value: T) -> bool:
    return bool(until(value) if until is not None else value)


async def eventually(probe: Callable[[], Awaitable[T] | T], until: Callable[[T], object] | None = None, *,
                     what: str, within: float = PATIENCE,
                     ignoring: tuple[type[BaseException], ...] = ()) -> T:
    """`probe()` (a function or a coroutine function) again and again until `until(value)` holds (the value's
    truth when no `until` is given); returns that value. Exceptions of the `ignoring` types count as "not yet"
    (a server still starting). Fails with `what` and the last value seen once `within` seconds have passed."""
    deadline = time.monotonic() + within
    pause = _FIRST_PAUSE
    last: object = "(never looked)"
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
            if _holds(until, value):  # type: ignore[arg-type]
                return value  # type: ignore[return-value]
            last = value
        except ignoring as error:
            last = error
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {within:g} s; last seen: {last!r}")
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)


def eventually_sync(probe: Callable[[], T], until: Callable[[T], object] | None = None, *, what: str,
                    within: float = PATIENCE, ignoring: tuple[type[BaseException], ...] = ()) -> T:
    """`eventually` for code without an event loop (a fixture starting a subprocess, a thread)."""
    deadline = time.monotonic() + within
    pause = _FIRST_PAUSE
    last: object = "(never looked)"
    while True:
        try:
            value = probe()
            if _holds(until, value):
                return value
            last = value
        except ignoring as error:
            last = error
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {within:g} s; last seen: {last!r}")
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)
