"""KPIs over time against a small hand-built history: two weeks of order lines and five backorders, each
figure worked out by hand in the comments; and properties that hold for any history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.kpi_series import AGE_RANGES, BackorderSpan, DailyLines, Interval, buckets, kpi_series


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


LINES = [DailyLines(date(2026, 3, 2), 4, 1, 10, 3), DailyLines(date(2026, 3, 9), 2, 2, 4, 4)]
A = BackorderSpan(at(3, 2, 10), 3, date(2026, 3, 6), served_at=at(3, 5, 10))  # 72 h, a day early
B = BackorderSpan(at(3, 9, 12), 1, date(2026, 3, 10), served_at=at(3, 13, 12))  # 96 h, 3 days late
C = BackorderSpan(at(3, 9, 12), 3, date(2026, 3, 12), ended_at=at(3, 11, 8), cancelled=True)
D = BackorderSpan(at(2, 1), 2, date(2026, 2, 20))  # still waiting
E = BackorderSpan(at(2, 25), 1, date(2026, 3, 1), served_at=at(3, 10))  # 312 h, 9 days late
HISTORY = [A, B, C, D, E]


def figures(bucket):
    return {
        "start": bucket.start, "end": bucket.end, "backorder_rate": bucket.backorder_rate,
        "fill_at_placement": bucket.fill_rate_at_placement, "fill_within": bucket.fill_rate_within,
        "opened": bucket.opened, "served": bucket.served, "cancelled": bucket.cancelled, "ages": bucket.ages,
        "fulfil": (bucket.time_to_fulfil_p50_days, bucket.time_to_fulfil_p90_days),
        "eta": (bucket.eta_error_p50_days, bucket.eta_error_p90_days, bucket.eta_missed_share)}


def test_two_weeks_by_week():
    first, second = kpi_series(date(2026, 3, 2), date(2026, 3, 15), Interval.WEEK, LINES, HISTORY)

    # week 1: 1 line of 4 backordered; 7 of 10 units at once, A's 3 within 3 days; A opened and served; at
    # Sunday's end D is 35 days old, E 11 (A was served)
    assert figures(first) == {
        "start": date(2026, 3, 2), "end": date(2026, 3, 8), "backorder_rate": 0.25, "fill_at_placement": 0.7,
        "fill_within": 1.0, "opened": 1, "served": 1, "cancelled": 0, "ages": [0, 1, 0, 1],
        "fulfil": (3.0, 3.0), "eta": (-1, -1, 0.0)}
    # week 2: both lines backordered; of 4 units only B's 1 within 7 days; B and C opened, B and E served, C
    # cancelled; only D waits at the end (42 days); fulfil 96 h and 312 h; ETA errors +3 and +9, both missed
    assert figures(second) == {
        "start": date(2026, 3, 9), "end": date(2026, 3, 15), "backorder_rate": 1.0, "fill_at_placement": 0.0,
        "fill_within": 0.25, "opened": 2, "served": 2, "cancelled": 1, "ages": [0, 0, 0, 1],
        "fulfil": (4.0, 13.0), "eta": (3, 9, 1.0)}


def test_days_and_the_age_of_what_waits_at_each_days_end():
    series = {b.start: b for b in kpi_series(date(2026, 3, 2), date(2026, 3, 11), Interval.DAY, LINES, HISTORY)}

    assert len(series) == 10
    assert series[date(2026, 3, 2)].ages == [2, 0, 1, 0]  # A 0 days, E 5, D 29
    assert series[date(2026, 3, 9)].opened == 2 and series[date(2026, 3, 10)].served == 1
    assert series[date(2026, 3, 11)].cancelled == 1
    quiet = series[date(2026, 3, 3)]
    assert (quiet.backorder_rate, quiet.fill_rate_at_placement, quiet.time_to_fulfil_p50_days,
            quiet.eta_missed_share) == (None, None, None, None)


def test_months_are_clipped_to_the_range():
    feb, mar = kpi_series(date(2026, 2, 20), date(2026, 3, 15), Interval.MONTH, LINES, HISTORY)

    assert (feb.start, feb.end, mar.start, mar.end) == (date(2026, 2, 20), date(2026, 2, 28), date(2026, 3, 1),
                                                      date(2026, 3, 15))
    assert feb.opened == 1 and feb.ages == [1, 0, 1, 0]  # E 3 days, D 27
    assert mar.opened == 3 and mar.served == 3 and mar.cancelled == 1


def test_fill_within_zero_days_is_fill_at_placement_unless_served_the_same_instant():
    [week] = kpi_series(date(2026, 3, 2), date(2026, 3, 8), Interval.WEEK, LINES, HISTORY, fill_within_days=0)
    assert week.fill_rate_within == week.fill_rate_at_placement == 0.7


@pytest.mark.parametrize(("first", "last", "interval", "within", "field"), [
    (date(2026, 3, 2), date(2026, 3, 1), Interval.DAY, 7, "to"),
    (date(2020, 1, 1), date(2026, 3, 1), Interval.DAY, 7, "to"),
    (date(2026, 3, 2), date(2026, 3, 3), Interval.DAY, -1, "fill_within_days"),
    (date(2026, 3, 2), date(2026, 3, 3), Interval.DAY, 400, "fill_within_days"),
    (date(9999, 12, 31), date(9999, 12, 31), Interval.DAY, 7, "to"),  # its next day is past the calendar
    (date(9999, 12, 1), date(9999, 12, 31), Interval.MONTH, 7, "to"),
])
def test_a_range_out_of_bounds_is_refused_naming_its_field(first, last, interval, within, field):
    with pytest.raises(InvalidInput) as refused:
        kpi_series(first, last, interval, [], [], fill_within_days=within)
    assert refused.value.field == field


START = datetime(2026, 1, 1, tzinfo=UTC)
moments = st.integers(0, 90 * 24).map(lambda h: START + timedelta(hours=h))


@st.composite
def spans(draw):
    created = draw(moments)
    served = draw(st.one_of(st.none(), st.integers(0, 40 * 24).map(lambda h: created + timedelta(hours=h))))
    ended = None if served else draw(st.one_of(st.none(), st.integers(0, 40 * 24).map(
        lambda h: created + timedelta(hours=h))))
    promised = draw(st.one_of(st.none(), st.integers(-5, 30).map(lambda d: created.date() + timedelta(days=d))))
    return BackorderSpan(created, draw(st.integers(1, 5)), promised, served, ended, cancelled=ended is not None)


@given(st.lists(spans(), max_size=30), st.sampled_from(list(Interval)), st.integers(0, 60), st.integers(0, 60))
def test_every_bucket_counts_what_a_direct_reading_of_the_history_says(history, interval, a, b):
    first, last = sorted((START.date() + timedelta(days=a), START.date() + timedelta(days=b)))
    series = kpi_series(first, last, interval, [], history)

    assert series[0].start == first and series[-1].end == last
    assert all(x.end + timedelta(days=1) == y.start for x, y in zip(series, series[1:], strict=False))
    for bucket in series:
        end = datetime.combine(bucket.end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        waiting = [s for s in history if s.created_at < end and (s.closed_at is None or s.closed_at >= end)]
        expected = [0] * len(AGE_RANGES)
        for s in waiting:
            age = (bucket.end - s.created_at.date()).days
            expected[next(i for i, (low, high) in enumerate(AGE_RANGES) if high is None or low <= age <= high)] += 1
        assert bucket.ages == expected
        inside = [s for s in history if bucket.start <= s.created_at.date() <= bucket.end]
        assert bucket.opened == len(inside)
        served = [s for s in history if s.served_at and bucket.start <= s.served_at.date() <= bucket.end]
        assert bucket.served == len(served)
        assert bucket.eta_missed_share is None or 0 <= bucket.eta_missed_share <= 1


@given(st.lists(st.tuples(spans(), st.integers(0, 5)), max_size=20), st.integers(0, 30))
def test_fill_rates_are_shares_and_waiting_longer_never_fills_less(placed, within):
    # each backorder's line, with `extra` units of another line of the same day allocated at once
    lines = [DailyLines(s.created_at.date(), 2, 1, s.units + extra, s.units) for s, extra in placed]
    history = [s for s, _ in placed]
    first, last = START.date(), START.date() + timedelta(days=90)
    now = kpi_series(first, last, Interval.WEEK, lines, history, fill_within_days=within)
    later = kpi_series(first, last, Interval.WEEK, lines, history, fill_within_days=within + 1)
    for bucket, waited in zip(now, later, strict=True):
        if bucket.units_ordered:
            assert 0 <= bucket.fill_rate_at_placement <= bucket.fill_rate_within <= waited.fill_rate_within <= 1


def test_buckets_never_exceed_the_limit():
    assert len(buckets(date(2026, 1, 1), date(2026, 12, 31), Interval.WEEK)) == 53



# Any range of the calendar, its ends included: the buckets cover it day by day, or the range is refused as bad
# input; never another error ("date value out of range" reached the API as an unexpected error at 9999-12-31).
calendar_days = st.one_of(st.dates(), st.dates(min_value=date(9999, 10, 1)), st.dates(max_value=date(1, 3, 1)))


@given(calendar_days, calendar_days, st.sampled_from(list(Interval)))
def test_any_range_of_the_calendar_is_bucketed_or_refused_as_bad_input(a, b, interval):
    try:
        series = buckets(a, b, interval)
    except InvalidInput as refused:
        assert refused.field == "to"
        return
    assert series[0].start == a and series[-1].end == b
    assert all(x.end + timedelta(days=1) == y.start for x, y in zip(series, series[1:], strict=False))
    assert b + timedelta(days=1) > b  # the day after the range, which the statements read up to, exists
