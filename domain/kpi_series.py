"""KPIs over time: the backorder book's figures per day, week or month, derived from its history. Pure.

The store hands in two sets, each read with one statement: order lines grouped per day of placement, and one
row per backorder with when it was made, first served (fully allocated, or shipped) and ended without being
served (cancelled or substituted). Every bucket is computed from those, so a range costs the same two queries
whatever its length. Days are UTC; a bucket's figures about "now" (ageing) are as of the end of its last day.

- backorder rate: share of order lines (substitutes' lines left out) that were backordered at placement;
- fill rate at placement: share of ordered units allocated at once; fill rate within N days: share of ordered
  units allocated at once or whose backorder was fully served within N days (a backorder partly allocated by
  then counts as not filled; one placed fewer than N days ago counts only if already served);
- backorders opened / served / cancelled in the bucket;
- ageing: backorders still waiting to be served at the end of the bucket, by age in days (0-7, 8-14, 15-30, >30);
- time to fulfil: days from backorder to served, p50 and p90 (nearest rank) over those served in the bucket;
- ETA accuracy, over those served in the bucket that had a promised date: error = day served - day promised
  (positive: late), p50 and p90, and the share whose promise was missed (served after the promised day).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum

from domain.delays import quantile
from domain.errors import InvalidInput
from domain.limits import check_period

MAX_BUCKETS = 400
MAX_FILL_WITHIN_DAYS = 365
# the last day a range may end on: every interval's bucket (a month at most) and the day after it, which the
# queries read up to, must still be a date (9999-12-31 + 1 day is not)
LAST_DAY = date(9999, 11, 30)
AGE_RANGES: tuple[tuple[int, int | None], ...] = ((0, 7), (8, 14), (15, 30), (31, None))


class Interval(str, Enum):
    DAY = "DAY"
    WEEK = "WEEK"  # ISO weeks, Monday to Sunday
    MONTH = "MONTH"


@dataclass(frozen=True)
class DailyLines:
    """Order lines placed on `day`: how many, how many backordered, their units, and units backordered."""

    day: date
    lines: int
    backordered_lines: int
    units: int
    backordered_units: int


@dataclass(frozen=True)
class BackorderSpan:
    created_at: datetime
    units: int  # backordered at placement
    promised_date: date | None
    served_at: datetime | None = None  # first fully allocated (or shipped)
    ended_at: datetime | None = None  # cancelled or substituted without being served first
    cancelled: bool = False  # ended by a cancellation (not a substitution)

    @property
    def closed_at(self) -> datetime | None:
        return self.served_at or self.ended_at


@dataclass(frozen=True)
class AgeCount:
    min_days: int
    max_days: int | None
    backorders: int


@dataclass
class KpiBucket:
    start: date
    end: date  # inclusive
    order_lines: int = 0
    backordered_lines: int = 0
    units_ordered: int = 0
    units_backordered: int = 0
    units_filled_within: int = 0
    opened: int = 0
    served: int = 0
    cancelled: int = 0
    ages: list[int] = field(default_factory=lambda: [0] * len(AGE_RANGES))
    fulfil_hours: list[int] = field(default_factory=list)
    eta_errors: list[int] = field(default_factory=list)

    @property
    def backorder_rate(self) -> float | None:
        return _share(self.backordered_lines, self.order_lines)

    @property
    def fill_rate_at_placement(self) -> float | None:
        return _share(self.units_ordered - self.units_backordered, self.units_ordered)

    @property
    def fill_rate_within(self) -> float | None:
        return _share(self.units_filled_within, self.units_ordered)

    @property
    def ageing(self) -> list[AgeCount]:
        return [AgeCount(low, high, n) for (low, high), n in zip(AGE_RANGES, self.ages, strict=True)]

    def _fulfil_days(self, q: float) -> float | None:
        if not self.fulfil_hours:
            return None
        return round(quantile(sorted(self.fulfil_hours), q) / 24, 2)

    @property
    def time_to_fulfil_p50_days(self) -> float | None:
        return self._fulfil_days(0.5)

    @property
    def time_to_fulfil_p90_days(self) -> float | None:
        return self._fulfil_days(0.9)

    @property
    def eta_error_p50_days(self) -> int | None:
        return quantile(sorted(self.eta_errors), 0.5) if self.eta_errors else None

    @property
    def eta_error_p90_days(self) -> int | None:
        return quantile(sorted(self.eta_errors), 0.9) if self.eta_errors else None

    @property
    def eta_missed_share(self) -> float | None:
        return _share(sum(1 for e in self.eta_errors if e > 0), len(self.eta_errors))


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _next_start(day: date, interval: Interval) -> date:
    if interval is Interval.DAY:
        return day + timedelta(days=1)
    if interval is Interval.WEEK:
        return day + timedelta(days=7 - day.weekday())
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def buckets(first: date, last: date, interval: Interval) -> list[KpiBucket]:
    """The buckets covering `first`..`last`, the first and last clipped to the range."""
    check_period(first, last, "to")
    if last > LAST_DAY:
        raise InvalidInput(f"`to` is at most {LAST_DAY.isoformat()}", field="to")
    out = []
    start = first
    while start <= last:
        nxt = _next_start(start, interval)
        out.append(KpiBucket(start, min(nxt - timedelta(days=1), last)))
        if len(out) > MAX_BUCKETS:
            raise InvalidInput(f"at most {MAX_BUCKETS} buckets: a longer interval or a shorter range", field="to")
        start = nxt
    return out


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def _hours(delta: timedelta) -> int:
    return max(0, round(delta.total_seconds() / 3600))


class _Index:
    """Which bucket a day falls in: one lookup per day of the range."""

    def __init__(self, series: list[KpiBucket]) -> None:
        self.series = series
        self.ends = [_end_of(b.end) for b in series]
        self.by_day: dict[date, KpiBucket] = {}
        for b in series:
            for n in range((b.end - b.start).days + 1):
                self.by_day[b.start + timedelta(days=n)] = b

    def at(self, moment: datetime | date | None) -> KpiBucket | None:
        if moment is None:
            return None
        day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
        return self.by_day.get(day)

    def from_(self, moment: datetime) -> Iterator[KpiBucket]:
        """The buckets whose end comes after `moment`."""
        yield from self.series[bisect.bisect_right(self.ends, moment):]


def kpi_series(first: date, last: date, interval: Interval, lines: Sequence[DailyLines],
               backorders: Sequence[BackorderSpan], *, fill_within_days: int = 7) -> list[KpiBucket]:
    if isinstance(fill_within_days, bool) or not 0 <= fill_within_days <= MAX_FILL_WITHIN_DAYS:
        raise InvalidInput(f"the days to fill within are 0 to {MAX_FILL_WITHIN_DAYS}", field="fill_within_days")
    series = buckets(first, last, interval)
    index = _Index(series)
    for day in lines:
        found = index.at(day.day)
        if found is not None:
            found.order_lines += day.lines
            found.backordered_lines += day.backordered_lines
            found.units_ordered += day.units
            found.units_backordered += day.backordered_units
            found.units_filled_within += day.units - day.backordered_units
    within = timedelta(days=fill_within_days)
    for b in backorders:
        opened = index.at(b.created_at)
        if opened is not None:
            opened.opened += 1
            if b.served_at is not None and b.served_at - b.created_at <= within:
                opened.units_filled_within += b.units
        served = index.at(b.served_at)
        if served is not None and b.served_at is not None:
            served.served += 1
            served.fulfil_hours.append(_hours(b.served_at - b.created_at))
            if b.promised_date is not None:
                served.eta_errors.append((b.served_at.astimezone(UTC).date() - b.promised_date).days)
        if b.cancelled and b.served_at is None:
            ended = index.at(b.ended_at)
            if ended is not None:
                ended.cancelled += 1
        closed_at = b.closed_at
        for bucket in index.from_(b.created_at):
            if closed_at is not None and closed_at < _end_of(bucket.end):
                break
            age = (bucket.end - b.created_at.astimezone(UTC).date()).days
            bucket.ages[_age_range(age)] += 1
    return series


def _age_range(age: int) -> int:
    for i, (_, high) in enumerate(AGE_RANGES):
        if high is None or age <= high:
            return i
    return len(AGE_RANGES) - 1
