"""Rate limits on what an anonymous caller may try (order-number sign-ins): at most `limit` attempts per key in
a sliding window. With Redis configured the count is one for all processes (a sorted set per key, checked and
taken in one Lua script, so two processes cannot both take the last attempt); without it, per process.

Two `serve` processes with per-process counts allowed 20 order-number guesses in 15 minutes, not 10.
"""

from __future__ import annotations

import logging
import secrets
import time as systime
from collections import defaultdict, deque
from typing import Protocol

log = logging.getLogger("backorder")


class RateLimiter(Protocol):
    async def allow(self, key: str) -> bool: ...


class InProcessRateLimiter:
    """At most `limit` attempts per key in a sliding window, counted in this process."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit, self.window = limit, window_seconds
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    async def allow(self, key: str) -> bool:
        return self.allow_now(key)

    def allow_now(self, key: str) -> bool:
        now = systime.monotonic()
        hits = self._hits[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True


_SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
return 1
"""


class RedisRateLimiter:
    """The same limit, counted in Redis for every process of the deployment. If Redis cannot be reached the
    attempt is counted in this process instead (still limited, never unlimited), and that is logged."""

    def __init__(self, url: str, name: str, limit: int, window_seconds: float) -> None:
        import redis.asyncio as aioredis

        self.limit, self.window, self.name = limit, window_seconds, name
        self._redis = aioredis.from_url(url)
        self._script = self._redis.register_script(_SLIDING_WINDOW)
        self._fallback = InProcessRateLimiter(limit, window_seconds)

    async def allow(self, key: str) -> bool:
        from redis.exceptions import RedisError

        try:
            allowed = await self._script(keys=[f"{self.name}:{key}"],
                                         args=[systime.time(), self.window, self.limit, secrets.token_hex(8)])
        except (RedisError, OSError) as error:
            log.warning("rate limit %s counted in this process only: Redis unreachable (%s)", self.name, error)
            return self._fallback.allow_now(key)
        return bool(allowed)

    async def close(self) -> None:
        await self._redis.aclose()


def order_sign_in_limit(redis_url: str | None, namespace: str = "backorder") -> RateLimiter:
    """10 order-number sign-in attempts per client address per 15 minutes."""
    if redis_url:
        return RedisRateLimiter(redis_url, f"{namespace}:rate:order-sign-in", 10, 15 * 60)
    return InProcessRateLimiter(10, 15 * 60)
