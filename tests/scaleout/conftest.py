"""The scale-out profile's real parts: Redis (BACKORDER_TEST_REDIS_URL) and PostgreSQL.

CI (`.ci/run`) sets both; without them these tests are skipped with the reason, never faked.
"""

from __future__ import annotations

import os

import pytest

REDIS_URL = os.environ.get("BACKORDER_TEST_REDIS_URL", "")

needs_redis = pytest.mark.skipif(not REDIS_URL, reason="set BACKORDER_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
