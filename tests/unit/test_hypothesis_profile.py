"""Property tests are judged by what they find, not by how long an example took on a loaded machine: the
profile tests/conftest.py loads gives every one of them no deadline (CI runs on 2 busy cores)."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_the_loaded_profile_has_no_deadline_and_tolerates_slow_generation():
    assert settings.default.deadline is None
    assert HealthCheck.too_slow in settings.default.suppress_health_check


@settings(max_examples=2)  # what a test names is its own; the deadline still comes from the profile
@given(st.integers())
def test_an_example_slower_than_hypothesis_default_deadline_passes(number):
    time.sleep(0.25)  # sleep-ok: a slow example; hypothesis's default deadline is 200 ms
