"""The one clock of the service: injectable so tests can move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta


class Clock:
    """Wall-clock time in UTC. Tests use `FixedClock` and move it."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().date()


class FixedClock(Clock):
    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)


NowFunction = Callable[[], datetime]
