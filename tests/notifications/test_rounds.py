"""The outboxes' loop: busy rounds repeat at once, a failed round is logged and does not end the loop, a wake
cuts the sleep short, and stop ends it."""

import asyncio
import logging

from notifications.rounds import run_rounds


async def test_a_failed_round_is_logged_and_the_loop_goes_on_until_stopped(caplog):
    calls: list[str] = []
    wake, stop, failed = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def round_() -> int:
        calls.append("round")
        if len(calls) == 1:
            return 3  # busy: the next round follows at once, without waiting for the poll interval
        if len(calls) == 2:
            failed.set()
            raise RuntimeError("database hiccup")
        stop.set()
        return 0

    loop = asyncio.create_task(run_rounds(round_, wake=wake, stop=stop, poll_seconds=60,
                                          log=logging.getLogger("test.rounds"), what="test"))
    await asyncio.wait_for(failed.wait(), 5)
    wake.set()  # the loop sleeps up to 60 s after the failed round; a wake ends that at once
    await asyncio.wait_for(loop, 5)
    assert calls == ["round"] * 3
    assert "test round failed" in caplog.text
