"""The collector's hold during long transactions (domain.store.collector) is bounded: it comes back on MAX_HOLD
after it went off, whatever still holds it (a hung receipt, or receipts that overlap one another for ever), and a
new hold does not take it off again until every hold of that stretch has ended. Ends as it began otherwise."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from domain.store import collector
from tests.waiting import eventually


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    assert collector.held() == 0
    yield
    assert collector.held() == 0, "a test left a hold"
    (gc.enable if was else gc.disable)()


def test_the_collector_is_off_while_held_and_back_on_after_the_last_release() -> None:
    collector.hold()
    collector.hold()  # overlapping receipts
    assert not gc.isenabled()
    collector.release()
    assert not gc.isenabled(), "back on while a receipt still holds it"
    collector.release()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    collector.hold()
    collector.release()
    assert not gc.isenabled()


async def test_a_hold_that_outlasts_the_bound_lets_the_collector_back_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector, "MAX_HOLD", 0.05)
    collector.hold()
    try:
        await eventually(gc.isenabled, what="the collector back on once the hold outlasted MAX_HOLD")
        # another receipt begins while the first still holds: the stretch is over, the collector stays on
        collector.hold()
        assert gc.isenabled()
        collector.release()
        assert gc.isenabled()
    finally:
        collector.release()
    assert gc.isenabled()
    # a new stretch, once every hold ended: off again, and bounded again
    collector.hold()
    try:
        assert not gc.isenabled()
        await eventually(gc.isenabled, what="the second stretch bounded too")
    finally:
        collector.release()


def test_only_the_current_stretchs_bound_ends_it() -> None:
    collector.hold()
    try:
        collector._expire()  # as a timer of a stretch that ended would, firing late: not this stretch's
        assert not gc.isenabled()
    finally:
        collector.release()
