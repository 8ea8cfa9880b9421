"""tests/waiting.py: a condition is looked at until it holds, and a test that waits in vain fails saying what
never happened and what was last seen, once the deadline has passed, never sooner."""

from __future__ import annotations

import time

import pytest

from tests.waiting import eventually, eventually_sync


async def test_the_value_that_holds_is_returned_at_the_first_look_that_sees_it():
    looks = iter([0, 1, 2, 3])
    assert await eventually(lambda: next(looks), lambda n: n >= 2, what="two") == 2


async def test_a_coroutine_probe_is_awaited_and_its_truth_is_the_default_condition():
    seen: list[int] = []

    async def probe() -> list[int]:
        seen.append(1)
        return seen if len(seen) == 3 else []

    assert await eventually(probe, what="three looks") == [1, 1, 1]


async def test_waiting_in_vain_fails_after_the_deadline_naming_what_and_the_last_value():
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"the flag is set: not within 0.2 s; last seen: False"):
        await eventually(lambda: False, what="the flag is set", within=0.2)
    assert time.monotonic() - started >= 0.2


def test_the_exceptions_it_is_told_to_ignore_count_as_not_yet_and_others_fail_at_once():
    tries = iter([ConnectionError("starting"), ConnectionError("starting"), "up"])

    def probe() -> str:
        answer = next(tries)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert eventually_sync(probe, what="up", ignoring=(ConnectionError,)) == "up"
    with pytest.raises(KeyError):
        eventually_sync(lambda: {}["missing"], what="never")
