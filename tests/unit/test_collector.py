"""The cyclic collector held off during long transactions (domain.store.collector) is held off for HOLD_SECONDS at
the most: holds that overlap one another without end (or one that never ends) would otherwise leave every other
request's cyclic garbage uncollected for as long as they last."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from domain.store import collector
from tests.waiting import eventually_sync


@pytest.fixture
def collecting() -> Iterator[None]:
    """The collector on, as in a server; whatever the test holds is released, and the collector left on."""
    was = gc.isenabled()
    gc.enable()
    assert collector.held() == 0
    yield
    while collector.held():
        collector.release()
    if was:
        gc.enable()
    else:
        gc.disable()


def test_overlapping_holds_keep_the_collector_off_no_longer_than_the_ceiling(
        collecting: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector, "HOLD_SECONDS", 0.05)
    # given a long transaction holding the collector off, and another that begins before it ends, and so on
    collector.hold()
    assert not gc.isenabled()
    collector.hold()
    collector.release()
    collector.hold()
    # then the collector resumes though holds remain
    eventually_sync(gc.isenabled, what="the collector on again once HOLD_SECONDS passed")
    assert collector.held() == 2
    # and stays on until the last hold ends; a later hold holds it off again
    collector.release()
    assert gc.isenabled()
    collector.release()
    assert gc.isenabled()
    monkeypatch.setattr(collector, "HOLD_SECONDS", 3600.0)
    collector.hold()
    assert not gc.isenabled()


def test_the_ceiling_of_an_earlier_run_of_holds_does_not_end_a_later_one(collecting: None) -> None:
    # given a run of holds that ended, its ceiling not yet reached, and a later one
    collector.hold()
    earlier = collector._episode
    collector.release()
    collector.hold()
    # when the earlier run's ceiling comes: the later run keeps the collector off
    collector.overrun(earlier)
    assert not gc.isenabled()
    # and its own ceiling resumes it
    collector.overrun(collector._episode)
    assert gc.isenabled()


def test_the_ceiling_leaves_a_collector_that_was_off_before_the_holds_off(collecting: None) -> None:
    gc.disable()
    collector.hold()
    collector.overrun(collector._episode)
    assert not gc.isenabled()
    collector.release()
    assert not gc.isenabled()
